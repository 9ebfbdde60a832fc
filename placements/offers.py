"""Offers: targeted at chosen units, accepted with a bed reserved atomically, declined, released."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

import solver
from placements import acceptance, access, audit
from placements.acceptance import segment_of
from placements.auth import SYSTEM, Actor
from placements.availability import move_beds, release_reservation
from placements.config import Settings
from placements.db import Sessions
from placements.errors import (
    Busy,
    Conflict,
    InvalidInput,
    InvalidTransition,
    NoBedLeft,
    NotFound,
    PlacementsError,
)
from placements.ids import new_id
from placements.live import Ranker, live_unit
from placements.models import LocalAuthority, Offer, PlacementRequest
from placements.paging import Page, window
from placements.requests import lock_request

OFFERABLE = ("waiting", "offered")


@dataclass(frozen=True)
class OfferChoice:
    """Which units to offer to: named ones, or the `top` best options."""

    unit_ids: tuple[str, ...] = ()
    top: int | None = None


@dataclass(frozen=True)
class OfferView:
    """An offer with only the request facts a home needs to decide."""

    id: str
    request_id: str
    unit_id: str
    provider_id: str
    status: str
    score: int | None
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    decline_reason: str | None
    decline_note: str | None
    matching_run_id: str | None
    cancel_reason: str | None
    cancel_detail: str | None
    released_at: datetime | None
    release_reason: str | None
    release_note: str | None
    placing_authority: dict[str, str]
    child: dict[str, Any]


def child_facts(request: PlacementRequest) -> dict[str, Any]:
    """The facts of the child a home sees: no case reference, no home address."""
    return {
        "age": request.age,
        "sex": request.sex,
        "legal_basis": request.legal_basis,
        "grounds": list(request.grounds),
        "needs": list(request.needs),
        "flags": list(request.flags),
        "authority_kind": request.order_kind,
        "authority_expires_at": request.order_expires_at,
        "needed_by": request.needed_by,
    }


def view_of(session: Session, offer: Offer, request: PlacementRequest) -> OfferView:
    """Describe an offer, naming the placing authority (never the child's case reference)."""
    names = session.info.setdefault("authority_names", {})  # one read per authority a session
    if request.authority_id not in names:
        names[request.authority_id] = (
            session.connection()
            .execute(AUTHORITY_NAME, {"id": request.authority_id})
            .scalar_one_or_none()
        )
    name = names[request.authority_id]
    return OfferView(
        offer.id, offer.request_id, offer.unit_id, offer.provider_id, offer.status, offer.score,
        offer.created_at, offer.expires_at, offer.answered_at, offer.decline_reason,
        offer.decline_note, offer.matching_run_id, offer.cancel_reason, offer.cancel_detail,
        offer.released_at, offer.release_reason, offer.release_note,
        {"id": request.authority_id, "name": name or request.authority_id},
        child_facts(request),
    )  # fmt: skip


AUTHORITY_NAME = select(LocalAuthority.name).where(LocalAuthority.id == bindparam("id"))


def _chosen(ranking: solver.Ranking, choice: OfferChoice, already: set[str]) -> list[solver.Option]:
    by_unit = {o.unit_id: o for o in ranking.options}
    if choice.unit_ids:
        excluded = {e.unit_id: list(e.reasons) for e in ranking.excluded}
        errors: dict[str, list[str]] = {}
        for unit_id in choice.unit_ids:
            if unit_id in already:
                errors[unit_id] = ["already_offered"]
            elif unit_id not in by_unit:
                errors[unit_id] = excluded.get(unit_id, ["unknown_unit"])
        if errors:
            raise InvalidInput("some units are not eligible for this request", errors=errors)
        return [by_unit[u] for u in dict.fromkeys(choice.unit_ids)]
    options = [o for o in ranking.options if o.unit_id not in already]
    if not options:
        raise InvalidInput(
            "no eligible unit is left to offer to",
            errors={"top": ["no eligible unit without a pending offer"]},
        )
    return options[: choice.top or 3]


def create_offers(
    sessions: Sessions,
    actor: Actor,
    request_id: str,
    choice: OfferChoice,
    *,
    settings: Settings,
    now: datetime,
    run_id: str | None = None,
) -> list[OfferView]:
    """Offer a waiting or offered request to chosen units, or to its top k eligible units."""
    access.require(actor, "requests.offer")
    with sessions.begin() as session:
        ranker = Ranker(session, settings, now)
        [made] = offer_each(session, actor, [(request_id, choice)], ranker, now=now, run_id=run_id)
        if isinstance(made, PlacementsError):
            raise made
        return made


def create_offers_many(
    sessions: Sessions,
    actor: Actor,
    choices: Sequence[tuple[str, OfferChoice]],
    *,
    settings: Settings,
    now: datetime,
    run_id: str | None = None,
) -> list[list[OfferView] | PlacementsError]:
    """Offer several requests in one transaction, each as `create_offers` would, on one read of
    the live state (offers reserve nothing, so it does not change between them).

    Each request's result is its offers or the error that refused it; a refused request writes
    nothing.
    """
    access.require(actor, "requests.offer")
    with sessions.begin() as session:
        return offer_each(session, actor, choices, Ranker(session, settings, now), now=now,
                          run_id=run_id)  # fmt: skip


def offer_each(session: Session, actor: Actor, choices: Sequence[tuple[str, OfferChoice]],
               ranker: Ranker, *, now: datetime, run_id: str | None = None
               ) -> list[list[OfferView] | PlacementsError]:  # fmt: skip
    """`create_offers_many` within the caller's transaction, ranking on `ranker`'s state.

    The requests (locked) and their pending offers are read once for all; each request is checked
    in full before anything of it is written, so a refused one writes nothing and needs no
    savepoint; the offers, their audit events and the requests' new status are written at the
    end, a statement each.
    """
    if not choices:
        return []
    ids = sorted({request_id for request_id, _ in choices})
    requests = access.load_requests(session, actor, ids, lock=True)
    pending: dict[str, set[str]] = {request_id: set() for request_id in ids}
    for request_id, unit_id in session.execute(PENDING_UNITS, {"ids": ids}):
        pending[request_id].add(unit_id)
    writes = _Writes([], [], set())
    results: list[list[OfferView] | PlacementsError] = []
    for request_id, choice in choices:
        try:
            request = requests.get(request_id)
            if request is None:
                raise NotFound(f"request {request_id!r} does not exist")
            results.append(_offer(session, actor, request, choice, ranker, pending[request_id],
                                  writes, now=now, run_id=run_id))  # fmt: skip
        except Busy:
            raise
        except PlacementsError as refused:
            results.append(refused)
    connection = session.connection()
    if writes.offers:
        connection.execute(insert(Offer), writes.offers)
    audit.record_all(session, writes.events)
    if writes.offered:
        connection.execute(OFFERED, {"ids": sorted(writes.offered)})
    return results


@dataclass(frozen=True)
class _Writes:
    """What `offer_each` writes once every request is checked: offer rows, audit events, and
    the requests offered."""

    offers: list[dict[str, Any]]
    events: list[dict[str, Any]]
    offered: set[str]


# The units a request's pending offers are for, for several requests at once.
PENDING_UNITS = select(Offer.request_id, Offer.unit_id).where(
    Offer.request_id.in_(bindparam("ids", expanding=True)), Offer.status == "pending"
)
OFFERED = (
    update(PlacementRequest)
    .where(PlacementRequest.id.in_(bindparam("ids", expanding=True)))
    .values(status="offered")
)


def _offer(session: Session, actor: Actor, request: PlacementRequest, choice: OfferChoice,
           ranker: Ranker, pending: set[str], writes: _Writes, *, now: datetime,
           run_id: str | None) -> list[OfferView]:  # fmt: skip
    """Offer one request (loaded and locked) to its chosen units, adding what to write to
    `writes`; `pending` is the units it has a pending offer from, and gains the new ones. Every
    refusal is raised before anything is added."""
    if request.status not in OFFERABLE:
        raise InvalidTransition(f"request {request.id} is {request.status}; cannot offer it")
    chosen = _chosen(ranker.rank(request), choice, pending)
    writes.events.extend(access.read_events(actor, request, now))  # a read from outside
    created = []
    for option in chosen:
        offer_id = new_id("OFF")
        row = {
            "id": offer_id, "request_id": request.id, "unit_id": option.unit_id,
            "provider_id": option.provider_id, "status": "pending", "score": option.score,
            "created_at": now, "created_by": actor.label,
            "expires_at": now + timedelta(hours=ranker.settings.offer_hours),
            "matching_run_id": run_id,
        }  # fmt: skip
        writes.offers.append(row)
        writes.events.append(audit.event(actor, "offer.create", "offer", offer_id, at=now,
                                         after={"request_id": request.id,
                                                "unit_id": option.unit_id}))  # fmt: skip
        created.append(Offer(**row))
        pending.add(option.unit_id)
    # Written with the others by `OFFERED`; the loaded request says so already.
    set_committed_value(request, "status", "offered")
    writes.offered.add(request.id)
    return [view_of(session, o, request) for o in created]


def _require_pending(offer: Offer, now: datetime) -> None:
    if offer.status != "pending":
        raise InvalidTransition(f"offer {offer.id} is {offer.status}, not pending")
    if offer.expires_at <= now:
        raise InvalidTransition(f"offer {offer.id} expired at {offer.expires_at:%Y-%m-%d %H:%M}")


def list_offers(sessions: Sessions, actor: Actor, *, now: datetime, status: str | None = None,
                page: int = 1, page_size: int = 50) -> Page[OfferView]:  # fmt: skip
    """A page of the offers the actor may read: a home's own (provider), an authority's
    (director) or all (admin), newest first; reads of requests from outside their authority are
    audited, one event for the page."""
    access.require(actor, "offers.list")
    statement = (
        select(Offer, PlacementRequest)
        .join(PlacementRequest, PlacementRequest.id == Offer.request_id)
        .where(access.offers_visible(actor))
        .order_by(Offer.created_at.desc(), Offer.id)
    )
    if status:
        statement = statement.where(Offer.status == status)
    with sessions.read() as session:
        rows, total = window(session, statement, page=page, page_size=page_size)
        views = [view_of(session, offer, request) for offer, request in rows]
        read = [(request.id, request.authority_id) for _, request in rows]
    access.audit_list_read(sessions, actor, "offers.list", read, now)
    return Page(views, total, page, page_size)


def get_offer(sessions: Sessions, actor: Actor, offer_id: str, *, now: datetime) -> OfferView:
    """One offer, for its home, the request's director or admin."""
    access.require(actor, "offers.get")
    with sessions.read() as session:
        offer, request = access.load_offer(session, actor, offer_id)
        view = view_of(session, offer, request)
    access.audit_read(sessions, actor, request, now)
    return view


def accept(sessions: Sessions, actor: Actor, offer_id: str, *, settings: Settings,
           now: datetime) -> OfferView:  # fmt: skip
    """Accept an offer: reserve its bed, cancel the request's other offers; 409 if no bed left."""
    access.require(actor, "offers.accept")
    with sessions.begin() as session:
        offer, request = access.load_offer(session, actor, offer_id, lock=True)
        _require_pending(offer, now)
        if request.status != "offered":
            raise InvalidTransition(f"request {request.id} is {request.status}")
        # The conditional update takes the unit's row lock first, so the mix check below sees
        # every reservation committed before ours.
        if not move_beds(session, offer.unit_id, reserved=+1, by=actor.label,
                         cause="offer_accepted", now=now):  # fmt: skip
            raise NoBedLeft(f"unit {offer.unit_id} has no free bed left")
        _check_mix(session, request, offer.unit_id, settings)
        offer.status, offer.answered_at, offer.answered_by = "accepted", now, actor.label
        session.execute(
            update(Offer)
            .where(Offer.request_id == request.id, Offer.status == "pending", Offer.id != offer.id)
            .values(
                status="cancelled",
                answered_at=now,
                answered_by=actor.label,
                cancel_reason="accepted_elsewhere",
            )
        )
        request.status = "reserved"
        acceptance.count_answer(session, offer.provider_id, segment_of(request), accepted=1)
        audit.record(session, actor, "offer.accept", "offer", offer.id, at=now,
                     before={"status": "pending"}, after={"status": "accepted"})  # fmt: skip
        return view_of(session, offer, request)


def _check_mix(
    session: Session, request: PlacementRequest, unit_id: str, settings: Settings
) -> None:
    unit = live_unit(session.connection(), unit_id)
    if unit is None:
        raise Conflict(f"unit {unit_id} is no longer open")
    for a, b in settings.incompatible_flags:
        for mine, theirs in ((a, b), (b, a)):
            if mine in request.flags and any(theirs in r for r in unit.resident_flags):
                raise Conflict(f"unit {unit_id} now holds a child flagged {theirs}: mix conflict")


def decline(sessions: Sessions, actor: Actor, offer_id: str, reason: str, note: str | None, *,
            now: datetime) -> OfferView:  # fmt: skip
    """Decline an offer with a coded reason; the home joins the request's declined list."""
    access.require(actor, "offers.decline")
    with sessions.begin() as session:
        offer, request = access.load_offer(session, actor, offer_id, lock=True)
        _require_pending(offer, now)
        offer.status, offer.answered_at, offer.answered_by = "declined", now, actor.label
        offer.decline_reason, offer.decline_note = reason, note
        if offer.provider_id not in request.declined_by:
            request.declined_by = [*request.declined_by, offer.provider_id]
        acceptance.count_answer(session, offer.provider_id, segment_of(request), declined=1)
        _reopen_if_unanswered(session, request, [offer.id])
        audit.record(session, actor, "offer.decline", "offer", offer.id, at=now,
                     before={"status": "pending"},
                     after={"status": "declined", "reason": reason})  # fmt: skip
        return view_of(session, offer, request)


def release(sessions: Sessions, actor: Actor, offer_id: str, reason: str, note: str | None, *,
            now: datetime) -> OfferView:  # fmt: skip
    """Give back an accepted offer before the child arrives: the bed is freed, the request waits.

    The home joins the request's declined list, so the matcher does not offer it the same child
    again, and the release counts as a decline in the home's acceptance record.
    """
    access.require(actor, "offers.release")
    with sessions.begin() as session:
        offer, request = access.load_offer(session, actor, offer_id, lock=True)
        if offer.status != "accepted" or request.status != "reserved":
            arrived = request.status in ("placed", "discharged")
            state = "the child has arrived" if arrived else f"it is {offer.status}"
            raise InvalidTransition(
                f"offer {offer.id} cannot be released: only an accepted offer whose child has not"
                f" arrived can ({state})"
            )
        release_reservation(session, offer.unit_id, by=actor.label, cause="offer_released", now=now)
        offer.status, offer.released_at, offer.released_by = "released", now, actor.label
        offer.release_reason, offer.release_note = reason, note
        if offer.provider_id not in request.declined_by:
            request.declined_by = [*request.declined_by, offer.provider_id]
        request.status, request.updated_at = "waiting", now
        # A release counts as a decline in the home's record.
        acceptance.count_answer(session, offer.provider_id, segment_of(request), accepted=-1,
                                declined=1)  # fmt: skip
        audit.record(session, actor, "offer.release", "offer", offer.id, at=now,
                     before={"status": "accepted"},
                     after={"status": "released", "reason": reason})  # fmt: skip
        return view_of(session, offer, request)


def _reopen_if_unanswered(session: Session, request: PlacementRequest,
                          ended: Sequence[str]) -> None:  # fmt: skip
    """The request waits again if it was offered and no offer of it but the `ended` ones (changed
    in this session, perhaps not yet flushed) is pending."""
    if request.status != "offered":
        return
    left = (
        session.connection()
        .execute(OTHER_PENDING, {"request_id": request.id, "ended": list(ended)})
        .first()
    )
    if left is None:
        request.status = "waiting"


# A pending offer of a request other than those just ended, if any.
OTHER_PENDING = (
    select(Offer.id)
    .where(
        Offer.request_id == bindparam("request_id"),
        Offer.status == "pending",
        Offer.id.not_in(bindparam("ended", expanding=True)),
    )
    .limit(1)
)


def expire_offers(sessions: Sessions, *, now: datetime) -> int:
    """Expire overdue pending offers; their requests wait again when nothing is pending."""
    overdue = Offer.status == "pending", Offer.expires_at <= now
    with sessions.begin() as session:
        request_ids = sorted(set(session.scalars(select(Offer.request_id).where(*overdue))))
        expired = 0
        for request_id in request_ids:
            request = lock_request(session, request_id)
            assert request is not None
            offers = session.scalars(
                select(Offer)
                .where(Offer.request_id == request_id, *overdue)
                .execution_options(populate_existing=True)
            ).all()
            for offer in offers:
                offer.status, offer.answered_at, offer.answered_by = "expired", now, SYSTEM.label
                audit.record(session, SYSTEM, "offer.expire", "offer", offer.id, at=now)
            expired += len(offers)
            _reopen_if_unanswered(session, request, [offer.id for offer in offers])
        return expired
