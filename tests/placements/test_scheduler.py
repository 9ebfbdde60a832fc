"""The scheduler's wiring and leadership: schedules, lease rows and advisory locks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from placements import jobs, scheduler
from placements.config import Settings
from placements.db import Sessions
from placements.errors import NotFound

FIXED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_each_job_is_scheduled_on_its_interval(sessions: Sessions) -> None:
    built = scheduler.build(sessions, Settings(), start=FIXED)
    after = FIXED + timedelta(seconds=1)
    next_runs = {
        job.id: job.trigger.get_next_fire_time(None, after) - FIXED for job in built.get_jobs()
    }
    assert next_runs == {
        "demand-check": timedelta(minutes=5),
        "review-calls": timedelta(hours=1),
        "offer-expiry": timedelta(minutes=1),
        "notify": timedelta(seconds=30),
    }
    assert not built.running


def test_the_intervals_come_from_the_settings() -> None:
    settings = Settings.from_mapping({"PLACEMENTS_DEMAND_CHECK_SECONDS": "60"})
    assert jobs.interval_seconds("demand-check", settings) == 60
    assert Settings.from_mapping({}).scheduler_lease_seconds == 30


def test_a_lease_is_held_by_one_scheduler_until_it_expires(sessions: Sessions) -> None:
    first = scheduler.LeaseRow(sessions, 2)
    second = scheduler.LeaseRow(sessions, 2)
    assert first.acquire(FIXED) and not second.acquire(FIXED + timedelta(seconds=1))
    assert first.renew(FIXED + timedelta(seconds=1))
    assert not second.acquire(FIXED + timedelta(seconds=2.5))
    assert second.acquire(FIXED + timedelta(seconds=3.5))
    assert not first.renew(FIXED + timedelta(seconds=3.6))
    second.release()
    assert first.acquire(FIXED + timedelta(seconds=3.7))


def test_an_advisory_lock_is_held_by_one_connection(sessions: Sessions) -> None:
    if sessions.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    url = sessions.engine.url.render_as_string(hide_password=False)
    first, second = scheduler.AdvisoryLock(url), scheduler.AdvisoryLock(url)
    try:
        assert first.acquire(FIXED) and first.renew(FIXED)
        assert not second.acquire(FIXED)
        first.release()
        assert second.acquire(FIXED) and not first.renew(FIXED)
    finally:
        first.release()
        second.release()


def test_jobs_run_by_name_with_the_given_clock(seeded: Sessions) -> None:
    assert jobs.run("offer-expiry", seeded, Settings(), now=FIXED) == "expired 0"
    assert jobs.run("review-calls", seeded, Settings(), now=FIXED).startswith("called 0")
    with pytest.raises(NotFound):
        jobs.run("tea-break", seeded, Settings(), now=FIXED)
