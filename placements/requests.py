"""Directors' placement requests: create (idempotently), read, update while waiting, withdraw."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placements import audit, statutory, thresholds
from placements.auth import Actor
from placements.db import Sessions
from placements.errors import Forbidden, InvalidInput, InvalidTransition, NotFound
from placements.ids import new_id
from placements.models import (
    IdempotencyKey,
    LocalAuthority,
    Offer,
    Placement,
    PlacementRequest,
)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
OPEN_STATUSES = ("waiting", "offered")


@dataclass(frozen=True)
class Zone:
    """A place the child must be kept away from."""

    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class LegalAuthority:
    """What authorises keeping the child in secure accommodation."""

    kind: str = "none"
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    renewal: bool = False


@dataclass(frozen=True)
class RequestFacts:
    """The facts of a request: no names, only what matching needs."""

    case_reference: str
    age: int
    sex: str
    legal_basis: str
    grounds: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    under_13_approval: str | None = None
    home: tuple[float, float] | None = None
    max_distance_km: float | None = None
    exclusion_zones: tuple[Zone, ...] = ()
    authority: LegalAuthority = field(default_factory=LegalAuthority)
    needed_by: datetime | None = None


@dataclass(frozen=True)
class RequestView:
    """A request with its status and statutory statutory."""

    id: str
    authority_id: str
    case_reference: str
    status: str
    age: int
    sex: str
    legal_basis: str
    grounds: list[str]
    needs: list[str]
    flags: list[str]
    under_13_approval: str | None
    home: dict[str, float]
    max_distance_km: float | None
    exclusion_zones: list[dict[str, float]]
    authority: dict[str, Any]
    needed_by: datetime | None
    declined_by: list[str]
    created_at: datetime
    updated_at: datetime
    hours_without_order_last_28_days: float
    without_order_warning: bool
    order_expires_at: datetime | None
    order_expiring: bool
    next_review_due: datetime | None
    stale: bool
    placement_id: str | None


@dataclass(frozen=True)
class RequestFilter:
    """Which requests to list."""

    status: str | None = None
    stale: bool | None = None


def fact_errors(facts: RequestFacts) -> dict[str, list[str]]:
    """Every business rule the facts break, by field."""
    errors: dict[str, list[str]] = {}
    if facts.legal_basis == "welfare" and not facts.grounds:
        errors["grounds"] = ["a welfare request needs at least one ground"]
    if facts.legal_basis != "welfare" and facts.grounds:
        errors["grounds"] = ["grounds apply to welfare requests only"]
    if facts.age < 13 and not facts.under_13_approval:
        errors["under_13_approval"] = [
            "a child under 13 needs the Secretary of State's (Wales: Welsh Ministers') approval"
        ]
    errors.update(authority_errors(facts.legal_basis, facts.authority))
    return errors


def authority_errors(legal_basis: str, authority: LegalAuthority) -> dict[str, list[str]]:
    """What is wrong with the placement's legal authority, by field."""
    kind, granted, expires = authority.kind, authority.granted_at, authority.expires_at
    if legal_basis == "remand" and kind != "remand":
        return {"authority.kind": ["a remanded child's authority is the remand"]}
    if legal_basis == "welfare" and kind == "remand":
        return {"authority.kind": ["a welfare child cannot be held on a remand"]}
    if kind == "none":
        if granted or expires:
            return {"authority": ["no dates without an order"]}
        return {}
    if granted is None or expires is None:
        return {"authority": [f"an order of kind {kind} needs granted_at and expires_at"]}
    if expires <= granted:
        return {"authority.expires_at": ["must be after granted_at"]}
    limit = statutory.order_limit(kind, granted, renewal=authority.renewal)
    if limit is not None and expires > limit:
        allowed = "28 days" if kind == "remand" else "6 months" if authority.renewal else "3 months"
        return {
            "authority.expires_at": [f"longer than the law allows ({allowed}): {limit:%Y-%m-%d}"]
        }
    return {}


def body_hash(facts: RequestFacts) -> str:
    """A stable hash of a request's facts, to compare idempotent retries."""
    text = json.dumps(asdict(facts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _apply(row: PlacementRequest, facts: RequestFacts, authority: LocalAuthority) -> None:
    home = facts.home or (authority.lat, authority.lon)
    row.case_reference = facts.case_reference
    row.age, row.sex, row.legal_basis = facts.age, facts.sex, facts.legal_basis
    row.grounds = sorted(set(facts.grounds))
    row.needs = sorted(set(facts.needs))
    row.flags = sorted(set(facts.flags))
    row.under_13_approval = facts.under_13_approval
    row.home_lat, row.home_lon = home
    row.max_distance_km = facts.max_distance_km
    row.exclusion_zones = [asdict(z) for z in facts.exclusion_zones]
    row.order_kind = facts.authority.kind
    row.order_renewal = facts.authority.renewal
    row.order_granted_at = facts.authority.granted_at
    row.order_expires_at = facts.authority.expires_at
    row.needed_by = facts.needed_by


def facts_of(row: PlacementRequest) -> RequestFacts:
    """The facts of a stored request."""
    return RequestFacts(
        case_reference=row.case_reference,
        age=row.age,
        sex=row.sex,
        legal_basis=row.legal_basis,
        grounds=tuple(row.grounds),
        needs=tuple(row.needs),
        flags=tuple(row.flags),
        under_13_approval=row.under_13_approval,
        home=(row.home_lat, row.home_lon),
        max_distance_km=row.max_distance_km,
        exclusion_zones=tuple(Zone(**z) for z in row.exclusion_zones),
        authority=LegalAuthority(
            row.order_kind, row.order_granted_at, row.order_expires_at, row.order_renewal
        ),
        needed_by=row.needed_by,
    )


def child_periods_without_order(
    session: Session, authority_id: str, case_reference: str
) -> list[tuple[datetime, datetime | None]]:
    """The child's stays in secure accommodation that had no court order."""
    rows = session.execute(
        select(Placement.admitted_at, Placement.discharged_at)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(
            PlacementRequest.authority_id == authority_id,
            PlacementRequest.case_reference == case_reference,
            PlacementRequest.order_kind == "none",
            PlacementRequest.legal_basis == "welfare",
        )
    )
    return [(admitted, discharged) for admitted, discharged in rows]


def view_of(session: Session, row: PlacementRequest, *, now: datetime) -> RequestView:
    """Describe a request with its clocks at `now`."""
    periods = child_periods_without_order(session, row.authority_id, row.case_reference)
    hours = statutory.hours_without_order(periods, now=now)
    placement = session.scalars(
        select(Placement).where(Placement.request_id == row.id)
    ).one_or_none()
    expires = row.order_expires_at
    return RequestView(
        id=row.id,
        authority_id=row.authority_id,
        case_reference=row.case_reference,
        status=row.status,
        age=row.age,
        sex=row.sex,
        legal_basis=row.legal_basis,
        grounds=list(row.grounds),
        needs=list(row.needs),
        flags=list(row.flags),
        under_13_approval=row.under_13_approval,
        home={"lat": row.home_lat, "lon": row.home_lon},
        max_distance_km=row.max_distance_km,
        exclusion_zones=list(row.exclusion_zones),
        authority={
            "kind": row.order_kind,
            "granted_at": row.order_granted_at,
            "expires_at": expires,
            "renewal": row.order_renewal,
        },
        needed_by=row.needed_by,
        declined_by=list(row.declined_by),
        created_at=row.created_at,
        updated_at=row.updated_at,
        hours_without_order_last_28_days=hours,
        without_order_warning=hours >= statutory.WITHOUT_ORDER_WARNING_HOURS,
        order_expires_at=expires,
        order_expiring=(
            expires is not None
            and row.status in ("reserved", "placed")
            and expires - now <= timedelta(days=7)
        ),
        next_review_due=placement.next_review_due if placement else None,
        stale=row.status == "waiting"
        and now - row.updated_at > timedelta(days=thresholds.LONG_WAIT_DAYS),
        placement_id=placement.id if placement else None,
    )


def lock_request(session: Session, request_id: str) -> PlacementRequest | None:
    """The request's current row, locked until the transaction ends (PostgreSQL: FOR UPDATE).

    Every step that changes a request's status locks it first, so two homes accepting, or an
    accept racing an expiry, are serialised (SQLite's BEGIN IMMEDIATE serialises writers anyway).
    """
    return session.get(PlacementRequest, request_id, with_for_update=True, populate_existing=True)


def load_request(
    session: Session, actor: Actor, request_id: str, *, lock: bool = False
) -> PlacementRequest:
    """A request the actor may see: its own authority's (director) or any (admin)."""
    if actor.role not in ("director", "admin"):
        raise Forbidden(f"role {actor.role!r} may not read requests")
    row = lock_request(session, request_id) if lock else session.get(PlacementRequest, request_id)
    if row is None or (actor.role == "director" and row.authority_id != actor.authority_id):
        raise NotFound(f"request {request_id!r} does not exist")
    return row


def audit_read(session: Session, actor: Actor, row: PlacementRequest, now: datetime) -> None:
    """Log a read of a child's request by anyone outside its authority."""
    if actor.authority_id != row.authority_id:
        audit.record(session, actor, "request.read", "request", row.id, at=now)


def _claim_key(session: Session, actor: Actor, key: str, digest: str, request_id: str,
               now: datetime) -> str | None:  # fmt: skip
    """Record the key for this request; None when another request already holds it."""
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.actor_label == actor.label,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < now - IDEMPOTENCY_WINDOW,
        )
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(
            actor_label=actor.label,
            key=key,
            body_hash=digest,
            request_id=request_id,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.request_id)
    ).scalar_one_or_none()
    return claimed


def _replay(sessions: Sessions, actor: Actor, key: str, digest: str, now: datetime) -> RequestView:
    with sessions.begin() as session:
        held = session.get(IdempotencyKey, (actor.label, key))
        if held is None:
            raise InvalidTransition("the Idempotency-Key is being used; retry")
        if held.body_hash != digest:
            raise InvalidInput(
                "this Idempotency-Key was used with a different body",
                errors={"Idempotency-Key": ["reused with a different body within 24 hours"]},
            )
        row = session.get(PlacementRequest, held.request_id)
        assert row is not None
        return view_of(session, row, now=now)


def create(sessions: Sessions, actor: Actor, facts: RequestFacts, *, now: datetime,
           idempotency_key: str | None = None) -> RequestView:  # fmt: skip
    """Open a request for the director's own authority; a repeated key returns the first."""
    actor.require("director")
    errors = fact_errors(facts)
    if errors:
        raise InvalidInput("the request breaks the rules", errors=errors)
    digest = body_hash(facts)
    with sessions.begin() as session:
        authority = session.get(LocalAuthority, actor.authority_id)
        if authority is None:
            raise NotFound(f"local authority {actor.authority_id!r} does not exist")
        row = PlacementRequest(
            id=new_id("REQ"), authority_id=authority.id, status="waiting", declined_by=[],
            created_at=now, created_by=actor.label, updated_at=now, version=1,
        )  # fmt: skip
        _apply(row, facts, authority)
        session.add(row)
        session.flush()
        if (
            idempotency_key
            and _claim_key(session, actor, idempotency_key, digest, row.id, now) is None
        ):
            session.rollback()
        else:
            view = view_of(session, row, now=now)
            audit.record(session, actor, "request.create", "request", row.id, at=now,
                         after=_audit_facts(view))  # fmt: skip
            return view
    assert idempotency_key is not None
    return _replay(sessions, actor, idempotency_key, digest, now)


def _audit_facts(view: RequestView) -> dict[str, Any]:
    keys = ("status", "age", "sex", "legal_basis", "grounds", "needs", "flags", "max_distance_km")
    return {k: getattr(view, k) for k in keys}


def get(sessions: Sessions, actor: Actor, request_id: str, *, now: datetime) -> RequestView:
    """One request (its director or admin; reads from outside the authority are audited)."""
    with sessions.begin() as session:
        row = load_request(session, actor, request_id)
        audit_read(session, actor, row, now)
        return view_of(session, row, now=now)


def list_requests(sessions: Sessions, actor: Actor, query: RequestFilter, *,
                  now: datetime) -> list[RequestView]:  # fmt: skip
    """The director's own authority's requests, or all of them for admin."""
    actor.require("director", "admin")
    statement = select(PlacementRequest).order_by(PlacementRequest.created_at, PlacementRequest.id)
    if actor.role == "director":
        statement = statement.where(PlacementRequest.authority_id == actor.authority_id)
    if query.status:
        statement = statement.where(PlacementRequest.status == query.status)
    with sessions.begin() as session:
        views = [view_of(session, row, now=now) for row in session.scalars(statement)]
        if query.stale is not None:
            views = [v for v in views if v.stale == query.stale]
        for view in views:
            if actor.authority_id != view.authority_id:
                audit.record(session, actor, "request.read", "request", view.id, at=now)
        return views


def update_facts(sessions: Sessions, actor: Actor, request_id: str, changes: dict[str, Any], *,
                 now: datetime) -> RequestView:  # fmt: skip
    """Change a waiting request's facts (its director); resets the staleness clock."""
    actor.require("director")
    with sessions.begin() as session:
        row = load_request(session, actor, request_id)
        if row.status != "waiting":
            raise InvalidTransition(
                f"request {request_id} is {row.status}; only waiting requests change"
            )
        facts = replace(facts_of(row), **changes)
        errors = fact_errors(facts)
        if errors:
            raise InvalidInput("the request breaks the rules", errors=errors)
        authority = session.get(LocalAuthority, row.authority_id)
        assert authority is not None
        before = _audit_facts(view_of(session, row, now=now))
        _apply(row, facts, authority)
        row.updated_at = now
        row.version += 1
        session.flush()
        view = view_of(session, row, now=now)
        audit.record(session, actor, "request.update", "request", row.id, at=now,
                     before=before, after=_audit_facts(view))  # fmt: skip
        return view


def withdraw(sessions: Sessions, actor: Actor, request_id: str, *, now: datetime) -> RequestView:
    """Withdraw a waiting or offered request and cancel its pending offers."""
    actor.require("director", "admin")
    with sessions.begin() as session:
        row = load_request(session, actor, request_id, lock=True)
        if row.status not in OPEN_STATUSES:
            raise InvalidTransition(
                f"request {request_id} is {row.status}; only waiting or offered requests can be "
                "withdrawn"
            )
        session.execute(
            update(Offer)
            .where(Offer.request_id == row.id, Offer.status == "pending")
            .values(status="cancelled", answered_at=now, answered_by=actor.label)
        )
        before = row.status
        row.status, row.updated_at = "withdrawn", now
        audit.record(session, actor, "request.withdraw", "request", row.id, at=now,
                     before={"status": before}, after={"status": "withdrawn"})  # fmt: skip
        return view_of(session, row, now=now)
