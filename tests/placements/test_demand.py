"""The demand check: thresholds, escalation episodes and exactly one meeting per episode."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from placements import demand, panels, thresholds
from placements.auth import SYSTEM
from placements.config import Settings
from placements.db import Sessions
from placements.models import EscalationEpisode, Meeting, Notification
from tests.conftest import NOW
from tests.placements.casework import open_requests, withdraw

SETTINGS = Settings()
T = NOW + timedelta(hours=1)  # a Saturday morning; the seed's counts are an hour old


def count(sessions: Sessions, model: type) -> int:
    with sessions.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def only_meeting(sessions: Sessions) -> Meeting:
    with sessions.read() as session:
        return session.scalars(select(Meeting)).one()


def test_26_open_welfare_requests_call_one_meeting_and_a_rerun_calls_none(seeded: Sessions) -> None:
    open_requests(seeded, 26, at=T - timedelta(hours=1))
    first = demand.check(seeded, SETTINGS, now=T)
    assert (first.episode, first.level) == ("opened", "amber")
    assert [b.rule for b in first.breaches] == ["open_welfare_requests"]
    meeting = only_meeting(seeded)
    assert (meeting.kind, meeting.priority, meeting.panel_id) == (
        "escalation",
        "amber",
        "escalation-national",
    )
    # Next working day at 10:00 London time (GMT in November).
    assert meeting.scheduled_for == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert count(seeded, Notification) == 3
    again = demand.check(seeded, SETTINGS, now=T + timedelta(minutes=5))
    assert (again.episode, again.meeting_id) == ("continued", meeting.id)
    assert count(seeded, Meeting) == 1 and count(seeded, Notification) == 3


def test_red_updates_the_meeting_and_notifies_again_and_a_return_opens_a_new_episode(
    seeded: Sessions,
) -> None:
    first_batch = open_requests(seeded, 26, at=T - timedelta(hours=1))
    demand.check(seeded, SETTINGS, now=T)
    more = open_requests(seeded, 12, at=T)
    raised = demand.check(seeded, SETTINGS, now=T + timedelta(minutes=5))
    assert (raised.episode, raised.level) == ("raised", "red")
    meeting = only_meeting(seeded)
    assert (meeting.priority, meeting.sequence) == ("red", 1)
    assert meeting.scheduled_for <= T + timedelta(minutes=5, hours=4)
    assert count(seeded, Notification) == 6
    assert demand.check(seeded, SETTINGS, now=T + timedelta(minutes=10)).episode == "continued"
    assert count(seeded, Notification) == 6
    withdraw(seeded, first_batch[:13])
    assert demand.check(seeded, SETTINGS, now=T + timedelta(minutes=15)).episode == "closed"
    assert demand.check(seeded, SETTINGS, now=T + timedelta(minutes=20)).episode == "clear"
    open_requests(seeded, 1, at=T)
    reopened = demand.check(seeded, SETTINGS, now=T + timedelta(minutes=25))
    assert reopened.episode == "opened" and reopened.meeting_id != meeting.id
    assert count(seeded, Meeting) == 2 and count(seeded, EscalationEpisode) == 2
    assert len(more) == 12


def test_a_red_breach_is_called_within_four_hours(seeded: Sessions) -> None:
    open_requests(seeded, 38, at=T - timedelta(hours=1))
    result = demand.check(seeded, SETTINGS, now=T)
    meeting = only_meeting(seeded)
    assert result.level == "red" and meeting.priority == "red"
    assert T < meeting.scheduled_for <= T + timedelta(hours=4)


def test_the_agenda_names_requests_by_id_never_by_case_reference(seeded: Sessions) -> None:
    ids = open_requests(seeded, 26, at=T - timedelta(days=15))
    demand.check(seeded, SETTINGS, now=T + timedelta(days=2))
    meeting = only_meeting(seeded)
    rules = {r["rule"] for r in meeting.agenda["rules"]}
    assert {"open_welfare_requests", "longest_wait_days", "stale_availability_hours"} <= rules
    assert sorted(meeting.request_ids) == sorted(ids)
    assert "CASE-" not in json.dumps(meeting.agenda)
    snapshot = meeting.agenda["snapshot"]
    assert snapshot["open_requests"] == {"welfare": 26}
    assert snapshot["stale_homes"] and snapshot["free_beds"]["england"]


def test_a_rule_turned_off_calls_nothing(seeded: Sessions) -> None:
    change = {"open_welfare_requests": thresholds.RuleChange(enabled=False, amber=25, red=37)}
    thresholds.change(seeded, SYSTEM, change, now=T)
    open_requests(seeded, 30, at=T - timedelta(hours=1))
    assert demand.check(seeded, SETTINGS, now=T).episode == "clear"
    assert count(seeded, Meeting) == 0


def test_no_free_welfare_bed_is_red(seeded: Sessions) -> None:
    change = {"free_welfare_beds": thresholds.RuleChange(enabled=True, red=1000)}
    thresholds.change(seeded, SYSTEM, change, now=T)
    result = demand.check(seeded, SETTINGS, now=T)
    assert result.level == "red" and [b.rule for b in result.breaches] == ["free_welfare_beds"]


def test_review_panels_that_cannot_sit_are_in_the_snapshot(seeded: Sessions) -> None:
    lone = panels.MemberSpec("A", "a@example.org", "chair", True)
    spec = panels.PanelSpec("One", "review", authority_id="york", members=(lone,))
    panels.update(seeded, SYSTEM, "review-york", spec, now=T)
    snapshot = demand.check(seeded, SETTINGS, now=T).snapshot
    assert [p["panel_id"] for p in snapshot["review_panels_unable_to_sit"]] == ["review-york"]


def test_three_checks_at_once_call_exactly_one_meeting(seeded: Sessions) -> None:
    open_requests(seeded, 26, at=T - timedelta(hours=1))
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def check() -> None:
        barrier.wait()
        try:
            demand.check(seeded, SETTINGS, now=T)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=check) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert count(seeded, Meeting) == 1 and count(seeded, EscalationEpisode) == 1
