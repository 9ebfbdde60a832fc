"""People who sign in to the pages: added by an admin, signed in by a one-time emailed link,
kept signed in by a server-side session that ends on sign-out, on disable and after 30 minutes
idle (docs/pages.md)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placements import audit, notifications
from placements.auth import ROLES, Actor
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, NotFound
from placements.ids import new_hex, new_id
from placements.models import (
    LocalAuthority,
    Notification,
    Panel,
    Person,
    Provider,
    ServiceSecret,
    SignInAttempt,
    SignInLink,
    WebSession,
)

LINK_LIFETIME = timedelta(minutes=15)
IDLE_LIMIT = timedelta(minutes=30)
# A session's last_seen_at is written at most this often (each page read would otherwise write).
SEEN_EVERY = timedelta(minutes=1)
# Sign-in links asked for, known address or not, within RATE_WINDOW.
RATE_WINDOW = timedelta(minutes=15)
PER_ADDRESS = 5
PER_CLIENT = 20
SCOPE_OF_ROLE = {"admin": None, "director": "authority_id", "provider": "provider_id",
                 "panel": "panel_id"}  # fmt: skip
EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class PersonSpec:
    """Who to add: an email address, a role, the role's scope and an optional display name."""

    email: str
    role: str
    authority_id: str | None = None
    provider_id: str | None = None
    panel_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class PersonView:
    """A person as the pages and the command line show them."""

    id: str
    email: str
    name: str | None
    role: str
    scope: str | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def display_name(self) -> str:
        """The name, or the email address when no name was given."""
        return self.name or self.email


@dataclass(frozen=True)
class SignedIn:
    """The person behind a live session, and the actor the use cases see."""

    person: PersonView
    actor: Actor


@dataclass(frozen=True)
class LinkRequest:
    """What happened to a request for a sign-in link (the page says the same either way)."""

    limited: bool
    # Only for tests and the command line; never shown to whoever asked.
    sent_to_known_person: bool


def normal_email(text: str) -> str:
    """An email address as kept: trimmed and lower case."""
    return text.strip().lower()


def hash_secret(text: str) -> str:
    """The SHA-256 of a link or session key, which is all the database keeps."""
    return hashlib.sha256(text.encode()).hexdigest()


def _view(row: Person) -> PersonView:
    scope_key = SCOPE_OF_ROLE[row.role]
    scope = getattr(row, scope_key) if scope_key else None
    return PersonView(row.id, row.email, row.name, row.role, scope, row.created_at, row.disabled_at)


def actor_of(person: Person | PersonView, role: str | None = None) -> Actor:
    """The actor a signed-in person acts as (the label is their email address: panel members are
    found by it, and the audit log names them)."""
    if isinstance(person, PersonView):
        key = SCOPE_OF_ROLE[person.role]
        return Actor(
            person.email,
            person.role,
            authority_id=person.scope if key == "authority_id" else None,
            provider_id=person.scope if key == "provider_id" else None,
            panel_id=person.scope if key == "panel_id" else None,
        )
    return Actor(person.email, person.role, person.authority_id, person.provider_id,
                 person.panel_id)  # fmt: skip


def _check(session: Session, spec: PersonSpec) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    email = normal_email(spec.email)
    if not EMAIL.match(email) or len(email) > 254:
        errors["email"] = ["must be an email address such as name@example.org"]
    if spec.role not in ROLES:
        errors["role"] = [f"must be one of {', '.join(ROLES)}"]
    if spec.name is not None and not 1 <= len(spec.name.strip()) <= 200:
        errors["name"] = ["must be 1 to 200 characters"]
    wanted = SCOPE_OF_ROLE.get(spec.role)
    for key in ("authority_id", "provider_id", "panel_id"):
        value = getattr(spec, key)
        if spec.role in ROLES and key == wanted and not value:
            errors[key] = [f"required for role {spec.role}"]
        elif key != wanted and value:
            errors[key] = [f"not allowed for role {spec.role}"]
    if errors:
        raise InvalidInput("the person cannot be added as given", errors=errors)
    kinds = {"authority_id": (LocalAuthority, "local authority"),
             "provider_id": (Provider, "provider"), "panel_id": (Panel, "panel")}  # fmt: skip
    if wanted is not None:
        model, what = kinds[wanted]
        if session.get(model, getattr(spec, wanted)) is None:
            raise InvalidInput(
                f"{what} {getattr(spec, wanted)!r} does not exist",
                errors={wanted: [f"no {what} has this id"]},
            )
    return {"email": email, "role": spec.role, "name": spec.name.strip() if spec.name else None,
            "authority_id": spec.authority_id, "provider_id": spec.provider_id,
            "panel_id": spec.panel_id}  # fmt: skip


def add(sessions: Sessions, actor: Actor, spec: PersonSpec, *, now: datetime) -> PersonView:
    """Add a person (admin only); an address already added is a conflict."""
    actor.require("admin")
    with sessions.begin() as session:
        fields = _check(session, spec)
        if session.scalars(select(Person).where(Person.email == fields["email"])).first():
            raise Conflict(f"{fields['email']} has already been added",
                           errors={"email": ["already added"]})  # fmt: skip
        row = Person(id=new_id("person"), created_at=now, **fields)
        session.add(row)
        session.flush()
        audit.record(session, actor, "person.add", "person", row.id, at=now,
                     after={k: v for k, v in fields.items() if v is not None})  # fmt: skip
        return _view(row)


def ensure(sessions: Sessions, actor: Actor, spec: PersonSpec, *, now: datetime) -> PersonView:
    """Add a person unless the address is already there (the demo people of `make run`)."""
    with sessions.read() as session:
        row = session.scalars(
            select(Person).where(Person.email == normal_email(spec.email))
        ).first()
        if row is not None:
            return _view(row)
    return add(sessions, actor, spec, now=now)


def list_people(sessions: Sessions, actor: Actor) -> list[PersonView]:
    """Everyone who may sign in, or could (admin only), by email address."""
    actor.require("admin")
    with sessions.read() as session:
        return [_view(row) for row in session.scalars(select(Person).order_by(Person.email))]


def disable(sessions: Sessions, actor: Actor, email: str, *, now: datetime) -> bool:
    """Stop a person signing in and end their sessions at once; False if already disabled."""
    actor.require("admin")
    with sessions.begin() as session:
        row = _person(session, email)
        if row.disabled_at is not None:
            return False
        row.disabled_at = now
        session.execute(
            update(WebSession)
            .where(WebSession.person_id == row.id, WebSession.ended_at.is_(None))
            .values(ended_at=now)
        )
        session.execute(
            update(SignInLink)
            .where(SignInLink.person_id == row.id, SignInLink.used_at.is_(None))
            .values(used_at=now)
        )
        audit.record(session, actor, "person.disable", "person", row.id, at=now)
        return True


def _person(session: Session, email: str) -> Person:
    row = session.scalars(select(Person).where(Person.email == normal_email(email))).first()
    if row is None:
        raise NotFound(f"no person has the address {normal_email(email)!r}")
    return row


def issue_link(sessions: Sessions, actor: Actor, email: str, *, now: datetime) -> str:
    """A fresh one-time sign-in key for a person (admin only: the command line prints it)."""
    actor.require("admin")
    with sessions.begin() as session:
        row = _person(session, email)
        if row.disabled_at is not None:
            raise Conflict(f"{row.email} is disabled")
        key = _new_link(session, row, now)
        audit.record(session, actor, "person.link", "person", row.id, at=now)
        return key


def _new_link(session: Session, person: Person, now: datetime) -> str:
    key = secrets.token_urlsafe(32)
    session.add(SignInLink(token_hash=hash_secret(key), person_id=person.id, created_at=now,
                           expires_at=now + LINK_LIFETIME))  # fmt: skip
    return key


def request_link(sessions: Sessions, settings: Settings, email: str, client: str, *,
                 link_base: str, now: datetime) -> LinkRequest:  # fmt: skip
    """Email a sign-in link to a known, enabled address through the outbox and send it at once;
    an unknown address gets nothing. Both count against the limits per address and per client
    (`limited`: nothing sent)."""
    address = normal_email(email)
    with sessions.begin() as session:
        since = now - RATE_WINDOW
        by_address = session.scalar(
            select(func.count()).where(
                SignInAttempt.email_hash == hash_secret(address), SignInAttempt.at > since
            )
        )
        by_client = session.scalar(
            select(func.count()).where(
                SignInAttempt.client == client[:64], SignInAttempt.at > since
            )
        )
        if (by_address or 0) >= PER_ADDRESS or (by_client or 0) >= PER_CLIENT:
            return LinkRequest(limited=True, sent_to_known_person=False)
        session.add(SignInAttempt(email_hash=hash_secret(address), client=client[:64], at=now))
        session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - 2 * RATE_WINDOW))
        person = session.scalars(select(Person).where(Person.email == address)).first()
        if person is None or person.disabled_at is not None:
            return LinkRequest(limited=False, sent_to_known_person=False)
        key = _new_link(session, person, now)
        notification_id = new_hex(16)
        session.add(Notification(
            id=notification_id, meeting_id=None, sequence=0, event=notifications.SIGN_IN,
            channel="email", member_email=person.email, recipient=person.email,
            content={"subject": "Sign in to Secure accommodation placements",
                     "text": _link_text(person, f"{link_base.rstrip('/')}/sign-in/{key}")},
            status="pending", attempts=0, next_attempt_at=now, created_at=now,
        ))  # fmt: skip
        audit.record(session, actor_of(person), "person.link_requested", "person", person.id,
                     at=now)  # fmt: skip
    notifications.deliver_one(sessions, settings, notification_id, now=now)
    return LinkRequest(limited=False, sent_to_known_person=True)


def _link_text(person: Person, url: str) -> str:
    return (
        f"Hello {person.name or person.email},\n\n"
        "Use this link to sign in to Secure accommodation placements:\n\n"
        f"{url}\n\n"
        "The link works once, for 15 minutes. If you did not ask for it, you can ignore this "
        "email: nobody can sign in without it.\n"
    )


def redeem_link(sessions: Sessions, key: str, *, now: datetime) -> str | None:
    """Spend a sign-in link and open a session for its person: the new session's key, or None
    if the link is unknown, used, expired or its person disabled."""
    with sessions.begin() as session:
        spent = session.execute(
            update(SignInLink)
            .where(
                SignInLink.token_hash == hash_secret(key),
                SignInLink.used_at.is_(None),
                SignInLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(SignInLink.person_id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if spent is None:
            return None
        person = session.get_one(Person, spent)
        if person.disabled_at is not None:
            return None
        session_key = secrets.token_urlsafe(32)
        session.add(WebSession(id=hash_secret(session_key), person_id=person.id, data={},
                               created_at=now, last_seen_at=now))  # fmt: skip
        audit.record(session, actor_of(person), "person.sign_in", "person", person.id, at=now)
        return session_key


def link_is_live(sessions: Sessions, key: str, *, now: datetime) -> bool:
    """Whether a sign-in link can still be used (the confirmation page asks before spending)."""
    with sessions.read_rows() as connection:
        row = connection.execute(
            select(SignInLink.used_at, SignInLink.expires_at).where(
                SignInLink.token_hash == hash_secret(key)
            )
        ).first()
    return row is not None and row.used_at is None and row.expires_at > now


@dataclass(frozen=True)
class BrowserSession:
    """A browser's session as the pages load it: who is signed in (if anyone) and its data."""

    key_hash: str
    signed_in: SignedIn | None
    data: dict[str, Any]


def load_session(sessions: Sessions, key: str, *, now: datetime,
                 active: bool = True) -> BrowserSession | None:  # fmt: skip
    """The live session behind a cookie's key, or None if it is unknown, ended or idle too long;
    an idle or disabled person's session is ended here. `active=False` (a page refreshing itself)
    does not count as the person being active, so an open page still times out."""
    key_hash = hash_secret(key)
    with sessions.read_rows() as connection:
        row = connection.execute(
            select(
                WebSession.person_id, WebSession.data, WebSession.last_seen_at, WebSession.ended_at
            ).where(WebSession.id == key_hash)
        ).first()
        person = (
            connection.execute(select(Person).where(Person.id == row.person_id)).first()
            if row is not None and row.person_id is not None
            else None
        )
    if row is None or row.ended_at is not None:
        return None
    idle = now - row.last_seen_at > IDLE_LIMIT
    disabled = person is not None and person.disabled_at is not None
    if idle or disabled:
        end_session(sessions, key, now=now)
        return None
    if active and now - row.last_seen_at >= SEEN_EVERY:
        with sessions.begin() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.id == key_hash, WebSession.ended_at.is_(None))
                .values(last_seen_at=now)
            )
    signed_in = None
    if person is not None:
        view = PersonView(person.id, person.email, person.name, person.role,
                          _scope(person), person.created_at, person.disabled_at)  # fmt: skip
        signed_in = SignedIn(view, actor_of(view))
    return BrowserSession(key_hash, signed_in, dict(row.data or {}))


def _scope(person: Any) -> str | None:
    key = SCOPE_OF_ROLE[person.role]
    return getattr(person, key) if key else None


def save_session_data(sessions: Sessions, key: str | None, data: dict[str, Any], *,
                      now: datetime) -> str:  # fmt: skip
    """Keep a browser's session data (a signed-out visitor's CSRF token, say): the session's
    key, a new one if `key` names no live session."""
    with sessions.begin() as session:
        if key is not None:
            done = session.execute(
                update(WebSession)
                .where(WebSession.id == hash_secret(key), WebSession.ended_at.is_(None))
                .values(data=data)
                .returning(WebSession.id)
                .execution_options(synchronize_session=False)
            ).scalar_one_or_none()
            if done is not None:
                return key
        fresh = secrets.token_urlsafe(32)
        session.add(WebSession(id=hash_secret(fresh), person_id=None, data=data, created_at=now,
                               last_seen_at=now))  # fmt: skip
        # Visitors' sessions that never signed in are dropped once idle.
        session.execute(
            delete(WebSession).where(
                WebSession.person_id.is_(None), WebSession.last_seen_at < now - IDLE_LIMIT
            )
        )
        return fresh


def end_session(sessions: Sessions, key: str, *, now: datetime) -> None:
    """End a session (signing out, idle, or its person disabled)."""
    with sessions.begin() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.id == hash_secret(key), WebSession.ended_at.is_(None))
            .values(ended_at=now)
        )


def service_secret(sessions: Sessions, name: str, *, now: datetime) -> str:
    """A random secret the service keeps in its database, made once on first use, the same for
    every worker and host (the key that signs CSRF tokens when none is configured)."""
    with sessions.read_rows() as connection:
        found = connection.execute(
            select(ServiceSecret.value).where(ServiceSecret.name == name)
        ).scalar_one_or_none()
    if found is not None:
        return found
    with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(ServiceSecret)
            .values(name=name, value=secrets.token_urlsafe(48), created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value: str = session.scalars(
            select(ServiceSecret.value).where(ServiceSecret.name == name)
        ).one()
        return value
