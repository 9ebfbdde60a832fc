"""The scheduler process: one leader per database runs the jobs; any other waits as standby.

Leadership is a lease row with a deadline (`scheduler_lease`) on every database, and on PostgreSQL
also a session advisory lock. A leader checks that it still leads before each job (fencing), so a
leader that was paused or hung past its deadline runs nothing once another has taken over. Each
job's last run is kept in `job_run`: a new leader runs at once every job that is due by it (or that
never ran), whatever the interval, so frequent leader changes never starve an hourly job.

SIGTERM only marks the process as stopping: the main thread, which waits in short slices while
APScheduler's own thread submits the jobs, notices the mark and stops. (A handler that raised
could land anywhere in the main thread: inside APScheduler's job submission, which logs and
swallows any exception, the stop was lost.)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from apscheduler.executors.base import BaseExecutor
from apscheduler.executors.base import run_job as run_scheduled
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine, create_engine, select, text, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from placements import ids, jobs
from placements.clock import Clock, SystemClock
from placements.config import Settings
from placements.db import Sessions
from placements.ids import IdSource
from placements.models import JobRun, SchedulerLease

LEASE_NAME = "scheduler"
# pg_try_advisory_lock key of the scheduler: any fixed 64-bit number unique to this service.
ADVISORY_LOCK_KEY = 0x706C6163656D6E74
# How pg_locks shows a bigint advisory key: its high and low 32 bits, objsubid 1.
LOCK_CLASSID, LOCK_OBJID = ADVISORY_LOCK_KEY >> 32, ADVISORY_LOCK_KEY & 0xFFFFFFFF
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
# Leases and job runs measure real elapsed time, whatever the service's clock says (a fixed or
# shifted clock must neither keep a dead leader's lease alive nor make a job never due).
REAL_TIME = SystemClock()
# How long the main thread waits at a time before it looks again whether it was asked to stop.
SLICE_SECONDS = 0.25
log = logging.getLogger("placements.scheduler")


class Leadership(Protocol):
    """A way to be the only active scheduler of a database."""

    holder: str

    def acquire(self, now: datetime) -> bool:
        """Become the leader if nobody is; True when this process leads."""

    def renew(self, now: datetime) -> bool:
        """Stay the leader; False once leadership has been lost."""

    def release(self) -> None:
        """Stop leading, so that a standby takes over at once."""


def _holder_name() -> str:
    # Random whatever the id source: two schedulers must never share a holder name.
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class AdvisoryLock:
    """PostgreSQL: a session advisory lock held on a connection that never returns to a pool."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.connection: Connection | None = None

    def acquire(self, now: datetime) -> bool:
        """Try the lock on the dedicated connection."""
        try:
            if self.connection is None:
                self.connection = self.engine.connect()
            held = self.connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar_one()
            return bool(held)
        except DBAPIError:
            self._drop()
            return False

    def renew(self, now: datetime) -> bool:
        """The lock lasts as long as the connection: check that it is alive and still holds it."""
        if self.connection is None:
            return False
        try:
            held = self.connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid()"
                )
            ).scalar_one()
            return bool(held)
        except DBAPIError:
            self._drop()
            return False

    def evict(self) -> int:
        """End the database session of whoever holds the lock (a leader past its lease)."""
        with self.engine.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))"
                    " FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid::bigint = :classid AND objid::bigint = :objid"
                    " AND objsubid = 1 AND pid <> pg_backend_pid()"
                    # pg_locks lists every database's locks: only this database's leader.
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                ),
                {"classid": LOCK_CLASSID, "objid": LOCK_OBJID},
            ).scalar_one()
        return int(ended)

    def release(self) -> None:
        """Unlock, then close the dedicated connection (closing alone unlocks a moment later)."""
        if self.connection is not None:
            with contextlib.suppress(DBAPIError):
                self.connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
        self._drop()
        self.engine.dispose()

    def _drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(DBAPIError):
                self.connection.close()
            self.connection = None


class LeaseRow:
    """A lease row that the leader renews before its deadline; anyone may take it after."""

    def __init__(self, sessions: Sessions, seconds: float, holder: str | None = None) -> None:
        self.sessions = sessions
        self.length = timedelta(seconds=seconds)
        self.holder = holder or _holder_name()

    def acquire(self, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours."""
        return self._take(now, force=False)

    def take(self, now: datetime) -> bool:
        """Take the lease whoever holds it (the caller has proved the holder gone)."""
        return self._take(now, force=True)

    def _take(self, now: datetime, *, force: bool) -> bool:
        with self.sessions.begin() as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            created = session.execute(
                insert(SchedulerLease)
                .values(name=LEASE_NAME, holder=self.holder, expires_at=now + self.length)
                .on_conflict_do_nothing()
                .returning(SchedulerLease.name)
            ).scalar_one_or_none()
            if created is not None:
                return True
            ours_or_free = (SchedulerLease.holder == self.holder) | (
                SchedulerLease.expires_at < now
            )
            taken = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, true() if force else ours_or_free)
                .values(holder=self.holder, expires_at=now + self.length)
                .returning(SchedulerLease.name)
            ).scalar_one_or_none()
            return taken is not None

    def expired(self, now: datetime) -> bool:
        """Whether nobody holds the lease, or its holder let its deadline pass."""
        with self.sessions.read() as session:
            deadline = session.scalar(
                select(SchedulerLease.expires_at).where(SchedulerLease.name == LEASE_NAME)
            )
        return deadline is None or deadline < now

    def renew(self, now: datetime) -> bool:
        """Extend the lease while it is still ours."""
        with self.sessions.begin() as session:
            kept = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                .values(expires_at=now + self.length)
                .returning(SchedulerLease.name)
            ).scalar_one_or_none()
            return kept is not None

    def release(self) -> None:
        """Let the lease expire at once."""
        with self.sessions.begin() as session:
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                .values(expires_at=LONG_AGO)
            )


class LockAndLease:
    """PostgreSQL: the advisory lock and, beside it, the lease row with its deadline.

    The lock passes at once to a standby when the leader's session ends; the lease catches a
    leader whose session lives on while it no longer renews (paused, hung): once its deadline has
    passed, a standby ends that session and takes both.
    """

    def __init__(self, url: str, sessions: Sessions, seconds: float) -> None:
        self.lock = AdvisoryLock(url)
        self.lease = LeaseRow(sessions, seconds)
        self.holder = self.lease.holder

    def acquire(self, now: datetime) -> bool:
        """Take the lock (evicting a holder past its lease), then the lease."""
        if not self.lock.acquire(now):
            if not self.lease.expired(now):
                return False
            if self.lock.evict():
                log.warning("the leader let its lease lapse; ended its database session")
            if not self.lock.acquire(now):
                return False
        return self.lease.take(now)

    def renew(self, now: datetime) -> bool:
        """Still holding the lock, and the lease still ours: extend it."""
        return self.lock.renew(now) and self.lease.renew(now)

    def release(self) -> None:
        """Give up the lease, then the lock."""
        with contextlib.suppress(SQLAlchemyError):
            self.lease.release()
        self.lock.release()


def leadership_for(settings: Settings, sessions: Sessions) -> Leadership:
    """An advisory lock and a lease row on PostgreSQL, a lease row elsewhere."""
    if sessions.engine.dialect.name == "postgresql":
        return LockAndLease(settings.database_url, sessions, settings.scheduler_lease_seconds)
    return LeaseRow(sessions, settings.scheduler_lease_seconds)


def last_runs(sessions: Sessions) -> dict[str, datetime]:
    """When each job last started a run that completed (real time)."""
    with sessions.read() as session:
        return {row.name: row.started_at for row in session.scalars(select(JobRun))}


def record_run(sessions: Sessions, name: str, *, started: datetime, finished: datetime,
               holder: str, result: str) -> None:  # fmt: skip
    """Keep a completed run of a job as its last one."""
    values = {"started_at": started, "finished_at": finished, "holder": holder,
              "result": result[:500]}  # fmt: skip
    with sessions.begin() as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(JobRun)
            .values(name=name, **values)
            .on_conflict_do_update(index_elements=[JobRun.name], set_=values)
        )


def first_runs(last: Mapping[str, datetime], settings: Settings, now: datetime
               ) -> dict[str, datetime]:  # fmt: skip
    """When a new leader first runs each job: now if it is due or never ran, else when due."""
    return {
        name: max(now, last[name] + timedelta(seconds=jobs.interval_seconds(name, settings)))
        if name in last
        else now
        for name in jobs.JOBS
    }


class DaemonThreads(BaseExecutor):  # type: ignore[misc]
    """Each job in a daemon thread: a stopping scheduler never waits for a job in flight."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def work() -> None:
            try:
                events = run_scheduled(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException as error:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, events)

        threading.Thread(target=work, name=f"job-{job.id}", daemon=True).start()


class Leader:
    """A leader's jobs: each fenced by the lease, run with the service's time, and recorded."""

    def __init__(
        self,
        sessions: Sessions,
        settings: Settings,
        *,
        leadership: Leadership | None = None,
        clock: Clock | None = None,
        id_source: IdSource | None = None,
    ) -> None:
        self.sessions, self.settings, self.leadership = sessions, settings, leadership
        self.clock = clock or SystemClock()
        self.id_source = id_source or ids.RandomIds()
        # Its own thread submits the jobs; only the thread that leads starts and stops it.
        self.scheduler = BackgroundScheduler(timezone=UTC, executors={"default": DaemonThreads()})
        self.lost = threading.Event()

    def still_leading(self) -> bool:
        """Renew the lease; once it is lost, no job runs, and the leading thread stops the jobs.

        Setting `lost` wakes that thread (`_lead`) at once; it shuts the scheduler down.
        """
        if self.lost.is_set() or (
            self.leadership is not None and not _safely(self.leadership.renew)
        ):
            if not self.lost.is_set():
                log.warning("scheduler lost its leadership; stopping the jobs")
                self.lost.set()
            return False
        return True

    def stop_jobs(self) -> None:
        """Stop scheduling jobs; those in flight run on in their daemon threads, unwaited for."""
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)

    def run_job(self, name: str) -> None:
        """Run a job with the service's time if this process still leads, and record the run."""
        if not self.still_leading():
            log.warning("job %s not run: this scheduler is no longer the leader", name)
            return
        started = REAL_TIME.now()
        log.info("job %s started", name)
        with ids.using(self.id_source):
            result = jobs.run(name, self.sessions, self.settings, now=self.clock.now())
        holder = self.leadership.holder if self.leadership is not None else "-"
        record_run(self.sessions, name, started=started, finished=REAL_TIME.now(),
                   holder=holder, result=result)  # fmt: skip
        log.info("job %s ran: %s", name, result)

    def schedule(self, first: Mapping[str, datetime]) -> BackgroundScheduler:
        """Add each job, run first at `first[job]` and then on its interval (not started).

        The intervals run in real time (APScheduler's); each job is given `clock.now()` as its
        time. With a leadership, the lease is renewed every third of its length.
        """
        for name in jobs.JOBS:
            self.scheduler.add_job(
                self.run_job,
                IntervalTrigger(seconds=jobs.interval_seconds(name, self.settings)),
                args=(name,),
                id=name,
                name=name,
                next_run_time=first[name],
                max_instances=1,
                coalesce=True,
                misfire_grace_time=60,
            )
        if self.leadership is not None:
            renewal = IntervalTrigger(seconds=self.settings.scheduler_lease_seconds / 3)
            self.scheduler.add_job(self.still_leading, renewal, id="leadership", max_instances=1,
                                   coalesce=True)  # fmt: skip
        return self.scheduler


class StopRequest:
    """Whether the process was asked to stop: by SIGTERM, or in-process by an event.

    The signal handler only sets a plain attribute: it takes no lock (the main thread it
    interrupts may hold one) and raises nothing. Waits go in slices of SLICE_SECONDS, after each
    of which the main thread looks at the attribute again.
    """

    def __init__(self, event: threading.Event | None = None) -> None:
        self.event = event or threading.Event()
        self.signalled = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The SIGTERM handler: mark the request, nothing else."""
        self.signalled = True

    def asked(self) -> bool:
        """Whether a stop was asked for."""
        return self.signalled or self.event.is_set()

    def wait(self, seconds: float, until: threading.Event | None = None) -> bool:
        """Wait up to `seconds`, or until a stop is asked or `until` is set; True if either is."""
        woken_by = self.event if until is None else until
        left = seconds
        while not (self.asked() or woken_by.is_set()):
            if left <= 0:
                return False
            step = min(SLICE_SECONDS, left)
            woken_by.wait(step)
            left -= step
        return True


def _lead(sessions: Sessions, settings: Settings, leadership: Leadership, clock: Clock,
          id_source: IdSource, stop: StopRequest) -> None:  # fmt: skip
    """Run the jobs until leadership is lost or a stop is asked for."""
    now = REAL_TIME.now()
    first = first_runs(last_runs(sessions), settings, now)
    leader = Leader(sessions, settings, leadership=leadership, clock=clock, id_source=id_source)
    scheduler = leader.schedule(first)
    due = ", ".join(f"{name} {'now' if at <= now else 'at ' + at.isoformat()}"
                    for name, at in first.items())  # fmt: skip
    log.info("scheduler is the leader (pid %s); first runs: %s", os.getpid(), due)
    scheduler.start()
    try:
        stop.wait(math.inf, until=leader.lost)
    finally:
        leader.stop_jobs()


def _safely(step: Callable[[datetime], bool]) -> bool:
    """Acquire or renew; a database error counts as not leading."""
    try:
        return step(REAL_TIME.now())
    except SQLAlchemyError:
        log.exception("the scheduler could not reach the database")
        return False


def run(
    sessions: Sessions,
    settings: Settings,
    *,
    clock: Clock | None = None,
    id_source: IdSource | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Lead when no other scheduler does, else stand by; a standby polls twice a lease period.

    Returns once SIGTERM (in the main thread) or `stop` asks it to, within SLICE_SECONDS or so:
    jobs in flight (a send to a slow receiver) are abandoned, and what they had claimed is tried
    again once the claim runs out. The leadership is released first.
    """
    request = StopRequest(stop)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, request.handle)
    leadership = leadership_for(settings, sessions)
    poll = settings.scheduler_lease_seconds / 2
    standing_by = False
    try:
        while not request.asked():
            if _safely(leadership.acquire):
                standing_by = False
                if not request.asked():
                    _lead(sessions, settings, leadership, clock or SystemClock(),
                          id_source or ids.RandomIds(), request)  # fmt: skip
                continue
            if not standing_by:
                log.info("another scheduler is the leader; standing by (pid %s)", os.getpid())
                standing_by = True
            request.wait(poll)
    finally:
        with contextlib.suppress(SQLAlchemyError):
            leadership.release()
        log.info("scheduler stopped (pid %s)", os.getpid())
        if previous is not None:
            # After a SIGTERM the process is ending: a second one (a supervisor may repeat it)
            # must not kill it on its way out, which it would once Python, finalizing, puts back
            # the default handler of every signal it handles (not of one it ignores). Stopped
            # in-process by `stop`, the former handler is back.
            signal.signal(signal.SIGTERM, signal.SIG_IGN if request.signalled else previous)
