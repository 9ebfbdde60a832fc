"""When a welfare placement's next statutory review is due: from admission, reviews and order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from placements import statutory
from placements.models import LocalAuthority, Meeting, Placement, PlacementRequest


def last_review_at(session: Session, placement_id: str) -> datetime | None:
    """When the placement's latest held review took place."""
    return session.scalars(
        select(Meeting.held_at)
        .where(
            Meeting.placement_id == placement_id,
            Meeting.kind == "review",
            Meeting.status == "held",
        )
        .order_by(Meeting.held_at.desc())
    ).first()


def next_review_due(session: Session, placement: Placement) -> datetime | None:
    """The next review's due date (None for a placement that has none: justice or discharged)."""
    if placement.legal_basis != "welfare" or placement.status != "active":
        return None
    authority = session.get(LocalAuthority, placement.authority_id)
    request = session.get(PlacementRequest, placement.request_id)
    assert authority is not None and request is not None
    last = last_review_at(session, placement.id)
    due = (
        statutory.next_review_due(last, authority.nation)
        if last is not None
        else statutory.first_review_due(placement.admitted_at, authority.nation)
    )
    # Only an order that was in force during the placement can bring its review forward.
    has_order = (
        request.order_kind != "none"
        and request.order_expires_at is not None
        and request.order_expires_at > placement.admitted_at
    )
    return statutory.review_due(
        due,
        order_granted_at=request.order_granted_at if has_order else None,
        order_expires_at=request.order_expires_at if has_order else None,
        last_review_at=last,
    )
