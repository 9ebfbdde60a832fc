"""What a placing authority reads of its children's cases beside the request itself: the offers
sent for one request, and the review meetings of its placements (the director's pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from placements import access
from placements.auth import Actor
from placements.db import Sessions
from placements.meetings import OPEN_STATUSES
from placements.models import Meeting, Offer, Panel, Placement, PlacementRequest
from placements.offers import OfferView, view_of
from placements.paging import Page, window


@dataclass(frozen=True)
class ReviewMeeting:
    """A statutory review of one of the authority's placements, as its director reads it."""

    id: str
    status: str
    panel_name: str
    scheduled_for: datetime
    due_by: datetime | None
    held_at: datetime | None
    recommendation: str | None
    placement_id: str
    request_id: str
    case_reference: str


def request_offers(sessions: Sessions, actor: Actor, request_id: str, *,
                   now: datetime) -> list[OfferView]:  # fmt: skip
    """Every offer sent for a request the actor may read, newest first (a read from outside its
    authority is audited)."""
    access.require(actor, "offers.list")
    with sessions.read() as session:
        request = access.load_request(session, actor, request_id)
        rows = session.scalars(
            select(Offer)
            .where(Offer.request_id == request.id, access.offers_visible(actor))
            .order_by(Offer.created_at.desc(), Offer.id)
        ).all()
        views = [view_of(session, offer, request) for offer in rows]
    access.audit_read(sessions, actor, request, now)
    return views


def review_meetings(sessions: Sessions, actor: Actor, *, still_open: bool, now: datetime,
                    page: int = 1, page_size: int = 50) -> Page[ReviewMeeting]:  # fmt: skip
    """A page of the review meetings of the placements the actor may read: those still to hold
    (called or overdue) soonest first, or the others (held, cancelled) latest first (reads from
    outside an authority are audited, one event for the page)."""
    access.require(actor, "placements.reviews")
    wanted = Meeting.status.in_(OPEN_STATUSES)
    statement = (
        select(Meeting, Placement, PlacementRequest.case_reference, Panel.name)
        .join(Placement, Placement.id == Meeting.placement_id)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .join(Panel, Panel.id == Meeting.panel_id)
        .where(Meeting.kind == "review", access.placements_visible(actor))
        .where(wanted if still_open else ~wanted)
    )
    if still_open:
        statement = statement.order_by(Meeting.scheduled_for, Meeting.id)
    else:
        statement = statement.order_by(Meeting.scheduled_for.desc(), Meeting.id.desc())
    with sessions.read() as session:
        rows, total = window(session, statement, page=page, page_size=page_size)
    found = [
        ReviewMeeting(
            id=meeting.id, status=meeting.status, panel_name=panel_name,
            scheduled_for=meeting.scheduled_for, due_by=meeting.due_by, held_at=meeting.held_at,
            recommendation=meeting.recommendation, placement_id=placement.id,
            request_id=placement.request_id, case_reference=case_reference,
        )
        for meeting, placement, case_reference, panel_name in rows
    ]  # fmt: skip
    read = [(placement.request_id, placement.authority_id) for _, placement, _, _ in rows]
    access.audit_list_read(sessions, actor, "placements.reviews", read, now)
    return Page(found, total, page, page_size)
