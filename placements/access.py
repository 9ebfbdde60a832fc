"""Who may see what: the roles of each operation, the scope filters, single-object checks, and
the audit of reads from outside a child's authority. This module is the access rule, whole.

Two questions, asked in this order:

1. May the caller's role perform the operation at all? `OPERATIONS` says, once, for every
   operation of the API; the API asks before it reads a body (403), and each use case asks again.
2. Is the object in the caller's scope? Each kind of object has one filter (a SQL where-clause)
   used both to list and to load one; an object outside it is "not found" (404), worded exactly
   as an id that names nothing, so that no caller can learn that it exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session, selectinload

from placements import audit
from placements.auth import ROLES, Actor
from placements.db import Sessions
from placements.errors import Forbidden, NotFound
from placements.models import Meeting, Offer, Panel, Placement, PlacementRequest

ANY_ROLE = ROLES
HOMES_AND_PLACERS = ("admin", "director", "provider")

# The roles that may perform each operation of the API (one entry per use case and method).
OPERATIONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "providers.list": ANY_ROLE,
    "providers.get": ANY_ROLE,
    "providers.register": ("admin",),
    "providers.units": ANY_ROLE,
    "providers.acceptance": ANY_ROLE,
    "units.list": ANY_ROLE,
    "units.get": ANY_ROLE,
    "units.history": ANY_ROLE,
    "units.update_availability": ("admin", "provider"),
    "availability.summary": ANY_ROLE,
    "authorities.list": ANY_ROLE,
    "authorities.get": ANY_ROLE,
    "authorities.register": ("admin",),
    "audit.list": ("admin",),
    "requests.list": ("admin", "director"),
    "requests.create": ("director",),
    "requests.get": ("admin", "director"),
    "requests.update": ("director",),
    "requests.withdraw": ("admin", "director"),
    "requests.record_order": ("admin", "director"),
    "requests.options": ("admin", "director"),
    "requests.offer": ("admin", "director"),
    "requests.admit": HOMES_AND_PLACERS,
    "offers.list": HOMES_AND_PLACERS,
    "offers.get": HOMES_AND_PLACERS,
    "offers.accept": ("admin", "provider"),
    "offers.decline": ("admin", "provider"),
    "offers.release": ("admin", "provider"),
    "placements.list": HOMES_AND_PLACERS,
    "placements.get": HOMES_AND_PLACERS,
    "placements.discharge": HOMES_AND_PLACERS,
    "placements.reviews": ("admin", "director"),  # the pages only: reviews of one's placements
    "matching.run": ("admin",),
    "matching.get_run": ("admin",),
    "matching.offer_run": ("admin",),
    "reports.declines": ("admin",),
    "panels.list": ("admin", "director", "panel"),
    "panels.get": ("admin", "director", "panel"),
    "panels.create": ("admin",),
    "panels.update": ("admin",),
    "meetings.list": ("admin", "panel"),
    "meetings.get": ("admin", "panel"),
    "meetings.invitation": ("admin", "panel"),
    "meetings.acknowledge": ("panel",),
    "meetings.record_outcome": ("panel",),
    "thresholds.list": ("admin", "director", "panel"),
    "thresholds.change": ("admin",),
    "notifications.list": ("admin",),
    "escalations.list": ("admin",),  # the pages only: episodes and demand measured now
})  # fmt: skip

# Acceptance figures: a segment with fewer answers than this is not shown (it could single out
# a child's request).
SMALLEST_SHOWN_SEGMENT = 5


def allows(actor: Actor, operation: str) -> bool:
    """Whether the actor's role may perform the operation at all."""
    return actor.role in OPERATIONS[operation]


def require(actor: Actor, operation: str) -> None:
    """Fail with Forbidden unless the actor's role may perform the operation."""
    if not allows(actor, operation):
        roles = " or ".join(OPERATIONS[operation])
        raise Forbidden(f"role {actor.role!r} may not do this ({operation}); needs {roles}")


# Scope filters: one where-clause per kind of object, for lists and single objects alike.


def requests_visible(actor: Actor) -> ColumnElement[bool]:
    """Requests the actor may read: every one (admin), its own authority's (director)."""
    if actor.role == "admin":
        return true()
    if actor.role == "director":
        return PlacementRequest.authority_id == actor.authority_id
    return false()


def requests_admissible(actor: Actor) -> ColumnElement[bool]:
    """Requests whose admission the actor may record: as readable, plus (provider) those holding
    a bed in one of its units."""
    if actor.role == "provider":
        return PlacementRequest.id.in_(
            select(Offer.request_id).where(
                Offer.status == "accepted", Offer.provider_id == actor.provider_id
            )
        )
    return requests_visible(actor)


def offers_visible(actor: Actor) -> ColumnElement[bool]:
    """Offers: every one (admin), to its own units (provider), of its authority's requests
    (director)."""
    if actor.role == "admin":
        return true()
    if actor.role == "provider":
        return Offer.provider_id == actor.provider_id
    if actor.role == "director":
        return Offer.request_id.in_(
            select(PlacementRequest.id).where(PlacementRequest.authority_id == actor.authority_id)
        )
    return false()


def placements_visible(actor: Actor) -> ColumnElement[bool]:
    """Placements: every one (admin), its authority's (director), in its units (provider)."""
    if actor.role == "admin":
        return true()
    if actor.role == "director":
        return Placement.authority_id == actor.authority_id
    if actor.role == "provider":
        return Placement.provider_id == actor.provider_id
    return false()


def meetings_visible(actor: Actor) -> ColumnElement[bool]:
    """Meetings: every one (admin), its own panel's (panel member)."""
    if actor.role == "admin":
        return true()
    if actor.role == "panel":
        return Meeting.panel_id == actor.panel_id
    return false()


def panels_visible(actor: Actor) -> ColumnElement[bool]:
    """Panels: every one (admin), its own (panel member), its authority's review panel and the
    escalation panels (director)."""
    if actor.role == "admin":
        return true()
    if actor.role == "panel":
        return Panel.id == actor.panel_id
    if actor.role == "director":
        return or_(Panel.authority_id.is_(None), Panel.authority_id == actor.authority_id)
    return false()


# Single objects: loaded through the same filters; outside them is the same NotFound as no row.


T = TypeVar("T")


def _one_in_scope(session: Session, statement: Select[T], noun: str, object_id: str) -> T:
    """The one row the statement finds, or NotFound worded as for an id that names nothing."""
    row = session.scalars(statement).one_or_none()
    if row is None:
        raise NotFound(f"{noun} {object_id!r} does not exist")
    return row


def _request_in(session: Session, request_id: str, scope: ColumnElement[bool], *,
                lock: bool) -> PlacementRequest:  # fmt: skip
    statement = select(PlacementRequest).where(PlacementRequest.id == request_id, scope)
    if lock:  # PostgreSQL: FOR UPDATE; SQLite's BEGIN IMMEDIATE already serialises writers
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return _one_in_scope(session, statement, "request", request_id)


def load_request(
    session: Session, actor: Actor, request_id: str, *, lock: bool = False
) -> PlacementRequest:
    """A request the actor may read (locked until the transaction ends with `lock`)."""
    return _request_in(session, request_id, requests_visible(actor), lock=lock)


def load_requests(session: Session, actor: Actor, request_ids: Sequence[str], *,
                  lock: bool = False) -> dict[str, PlacementRequest]:  # fmt: skip
    """The requests among `request_ids` the actor may read, by id (locked, in id order, until
    the transaction ends with `lock`); an id outside the actor's scope is left out, as one that
    names nothing."""
    statement = (
        select(PlacementRequest)
        .where(PlacementRequest.id.in_(request_ids), requests_visible(actor))
        .order_by(PlacementRequest.id)
    )
    if lock:  # as `_request_in`
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return {request.id: request for request in session.scalars(statement)}


def load_admissible_request(session: Session, actor: Actor, request_id: str) -> PlacementRequest:
    """A request whose admission the actor may record, locked until the transaction ends."""
    return _request_in(session, request_id, requests_admissible(actor), lock=True)


def load_offer(
    session: Session, actor: Actor, offer_id: str, *, lock: bool = False
) -> tuple[Offer, PlacementRequest]:
    """An offer the actor may read and its request (the request locked first with `lock`)."""
    statement = select(Offer).where(Offer.id == offer_id, offers_visible(actor))
    offer = _one_in_scope(session, statement, "offer", offer_id)
    # PostgreSQL: lock the request, then read the offer again under that lock. SQLite's
    # BEGIN IMMEDIATE already serialises writers: nothing read here can have changed.
    lock = lock and session.get_bind().dialect.name == "postgresql"
    request = session.get(
        PlacementRequest, offer.request_id, with_for_update=lock, populate_existing=lock
    )
    if lock:
        session.refresh(offer)
    assert request is not None
    return offer, request


def load_placement(session: Session, actor: Actor, placement_id: str) -> Placement:
    """A placement the actor may read."""
    statement = select(Placement).where(Placement.id == placement_id, placements_visible(actor))
    return _one_in_scope(session, statement, "placement", placement_id)


def load_meeting(session: Session, actor: Actor, meeting_id: str) -> Meeting:
    """A meeting the actor may read."""
    statement = select(Meeting).where(Meeting.id == meeting_id, meetings_visible(actor))
    return _one_in_scope(session, statement, "meeting", meeting_id)


def load_panel(session: Session, actor: Actor, panel_id: str) -> Panel:
    """A panel the actor may read, with its members."""
    statement = (
        select(Panel)
        .where(Panel.id == panel_id, panels_visible(actor))
        .options(selectinload(Panel.members))
    )
    return _one_in_scope(session, statement, "panel", panel_id)


# What a caller sees of an object it may read.


def sees_who_changed(actor: Actor, provider_id: str) -> bool:
    """Whether the actor may see who changed a unit's counts: its own home, or admin."""
    return actor.role == "admin" or (actor.role == "provider" and actor.provider_id == provider_id)


def suppressed_segments(answers: list[int]) -> set[int]:
    """The positions of acceptance segments not to show: each with fewer than
    `SMALLEST_SHOWN_SEGMENT` answers, and, while the hidden ones together hold fewer (so that the
    provider's honest total minus the shown segments would give them away), the next smallest."""
    hidden = {i for i, n in enumerate(answers) if n < SMALLEST_SHOWN_SEGMENT}
    shown = sorted((n, i) for i, n in enumerate(answers) if i not in hidden)
    while hidden and shown and sum(answers[i] for i in hidden) < SMALLEST_SHOWN_SEGMENT:
        hidden.add(shown.pop(0)[1])
    return hidden


# The audit of reads of a child's request from outside its authority.


def outside(actor: Actor, authority_id: str) -> bool:
    """Whether a read by the actor of the authority's request is from outside it (audited)."""
    return actor.authority_id != authority_id


def read_events(actor: Actor, request: PlacementRequest, now: datetime) -> list[dict[str, Any]]:
    """The audit event (as a row, `audit.event`) of a read of a request from outside its
    authority; none for a read from inside it."""
    if not outside(actor, request.authority_id):
        return []
    return [audit.event(actor, "request.read", "request", request.id, at=now)]


def audit_read_in(session: Session, actor: Actor, request: PlacementRequest, now: datetime) -> None:
    """Log, in the caller's write transaction, a read of a request from outside its authority."""
    for row in read_events(actor, request, now):
        audit.add(session, row)


def audit_read(sessions: Sessions, actor: Actor, request: PlacementRequest, now: datetime) -> None:
    """Log a read of one request from outside its authority, in a short write of its own (the
    read itself was made in a read transaction, which never takes SQLite's write lock)."""
    if outside(actor, request.authority_id):
        with sessions.begin() as session:
            audit_read_in(session, actor, request, now)


def audit_list_read(sessions: Sessions, actor: Actor, operation: str,
                    requests: Iterable[tuple[str, str]], now: datetime) -> None:  # fmt: skip
    """Log one event for a list read, naming every request (id, authority) read from outside its
    authority, in a short write of its own; nothing when there is none."""
    ids = sorted({request_id for request_id, authority in requests if outside(actor, authority)})
    if ids:
        with sessions.begin() as session:
            audit.record(session, actor, "request.read_list", "request", operation, at=now,
                         after={"request_ids": ids})  # fmt: skip
