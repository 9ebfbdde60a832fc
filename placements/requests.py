"""Directors' placement requests: create (idempotently), read, update, record orders, withdraw."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, not_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placements import acceptance, access, audit, orders, statutory, thresholds
from placements.acceptance import segment_of
from placements.auth import Actor
from placements.availability import release_reservation
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from placements.ids import new_id
from placements.live import rank_request
from placements.models import (
    IdempotencyKey,
    LocalAuthority,
    Offer,
    Placement,
    PlacementRequest,
)
from placements.orders import LegalAuthority, OrderView
from placements.paging import Page, window

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# Waiting for a bed: what demand counts as open.
OPEN_STATUSES = ("waiting", "offered")
# Not yet finished: one such request per child (authority and case reference); can be withdrawn.
UNFINISHED_STATUSES = ("waiting", "offered", "reserved")
# The facts of a request may change until a home has accepted it.
CHANGEABLE_STATUSES = ("waiting", "offered")
__all__ = ["LegalAuthority", "OrderView"]


@dataclass(frozen=True)
class Zone:
    """A place the child must be kept away from."""

    lat: float
    lon: float
    radius_km: float


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
    """A request with its status and statutory clocks."""

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
    without_order_breach: bool
    order_expires_at: datetime | None
    order_expiring: bool
    order_expired: bool
    orders: list[OrderView]
    next_review_due: datetime | None
    stale: bool
    placement_id: str | None
    reservation: dict[str, str] | None


@dataclass(frozen=True)
class RequestFilter:
    """Which requests to list."""

    status: str | None = None
    stale: bool | None = None
    page: int = 1
    page_size: int = 50


def fact_errors(facts: RequestFacts, *, now: datetime) -> dict[str, list[str]]:
    """Every business rule the facts break, by field."""
    errors: dict[str, list[str]] = {}
    if facts.legal_basis == "welfare" and not facts.grounds:
        errors["grounds"] = ["a welfare request needs at least one ground"]
    if facts.legal_basis != "welfare" and facts.grounds:
        errors["grounds"] = ["grounds apply to welfare requests only"]
    if statutory.needs_approval(facts.age) and not facts.under_13_approval:
        england, wales = (statutory.jurisdiction(n).under_13_approver for n in ("england", "wales"))
        errors["under_13_approval"] = [
            f"a child under {statutory.APPROVAL_AGE} needs the approval of {england} (Wales:"
            f" {wales})"
        ]
    errors.update(orders.authority_errors(facts.legal_basis, facts.authority, now=now))
    return errors


def _canonical(value: Any) -> Any:
    """The same facts written the same way: times in UTC, sets of terms sorted."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_canonical(v) for v in value]
        return sorted(set(items)) if all(isinstance(i, str) for i in items) else items
    return value


def body_hash(facts: RequestFacts) -> str:
    """A stable hash of a request's facts, to compare idempotent retries."""
    text = json.dumps(_canonical(asdict(facts)), sort_keys=True, default=str)
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


def reservation_of(session: Session, row: PlacementRequest) -> dict[str, str] | None:
    """The accepted offer and unit holding a reserved request's bed."""
    if row.status != "reserved":
        return None
    offer = session.scalars(
        select(Offer).where(Offer.request_id == row.id, Offer.status == "accepted")
    ).first()
    if offer is None:
        return None
    return {"offer_id": offer.id, "unit_id": offer.unit_id, "provider_id": offer.provider_id}


def view_of(session: Session, row: PlacementRequest, *, now: datetime) -> RequestView:
    """Describe a request with its clocks at `now`."""
    clock = orders.child_clock(session, row.authority_id, row.case_reference, now=now)
    placement = session.scalars(
        select(Placement).where(Placement.request_id == row.id)
    ).one_or_none()
    expires = row.order_expires_at
    live = row.status in ("reserved", "placed")
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
        hours_without_order_last_28_days=clock.hours,
        without_order_warning=clock.warning,
        without_order_breach=clock.breach,
        order_expires_at=expires,
        order_expiring=live and statutory.order_expiring(expires, now),
        order_expired=live and expires is not None and expires <= now,
        orders=orders.recorded(session, row.id),
        next_review_due=placement.next_review_due if placement else None,
        stale=row.status == "waiting"
        and now - row.updated_at > timedelta(days=thresholds.LONG_WAIT_DAYS),
        placement_id=placement.id if placement else None,
        reservation=reservation_of(session, row),
    )


def lock_request(session: Session, request_id: str) -> PlacementRequest | None:
    """The request's current row, locked until the transaction ends (PostgreSQL: FOR UPDATE).

    Every step that changes a request's status locks it first, so two homes accepting, or an
    accept racing an expiry, are serialised (SQLite's BEGIN IMMEDIATE serialises writers anyway).
    """
    return session.get(PlacementRequest, request_id, with_for_update=True, populate_existing=True)


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


def _held_key(session: Session, actor: Actor, key: str, now: datetime) -> IdempotencyKey | None:
    """The actor's key if it was used within the last 24 hours (an older one is forgotten)."""
    held = session.get(IdempotencyKey, (actor.label, key))
    if held is not None and held.created_at < now - IDEMPOTENCY_WINDOW:
        session.delete(held)
        session.flush()
        return None
    return held


def _replayed(session: Session, held: IdempotencyKey, digest: str, now: datetime) -> RequestView:
    """The request a key made, if the retry carries the same body."""
    if held.body_hash != digest:
        raise InvalidInput(
            "this Idempotency-Key was used with a different body",
            errors={"Idempotency-Key": ["reused with a different body within 24 hours"]},
        )
    row = session.get(PlacementRequest, held.request_id)
    assert row is not None
    return view_of(session, row, now=now)


def _replay(sessions: Sessions, actor: Actor, key: str, digest: str, now: datetime) -> RequestView:
    with sessions.begin() as session:
        held = session.get(IdempotencyKey, (actor.label, key))
        if held is None:
            raise InvalidTransition("the Idempotency-Key is being used; retry")
        return _replayed(session, held, digest, now)


def refuse_duplicate(session: Session, authority_id: str, case_reference: str,
                     request_id: str | None = None) -> None:  # fmt: skip
    """Refuse a second unfinished request for the same child (Conflict naming the first)."""
    statement = select(PlacementRequest.id).where(
        PlacementRequest.authority_id == authority_id,
        PlacementRequest.case_reference == case_reference,
        PlacementRequest.status.in_(UNFINISHED_STATUSES),
    )
    if request_id is not None:
        statement = statement.where(PlacementRequest.id != request_id)
    found = session.scalars(statement.order_by(PlacementRequest.created_at)).first()
    if found is not None:
        raise Conflict(
            f"case reference {case_reference!r} already has an open request, {found}: update or"
            " withdraw it",
            errors={"case_reference": [f"open request {found}"]},
        )


def _lock_authority(session: Session, authority_id: str | None) -> LocalAuthority:
    """The authority's row, locked so that its requests are created one at a time.

    Two requests for the same child cannot then both pass the duplicate check (PostgreSQL: FOR NO
    KEY UPDATE, which leaves rows that merely refer to the authority free; SQLite's BEGIN
    IMMEDIATE already serialises every writer).
    """
    authority = (
        session.get(LocalAuthority, authority_id, with_for_update={"key_share": True})
        if authority_id
        else None
    )
    if authority is None:
        raise NotFound(f"local authority {authority_id!r} does not exist")
    return authority


def create(sessions: Sessions, actor: Actor, facts: RequestFacts, *, now: datetime,
           idempotency_key: str | None = None) -> RequestView:  # fmt: skip
    """Open a request for the director's own authority; a repeated key returns the first."""
    access.require(actor, "requests.create")
    errors = fact_errors(facts, now=now)
    if errors:
        raise InvalidInput("the request breaks the rules", errors=errors)
    digest = body_hash(facts)
    with sessions.begin() as session:
        authority = _lock_authority(session, actor.authority_id)
        held = _held_key(session, actor, idempotency_key, now) if idempotency_key else None
        if held is not None:
            return _replayed(session, held, digest, now)
        refuse_duplicate(session, authority.id, facts.case_reference)
        row = PlacementRequest(
            id=new_id("REQ"), authority_id=authority.id, status="waiting", declined_by=[],
            created_at=now, created_by=actor.label, updated_at=now, version=1,
            order_kind="none", order_renewal=False,
        )  # fmt: skip
        _apply(row, facts, authority)
        session.add(row)
        session.flush()
        orders.add(session, row, facts.authority, by=actor.label, now=now)
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
    access.require(actor, "requests.get")
    with sessions.read() as session:
        row = access.load_request(session, actor, request_id)
        view = view_of(session, row, now=now)
    access.audit_read(sessions, actor, row, now)
    return view


def _stale(now: datetime) -> ColumnElement[bool]:
    """Waiting and untouched for the long-wait period (as `RequestView.stale`)."""
    cutoff = now - timedelta(days=thresholds.LONG_WAIT_DAYS)
    return and_(PlacementRequest.status == "waiting", PlacementRequest.updated_at < cutoff)


def list_requests(sessions: Sessions, actor: Actor, query: RequestFilter, *,
                  now: datetime) -> Page[RequestView]:  # fmt: skip
    """A page of the requests the actor may read, oldest first (reads from outside the
    authority are audited, one event for the page)."""
    access.require(actor, "requests.list")
    statement = (
        select(PlacementRequest)
        .where(access.requests_visible(actor))
        .order_by(PlacementRequest.created_at, PlacementRequest.id)
    )
    if query.status:
        statement = statement.where(PlacementRequest.status == query.status)
    if query.stale is not None:
        statement = statement.where(_stale(now) if query.stale else not_(_stale(now)))
    with sessions.read() as session:
        rows, total = window(session, statement, page=query.page, page_size=query.page_size)
        views = [view_of(session, row, now=now) for (row,) in rows]
    access.audit_list_read(sessions, actor, "requests.list",
                           ((v.id, v.authority_id) for v in views), now)  # fmt: skip
    return Page(views, total, query.page, query.page_size)


# Exclusion reasons that come from the child's facts, not from the state of the estate.
FACT_REASONS = frozenset(
    {"sex", "age", "designation", "needs", "too_far", "exclusion_zone", "mix_conflict"}
)


def _cancel_ineligible_offers(session: Session, row: PlacementRequest, settings: Settings,
                              actor: Actor, now: datetime) -> dict[str, list[str]]:  # fmt: skip
    """Cancel the pending offers whose units the request's facts now rule out; say why."""
    pending = session.scalars(
        select(Offer).where(Offer.request_id == row.id, Offer.status == "pending")
    ).all()
    if not pending:
        return {}
    _, ranking = rank_request(session, row, settings, now)
    excluded = {e.unit_id: e.reasons for e in ranking.excluded}
    cancelled = {}
    for offer in pending:
        reasons = [r for r in excluded.get(offer.unit_id, ()) if r in FACT_REASONS]
        if reasons:
            offer.status, offer.answered_at, offer.answered_by = "cancelled", now, actor.label
            offer.cancel_reason, offer.cancel_detail = "no_longer_eligible", ", ".join(reasons)
            audit.record(session, actor, "offer.cancel", "offer", offer.id, at=now,
                         before={"status": "pending"},
                         after={"status": "cancelled", "reason": "no_longer_eligible",
                                "detail": reasons})  # fmt: skip
            cancelled[offer.id] = reasons
    session.flush()
    if len(cancelled) == len(pending):
        row.status = "waiting"
    return cancelled


def update_facts(sessions: Sessions, actor: Actor, request_id: str, changes: dict[str, Any], *,
                 settings: Settings, now: datetime) -> RequestView:  # fmt: skip
    """Change a waiting or offered request's facts (its director); resets the staleness clock.

    Pending offers whose units the new facts rule out are cancelled (`no_longer_eligible`, with
    the reasons); the others stay. A changed `authority` replaces the orders recorded so far.
    """
    access.require(actor, "requests.update")
    with sessions.begin() as session:
        row = access.load_request(session, actor, request_id, lock=True)
        if row.status not in CHANGEABLE_STATUSES:
            raise InvalidTransition(
                f"request {request_id} is {row.status}; only waiting or offered requests change"
                " (record a court order with POST /requests/{id}/orders at any time)"
            )
        facts = replace(facts_of(row), **changes)
        errors = fact_errors(facts, now=now)
        if errors:
            raise InvalidInput("the request breaks the rules", errors=errors)
        if facts.case_reference != row.case_reference:
            _lock_authority(session, row.authority_id)  # as `create` does: one change at a time
            refuse_duplicate(session, row.authority_id, facts.case_reference, row.id)
        authority = session.get(LocalAuthority, row.authority_id)
        assert authority is not None
        before = _audit_facts(view_of(session, row, now=now))
        kind = segment_of(row)
        _apply(row, facts, authority)
        acceptance.move_answers(session, row, kind)
        if "authority" in changes:
            orders.replace_all(session, row, facts.authority, by=actor.label, now=now)
        row.updated_at = now
        row.version += 1
        session.flush()
        cancelled = _cancel_ineligible_offers(session, row, settings, actor, now)
        view = view_of(session, row, now=now)
        after = {**_audit_facts(view), "cancelled_offers": cancelled}
        audit.record(session, actor, "request.update", "request", row.id, at=now, before=before,
                     after=after)  # fmt: skip
        return view


def record_order(sessions: Sessions, actor: Actor, request_id: str, order: LegalAuthority, *,
                 settings: Settings, now: datetime) -> RequestView:  # fmt: skip
    """Record a new or renewed court order on a request at any status (its director or admin).

    The order is checked against the same limits as at creation; the 72-hour clock, the order's
    expiry warning and a placed child's next review date move with it.
    """
    access.require(actor, "requests.record_order")
    with sessions.begin() as session:
        row = access.load_request(session, actor, request_id, lock=True)
        if order.kind == "none":
            raise InvalidInput("an order is needed", errors={"kind": ["not none: record an order"]})
        errors = orders.authority_errors(row.legal_basis, order, now=now)
        if errors:
            fields = {k.removeprefix("authority."): v for k, v in errors.items()}
            raise InvalidInput("the order breaks the rules", errors=fields)
        before = {"kind": row.order_kind, "expires_at": _iso(row.order_expires_at)}
        made = orders.add(session, row, order, by=actor.label, now=now)
        assert made is not None
        row.updated_at = now
        row.version += 1
        moved = reviews_after_order(session, row, actor, settings, now)
        audit.record(session, actor, "request.order", "request", row.id, at=now, before=before,
                     after={"order_id": made.id, "kind": made.kind,
                            "granted_at": made.granted_at.isoformat(),
                            "expires_at": made.expires_at.isoformat(),
                            "renewal": made.renewal, "next_review_due": _iso(moved)})  # fmt: skip
        return view_of(session, row, now=now)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def reviews_after_order(session: Session, row: PlacementRequest, actor: Actor,
                        settings: Settings, now: datetime) -> datetime | None:  # fmt: skip
    """Move an active welfare placement's next review to fit the request's current order."""
    from placements import reviews  # reviews -> meetings -> notifications: imported late

    placement = session.scalars(
        select(Placement).where(Placement.request_id == row.id, Placement.status == "active")
    ).one_or_none()
    if placement is None or placement.legal_basis != "welfare":
        return None
    return reviews.reschedule(session, placement, actor, settings=settings, now=now)


def withdraw(sessions: Sessions, actor: Actor, request_id: str, *, now: datetime) -> RequestView:
    """Withdraw a waiting, offered or reserved request; a reserved bed is released at once.

    Its pending offers, and the accepted one holding a reservation, are cancelled with the reason
    `withdrawn_by_placer`, so the home sees why.
    """
    access.require(actor, "requests.withdraw")
    with sessions.begin() as session:
        row = access.load_request(session, actor, request_id, lock=True)
        if row.status not in UNFINISHED_STATUSES:
            raise InvalidTransition(
                f"request {request_id} is {row.status}; only waiting, offered or reserved requests"
                " can be withdrawn"
            )
        released = None
        if row.status == "reserved":
            released = _release_reservation(session, row, actor, now)
        session.execute(
            update(Offer)
            .where(Offer.request_id == row.id, Offer.status == "pending")
            .values(
                status="cancelled",
                answered_at=now,
                answered_by=actor.label,
                cancel_reason="withdrawn_by_placer",
            )
        )
        before = row.status
        row.status, row.updated_at = "withdrawn", now
        audit.record(session, actor, "request.withdraw", "request", row.id, at=now,
                     before={"status": before},
                     after={"status": "withdrawn", "released_unit": released})  # fmt: skip
        return view_of(session, row, now=now)


def _release_reservation(session: Session, row: PlacementRequest, actor: Actor,
                         now: datetime) -> str:  # fmt: skip
    """Give back the bed a reserved request holds, by the conditional update that took it."""
    offer = session.scalars(
        select(Offer).where(Offer.request_id == row.id, Offer.status == "accepted")
    ).first()
    if offer is None:
        raise Conflict(f"request {row.id} is reserved but no accepted offer holds its bed")
    release_reservation(session, offer.unit_id, by=actor.label, cause="request_withdrawn", now=now)
    offer.status, offer.cancel_reason = "cancelled", "withdrawn_by_placer"
    # A cancelled offer is no answer: it leaves the home's record.
    acceptance.count_answer(session, offer.provider_id, segment_of(row), accepted=-1)
    audit.record(session, actor, "offer.cancel", "offer", offer.id, at=now,
                 before={"status": "accepted"},
                 after={"status": "cancelled", "reason": "withdrawn_by_placer"})  # fmt: skip
    return offer.unit_id
