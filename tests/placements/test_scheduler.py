"""The scheduler's wiring and leadership: schedules, lease rows and advisory locks."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from placements import jobs, scheduler
from placements.clock import FixedClock
from placements.config import Settings
from placements.db import Sessions
from placements.errors import NotFound
from placements.models import JobRun
from tests.conftest import fresh_postgresql_database

FIXED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_each_job_runs_first_when_given_then_on_its_interval(sessions: Sessions) -> None:
    first = {name: FIXED + timedelta(seconds=n) for n, name in enumerate(jobs.JOBS)}
    built = scheduler.Leader(sessions, Settings()).schedule(first)
    assert {job.id: job.next_run_time for job in built.get_jobs()} == first
    next_runs = {
        job.id: job.trigger.get_next_fire_time(first[job.id], FIXED) - first[job.id]
        for job in built.get_jobs()
    }
    assert next_runs == {
        "demand-check": timedelta(minutes=5),
        "review-calls": timedelta(hours=1),
        "offer-expiry": timedelta(minutes=1),
        "notify": timedelta(seconds=30),
    }
    assert not built.running


def test_a_new_leader_runs_at_once_what_is_due_or_never_ran_and_the_rest_when_due() -> None:
    last = {
        "review-calls": FIXED - timedelta(minutes=59, seconds=45),
        "demand-check": FIXED - timedelta(hours=5),
        "notify": FIXED - timedelta(seconds=10),
    }
    assert scheduler.first_runs(last, Settings(), FIXED) == {
        "review-calls": FIXED + timedelta(seconds=15),
        "demand-check": FIXED,
        "offer-expiry": FIXED,
        "notify": FIXED + timedelta(seconds=20),
    }


def test_each_jobs_last_completed_run_is_recorded(seeded: Sessions) -> None:
    leader = scheduler.Leader(seeded, Settings(), clock=FixedClock(FIXED))
    assert scheduler.last_runs(seeded) == {}
    leader.run_job("offer-expiry")
    leader.run_job("offer-expiry")
    scheduler.record_run(seeded, "review-calls", started=FIXED, finished=FIXED, holder="h",
                         result="called 0")  # fmt: skip
    runs = scheduler.last_runs(seeded)
    assert set(runs) == {"offer-expiry", "review-calls"} and runs["review-calls"] == FIXED
    with seeded.read() as session:
        row = session.get(JobRun, "offer-expiry")
        assert row is not None and row.result == "expired 0" and row.finished_at >= row.started_at


def test_a_leader_that_lost_its_lease_runs_no_job(seeded: Sessions) -> None:
    lease = scheduler.LeaseRow(seeded, 30)
    leader = scheduler.Leader(seeded, Settings(), leadership=lease, clock=FixedClock(FIXED))
    assert lease.acquire(scheduler.REAL_TIME.now())
    leader.run_job("offer-expiry")
    assert "offer-expiry" in scheduler.last_runs(seeded)
    assert scheduler.LeaseRow(seeded, 30).take(scheduler.REAL_TIME.now())
    leader.run_job("review-calls")
    assert "review-calls" not in scheduler.last_runs(seeded) and leader.lost.is_set()


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
    assert not first.expired(FIXED + timedelta(seconds=5)) and first.expired(FIXED + timedelta(6))
    assert second.take(FIXED + timedelta(seconds=3.8)) and not first.renew(FIXED + timedelta(4))


# AdvisoryLock.evict reads pg_locks, which lists every database's advisory locks: the tests that
# take or evict the scheduler's lock share one xdist worker (tests/api/test_scheduler_processes.py).
@pytest.mark.xdist_group("scheduler_advisory_lock")
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
        assert first.evict() == 1 and not second.renew(FIXED) and first.acquire(FIXED)
    finally:
        first.release()
        second.release()


@pytest.mark.xdist_group("scheduler_advisory_lock")
def test_a_standby_evicts_only_its_own_databases_leader(sessions: Sessions) -> None:
    if sessions.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    other = scheduler.AdvisoryLock(fresh_postgresql_database("other_service"))
    mine = scheduler.AdvisoryLock(sessions.engine.url.render_as_string(hide_password=False))
    try:
        assert other.acquire(FIXED)  # another service's leader, on the same server
        assert mine.evict() == 0 and other.renew(FIXED)  # it lives on
        assert mine.acquire(FIXED) and other.renew(FIXED)  # one lock per database
    finally:
        other.release()
        mine.release()
        other.engine.dispose()


@pytest.mark.xdist_group("scheduler_advisory_lock")
def test_on_postgresql_a_standby_evicts_a_leader_past_its_lease(sessions: Sessions) -> None:
    if sessions.engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    url = sessions.engine.url.render_as_string(hide_password=False)
    first = scheduler.LockAndLease(url, sessions, 2)
    second = scheduler.LockAndLease(url, sessions, 2)
    try:
        assert first.acquire(FIXED) and first.renew(FIXED + timedelta(seconds=1))
        assert not second.acquire(FIXED + timedelta(seconds=2.5))
        # The first stops renewing (paused) while its session, and so its lock, lives on.
        assert second.acquire(FIXED + timedelta(seconds=3.5))
        assert not first.renew(FIXED + timedelta(seconds=3.6))
        assert not first.acquire(FIXED + timedelta(seconds=3.7))
    finally:
        first.release()
        second.release()


def test_jobs_run_by_name_with_the_given_clock(seeded: Sessions) -> None:
    assert jobs.run("offer-expiry", seeded, Settings(), now=FIXED) == "expired 0"
    assert jobs.run("review-calls", seeded, Settings(), now=FIXED).startswith("called 0")
    with pytest.raises(NotFound):
        jobs.run("tea-break", seeded, Settings(), now=FIXED)


# Under Debian's faketime with the monotonic clock shifted too (`faketime '+400 days' make
# pytest`), a timed wait on a lock or an event in this process never ends (the process tests run
# their schedulers with FAKETIME_DONT_FAKE_MONOTONIC, tests/api/test_scheduler_processes.py).
MONOTONIC_FAKED = "faketime" in os.environ.get("LD_PRELOAD", "") and not os.environ.get(
    "FAKETIME_DONT_FAKE_MONOTONIC"
)


# Before, a leader sat in APScheduler's BlockingScheduler.start() and never looked at `stop`.
@pytest.mark.xdist_group("scheduler_advisory_lock")
@pytest.mark.skipif(MONOTONIC_FAKED, reason="timed waits never end under a faked monotonic clock")
def test_a_leading_run_returns_soon_after_its_stop_event_and_releases_the_lease(
    seeded: Sessions,
) -> None:
    url = seeded.engine.url.render_as_string(hide_password=False)
    # The lease's default 30 s: no renewal is in flight when it stops.
    settings = Settings.from_mapping({"PLACEMENTS_DATABASE_URL": url})
    stop = threading.Event()
    running = threading.Thread(
        target=scheduler.run, args=(seeded, settings),
        kwargs={"clock": FixedClock(FIXED), "stop": stop}, daemon=True,
    )  # fmt: skip
    running.start()
    try:
        for _ in range(200):  # it leads once it has run the jobs that never ran
            if len(scheduler.last_runs(seeded)) == len(jobs.JOBS):
                break
            time.sleep(0.05)
        assert set(scheduler.last_runs(seeded)) == set(jobs.JOBS)
    finally:
        stop.set()
        running.join(timeout=5)
    assert not running.is_alive()
    # Released: another scheduler takes over at once.
    assert scheduler.LeaseRow(seeded, 30).acquire(scheduler.REAL_TIME.now())


def test_sigterms_handler_only_marks_the_request() -> None:
    request = scheduler.StopRequest()
    # No time to wait (a timed wait would never end under faketime): it says no stop was asked.
    assert not request.asked() and not request.wait(0)
    request.handle(signal.SIGTERM, None)
    assert request.asked() and request.wait(60) and not request.event.is_set()
