"""Statutory reviews: due dates in England and Wales, called ahead once, chased, and stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from placements import meetings, reviews
from placements.auth import Actor
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Forbidden, InvalidTransition, NotFound
from placements.models import Meeting, Notification, Placement
from tests.placements.casework import admit, discharge

SETTINGS = Settings()
ADMITTED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
CHAIR = Actor("chair.southwark@example.org", "panel", panel_id="review-southwark")
MEMBER = Actor("independent.southwark@example.org", "panel", panel_id="review-southwark")
STRANGER = Actor("chair.surrey@example.org", "panel", panel_id="review-surrey")
# Southwark's review panel, all three (Carys Testwell is independent): a quorate review.
QUORUM = ("Alex Example", "Bindi Sample", "Carys Testwell")


def review_meetings(sessions: Sessions) -> list[Meeting]:
    with sessions.read() as session:
        return list(session.scalars(select(Meeting).order_by(Meeting.called_at)))


def outcome(at: datetime) -> meetings.Outcome:
    return meetings.Outcome(at, QUORUM, "continue", "criteria met")


def test_an_english_first_review_is_due_in_a_month_and_called_a_week_ahead(
    seeded: Sessions,
) -> None:
    placement_id = admit(seeded, authority_id="southwark", admitted_at=ADMITTED)
    due = datetime(2026, 2, 5, 10, 0, tzinfo=UTC)
    early = reviews.call_reviews(seeded, SETTINGS, now=due - timedelta(days=7, minutes=1))
    assert early.called == []
    on_time = reviews.call_reviews(seeded, SETTINGS, now=due - timedelta(days=7))
    [meeting] = review_meetings(seeded)
    assert on_time.called == [meeting.id]
    assert (meeting.kind, meeting.panel_id, meeting.placement_id, meeting.due_by) == (
        "review",
        "review-southwark",
        placement_id,
        due,
    )
    assert meeting.called_at <= datetime(2026, 1, 29, 23, 59, tzinfo=UTC)
    assert meeting.scheduled_for < due and meeting.agenda["review"] == "first"
    assert reviews.call_reviews(seeded, SETTINGS, now=due - timedelta(days=6)).called == []
    assert len(review_meetings(seeded)) == 1


@pytest.mark.parametrize(
    ("admitted", "due"),
    [
        (ADMITTED, datetime(2026, 1, 26, 23, 59, tzinfo=UTC)),
        # Christmas, the Boxing Day substitute and New Year's Day are skipped.
        (datetime(2026, 12, 21, 10, 0, tzinfo=UTC), datetime(2027, 1, 14, 23, 59, tzinfo=UTC)),
    ],
)
def test_a_welsh_first_review_is_due_in_fifteen_working_days(
    seeded: Sessions, admitted: datetime, due: datetime
) -> None:
    admit(seeded, authority_id="cardiff", admitted_at=admitted)
    reviews.call_reviews(seeded, SETTINGS, now=due - timedelta(days=7))
    [meeting] = review_meetings(seeded)
    assert (meeting.panel_id, meeting.due_by) == ("review-cardiff", due)


def test_an_outcome_sets_the_next_review_within_three_months_and_it_is_called(
    seeded: Sessions,
) -> None:
    placement_id = admit(seeded, authority_id="southwark", admitted_at=ADMITTED)
    reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 1, 29, 10, tzinfo=UTC))
    [first] = review_meetings(seeded)
    held_at = datetime(2026, 2, 2, 11, tzinfo=UTC)
    view = meetings.record_outcome(seeded, CHAIR, first.id, outcome(held_at), settings=SETTINGS,
                                   now=held_at + timedelta(hours=2))  # fmt: skip
    assert view.status == "held" and view.outcome is not None
    assert view.outcome.next_review_due == datetime(2026, 5, 2, 11, tzinfo=UTC)
    later = reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 4, 25, 11, tzinfo=UTC))
    assert len(later.called) == 1
    second = review_meetings(seeded)[-1]
    assert second.due_by == datetime(2026, 5, 2, 11, tzinfo=UTC)
    assert second.agenda["review"] == "subsequent" and second.placement_id == placement_id


def test_a_review_with_no_outcome_by_its_due_date_is_overdue(seeded: Sessions) -> None:
    admit(seeded, authority_id="southwark", admitted_at=ADMITTED)
    reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 1, 30, tzinfo=UTC))
    late = reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 2, 5, 10, 1, tzinfo=UTC))
    [meeting] = review_meetings(seeded)
    assert late.overdue == [meeting.id] and meeting.status == "overdue"
    again = reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 2, 5, 11, tzinfo=UTC))
    assert again.overdue == [] and again.called == []
    with seeded.read() as session:
        events = session.scalars(select(Notification.event)).all()
    assert sorted(set(events)) == ["meeting.called", "meeting.overdue"]


def test_discharge_cancels_the_open_review_and_stops_calling(seeded: Sessions) -> None:
    placement_id = admit(seeded, authority_id="southwark", admitted_at=ADMITTED)
    reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 1, 30, tzinfo=UTC))
    discharge(seeded, placement_id, datetime(2026, 2, 1, tzinfo=UTC))
    result = reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 2, 2, tzinfo=UTC))
    assert len(result.cancelled) == 1
    assert reviews.call_reviews(seeded, SETTINGS, now=datetime(2026, 6, 1, tzinfo=UTC)).called == []
    assert [m.status for m in review_meetings(seeded)] == ["cancelled"]


def test_only_the_chair_records_an_outcome_and_only_members_acknowledge(
    seeded: Sessions,
) -> None:
    admit(seeded, authority_id="southwark", admitted_at=ADMITTED)
    now = datetime(2026, 1, 30, tzinfo=UTC)
    reviews.call_reviews(seeded, SETTINGS, now=now)
    [meeting] = review_meetings(seeded)
    view = meetings.acknowledge(seeded, MEMBER, meeting.id, now=now)
    assert view.acknowledged_by == ["independent.southwark@example.org"]
    assert meetings.acknowledge(seeded, MEMBER, meeting.id, now=now).acknowledged_by == [
        "independent.southwark@example.org"
    ]
    with pytest.raises(Forbidden):
        meetings.record_outcome(seeded, MEMBER, meeting.id, outcome(now), settings=SETTINGS,
                                now=now)  # fmt: skip
    with pytest.raises(NotFound):
        meetings.acknowledge(seeded, STRANGER, meeting.id, now=now)
    meetings.record_outcome(seeded, CHAIR, meeting.id, outcome(now), settings=SETTINGS, now=now)
    with pytest.raises(InvalidTransition):
        meetings.record_outcome(seeded, CHAIR, meeting.id, outcome(now), settings=SETTINGS,
                                now=now)  # fmt: skip
    with seeded.read() as session:
        placement = session.scalars(select(Placement)).one()
    assert placement.next_review_due == datetime(2026, 4, 30, tzinfo=UTC)
