"""Admission turns a reservation into an occupied bed and a placement; discharge frees the bed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from placements import access, audit, orders, review_dates, reviews, statutory
from placements.auth import Actor
from placements.availability import move_beds
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, InvalidTransition
from placements.ids import new_id
from placements.models import Offer, Placement, PlacementRequest
from placements.paging import Page, window
from placements.requests import lock_request


@dataclass(frozen=True)
class PlacementView:
    """A child's placement in a unit."""

    id: str
    request_id: str
    unit_id: str
    provider_id: str
    authority_id: str
    legal_basis: str
    status: str
    admitted_at: datetime
    discharged_at: datetime | None
    destination: str | None
    next_review_due: datetime | None


def view_of(placement: Placement) -> PlacementView:
    """Describe a placement."""
    return PlacementView(
        placement.id, placement.request_id, placement.unit_id, placement.provider_id,
        placement.authority_id, placement.legal_basis, placement.status, placement.admitted_at,
        placement.discharged_at, placement.destination, placement.next_review_due,
    )  # fmt: skip


def admit(sessions: Sessions, actor: Actor, request_id: str, admitted_at: datetime, *,
          now: datetime) -> PlacementView:  # fmt: skip
    """Admit a reserved child: the reserved bed becomes occupied and a placement starts."""
    access.require(actor, "requests.admit")
    if admitted_at > now:
        raise InvalidInput("an admission is recorded once it has happened",
                           errors={"admitted_at": ["must not be in the future"]})  # fmt: skip
    with sessions.begin() as session:
        request = access.load_admissible_request(session, actor, request_id)
        offer = session.scalars(
            select(Offer).where(Offer.request_id == request_id, Offer.status == "accepted")
        ).first()
        if request.status != "reserved" or offer is None:
            raise InvalidTransition(f"request {request_id} is {request.status}, not reserved")
        _check_admission_time(session, request, offer, admitted_at)
        if not move_beds(session, offer.unit_id, reserved=-1, occupied=+1, by=actor.label,
                         cause="admission", now=now):  # fmt: skip
            raise Conflict(f"unit {offer.unit_id} holds no reservation to turn into a placement")
        placement = Placement(
            id=new_id("PLC"), request_id=request.id, unit_id=offer.unit_id,
            provider_id=offer.provider_id, authority_id=request.authority_id,
            legal_basis=request.legal_basis, flags=list(request.flags), status="active",
            admitted_at=admitted_at, admitted_by=actor.label,
        )  # fmt: skip
        placement.next_review_due = review_dates.next_review_due(session, placement)
        session.add(placement)
        request.status, request.updated_at = "placed", now
        audit.record(session, actor, "placement.admit", "placement", placement.id, at=now,
                     after={"request_id": request.id, "unit_id": offer.unit_id,
                            "admitted_at": admitted_at.isoformat()})  # fmt: skip
        session.flush()
        return view_of(placement)


def _check_admission_time(session: Session, request: PlacementRequest, offer: Offer,
                          admitted_at: datetime) -> None:  # fmt: skip
    """Refuse an admission before the request, the home's acceptance or a needed order."""
    # A welfare child may arrive before its order (the 72 hours); a remand or sentence may not.
    problems = []
    if admitted_at < request.created_at:
        problems.append(f"before the request was made ({request.created_at.isoformat()})")
    if offer.answered_at is not None and admitted_at < offer.answered_at:
        problems.append(f"before the home accepted the offer ({offer.answered_at.isoformat()})")
    if request.legal_basis in statutory.ORDER_NEEDED_AT_ADMISSION:
        granted = min((o.granted_at for o in orders.recorded(session, request.id)), default=None)
        if granted is None or admitted_at < granted:
            problems.append(
                f"before the {request.legal_basis} order was granted"
                + (f" ({granted.isoformat()})" if granted else ": record it first")
            )
    if problems:
        raise InvalidInput("the admission time is not possible", errors={"admitted_at": problems})


def discharge(sessions: Sessions, actor: Actor, placement_id: str, discharged_at: datetime,
              destination: str, *, settings: Settings, now: datetime) -> PlacementView:  # fmt: skip
    """Discharge a placed child, free the bed and cancel the child's called review at once."""
    access.require(actor, "placements.discharge")
    if discharged_at > now:
        raise InvalidInput("a discharge is recorded once it has happened",
                           errors={"discharged_at": ["must not be in the future"]})  # fmt: skip
    with sessions.begin() as session:
        placement = access.load_placement(session, actor, placement_id)
        request = lock_request(session, placement.request_id)
        assert request is not None
        session.refresh(placement)
        if placement.status != "active":
            raise InvalidTransition(f"placement {placement_id} is {placement.status}")
        if discharged_at < placement.admitted_at:
            raise InvalidInput(
                "discharged before admission", errors={"discharged_at": ["before admitted_at"]}
            )
        # A home may already have reported the child gone; then there is no bed left to free.
        move_beds(session, placement.unit_id, occupied=-1, by=actor.label, cause="discharge",
                  now=now)  # fmt: skip
        placement.status, placement.discharged_at = "discharged", discharged_at
        placement.destination, placement.next_review_due = destination, None
        request.status, request.updated_at = "discharged", now
        cancelled = reviews.cancel_for_discharge(session, placement.id, actor, settings=settings,
                                                 now=now)  # fmt: skip
        audit.record(session, actor, "placement.discharge", "placement", placement.id, at=now,
                     before={"status": "active"},
                     after={"status": "discharged", "destination": destination,
                            "cancelled_reviews": cancelled})  # fmt: skip
        return view_of(placement)


def get(sessions: Sessions, actor: Actor, placement_id: str) -> PlacementView:
    """One placement (its director, its home, or admin)."""
    access.require(actor, "placements.get")
    with sessions.read() as session:
        return view_of(access.load_placement(session, actor, placement_id))


def list_placements(sessions: Sessions, actor: Actor, *, status: str | None = None,
                    page: int = 1, page_size: int = 50) -> Page[PlacementView]:  # fmt: skip
    """A page of the placements of the director's authority, the provider's units, or all
    (admin), the latest admitted first."""
    access.require(actor, "placements.list")
    statement = (
        select(Placement)
        .where(access.placements_visible(actor))
        .order_by(Placement.admitted_at.desc(), Placement.id)
    )
    if status:
        statement = statement.where(Placement.status == status)
    with sessions.read() as session:
        rows, total = window(session, statement, page=page, page_size=page_size)
        return Page([view_of(p) for (p,) in rows], total, page, page_size)
