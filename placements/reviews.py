"""Statutory reviews of welfare placements: called ahead of their due date, once, then chased."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from placements import audit, meetings, review_dates, statutory
from placements.auth import SYSTEM, Actor
from placements.config import Settings
from placements.db import Sessions
from placements.models import LocalAuthority, Meeting, Panel, Placement


@dataclass(frozen=True)
class ReviewCalls:
    """What one run of the review-calls job did."""

    called: list[str]
    overdue: list[str]
    cancelled: list[str]
    without_panel: list[str]


def due_date(placement: Placement, nation: str) -> datetime:
    """When the placement's next review must have been held."""
    if placement.next_review_due is not None:
        return placement.next_review_due
    return statutory.first_review_due(placement.admitted_at, nation)


def call_key(placement_id: str, ordinal: int) -> str:
    """The key that lets each review of a placement (the first, the second, ...) be called once.

    It names the review by its place in the series, not by its due date, so a due date that moves
    (a new order) keeps its meeting, and a new date equal to an old one cannot collide with it.
    """
    return f"review:{placement_id}:#{ordinal}"


def _held_reviews(session: Session, placement_id: str) -> int:
    return len(
        session.scalars(
            select(Meeting.id).where(
                Meeting.placement_id == placement_id,
                Meeting.kind == "review",
                Meeting.status == "held",
            )
        ).all()
    )


def call_reviews(sessions: Sessions, settings: Settings, *, now: datetime) -> ReviewCalls:
    """Call each review due within the lead time, flag overdue ones, cancel discharged ones."""
    lead = timedelta(days=settings.review_lead_days)
    with sessions.begin() as session:
        panels = {
            p.authority_id: p for p in session.scalars(select(Panel).where(Panel.kind == "review"))
        }
        called, without_panel = [], []
        active = session.execute(
            select(Placement, LocalAuthority.nation)
            .join(LocalAuthority, LocalAuthority.id == Placement.authority_id)
            .where(Placement.status == "active", Placement.legal_basis == "welfare")
            .order_by(Placement.admitted_at, Placement.id)
        ).all()
        for placement, nation in active:
            due = due_date(placement, nation)
            if now < due - lead:
                continue
            panel = panels.get(placement.authority_id)
            if panel is None:
                without_panel.append(placement.id)
                continue
            if _open_reviews(session, placement.id):
                continue  # called already; a moved due date moved that meeting (`reschedule`)
            meeting = _call(session, placement, panel, due, settings, now)
            if meeting is not None:
                called.append(meeting.id)
        return ReviewCalls(
            called,
            _chase_overdue(session, settings, now),
            _cancel_discharged(session, settings, now),
            without_panel,
        )


def _call(session: Session, placement: Placement, panel: Panel, due: datetime,
          settings: Settings, now: datetime) -> Meeting | None:  # fmt: skip
    held = review_dates.last_review_at(session, placement.id)
    agenda = {
        "review": "subsequent" if held else "first",
        "placement_id": placement.id,
        "request_id": placement.request_id,
        "authority_id": placement.authority_id,
        "unit_id": placement.unit_id,
        "admitted_at": placement.admitted_at.isoformat(),
        "last_review_at": held.isoformat() if held else None,
        "due_by": due.isoformat(),
        "questions": [
            "Do the criteria for keeping the child in secure accommodation still apply?",
            "Is the placement still necessary, or would another kind of accommodation do?",
        ],
    }
    wanted = meetings.MeetingCall(
        call_key=call_key(placement.id, _held_reviews(session, placement.id) + 1),
        kind="review",
        panel_id=panel.id,
        scheduled_for=meetings.review_meeting_time(due, now),
        due_by=due,
        agenda=agenda,
        request_ids=(placement.request_id,),
        placement_id=placement.id,
    )
    return meetings.call(session, wanted, settings=settings, now=now)


def _chase_overdue(session: Session, settings: Settings, now: datetime) -> list[str]:
    """Flag called reviews whose due date has passed with no outcome."""
    late = session.scalars(
        select(Meeting.id).where(
            Meeting.kind == "review", Meeting.status == "called", Meeting.due_by < now
        )
    ).all()
    flagged = []
    for meeting_id in late:
        changed = meetings.change(session, SYSTEM, meeting_id, "meeting.overdue",
                                  when=[Meeting.status == "called"], values={"status": "overdue"},
                                  settings=settings, now=now)  # fmt: skip
        if changed is not None:
            flagged.append(meeting_id)
    return flagged


def _cancel_discharged(session: Session, settings: Settings, now: datetime) -> list[str]:
    """Cancel the open reviews of children who have been discharged."""
    stale = session.scalars(
        select(Meeting.id)
        .join(Placement, Placement.id == Meeting.placement_id)
        .where(Meeting.status.in_(meetings.OPEN_STATUSES), Placement.status != "active")
    ).all()
    return _cancel(session, stale, SYSTEM, settings, now)


def _cancel(session: Session, meeting_ids: Sequence[str], actor: Actor, settings: Settings,
            now: datetime) -> list[str]:  # fmt: skip
    """Cancel the meetings still open among these, telling their members; the ones cancelled."""
    cancelled = []
    for meeting_id in meeting_ids:
        changed = meetings.change(session, actor, meeting_id, "meeting.cancelled",
                                  when=[Meeting.status.in_(meetings.OPEN_STATUSES)],
                                  values={"status": "cancelled"}, settings=settings,
                                  now=now)  # fmt: skip
        if changed is not None:
            cancelled.append(meeting_id)
    return cancelled


def _open_reviews(session: Session, placement_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Meeting.id).where(
                Meeting.placement_id == placement_id,
                Meeting.kind == "review",
                Meeting.status.in_(meetings.OPEN_STATUSES),
            )
        )
    )


def reschedule(session: Session, placement: Placement, actor: Actor, *, settings: Settings,
               now: datetime) -> datetime | None:  # fmt: skip
    """Work out the placement's next review date afresh; a called review moves with it."""
    due = review_dates.next_review_due(session, placement)
    before = placement.next_review_due
    if due is None or due == before:
        return before
    placement.next_review_due = due
    audit.record(session, actor, "placement.review_due", "placement", placement.id, at=now,
                 before={"next_review_due": before.isoformat() if before else None},
                 after={"next_review_due": due.isoformat()})  # fmt: skip
    for meeting_id in _open_reviews(session, placement.id):
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None
        values = {
            "due_by": due,
            "scheduled_for": meetings.review_meeting_time(due, now),
            "agenda": {**meeting.agenda, "due_by": due.isoformat()},
            **({"status": "called"} if due > now else {}),
        }
        meetings.change(session, actor, meeting_id, "meeting.updated",
                        when=[Meeting.status.in_(meetings.OPEN_STATUSES)], values=values,
                        settings=settings, now=now)  # fmt: skip
    return due


def cancel_for_discharge(session: Session, placement_id: str, actor: Actor, *,
                         settings: Settings, now: datetime) -> list[str]:  # fmt: skip
    """Cancel a discharged child's called reviews and tell the panel's members."""
    return _cancel(session, _open_reviews(session, placement_id), actor, settings, now)
