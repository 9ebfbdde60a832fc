"""The scheduler process: one leader per database runs the jobs; any other waits as standby.

Leadership is a lease row with a deadline (`scheduler_lease`) on every database, and on PostgreSQL
also a session advisory lock. A leader checks that it still leads before each job (fencing), so a
leader that was paused or hung past its deadline runs nothing once another has taken over. Each
job's last run is kept in `job_run`: a new leader runs at once every job that is due by it (or that
never ran), whatever the interval, so frequent leader changes never starve an hourly job.
"""

from __future__ import annotations

import contextlib
import logging
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
from apscheduler.schedulers.blocking import BlockingScheduler
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
        self.scheduler = BlockingScheduler(timezone=UTC, executors={"default": DaemonThreads()})
        self.lost = threading.Event()

    def still_leading(self) -> bool:
        """Renew the lease; once it is lost, stop the jobs (none runs after that)."""
        if self.lost.is_set() or (
            self.leadership is not None and not _safely(self.leadership.renew)
        ):
            if not self.lost.is_set():
                self.lost.set()
                log.warning("scheduler lost its leadership; stopping the jobs")
            with contextlib.suppress(SchedulerNotRunningError):
                self.scheduler.shutdown(wait=False)
            return False
        return True

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

    def schedule(self, first: Mapping[str, datetime]) -> BlockingScheduler:
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


def _lead(sessions: Sessions, settings: Settings, leadership: Leadership, clock: Clock,
          id_source: IdSource) -> None:  # fmt: skip
    """Run the jobs until leadership is lost (or the process is stopped)."""
    now = REAL_TIME.now()
    first = first_runs(last_runs(sessions), settings, now)
    leader = Leader(sessions, settings, leadership=leadership, clock=clock, id_source=id_source)
    scheduler = leader.schedule(first)
    due = ", ".join(f"{name} {'now' if at <= now else 'at ' + at.isoformat()}"
                    for name, at in first.items())  # fmt: skip
    log.info("scheduler is the leader (pid %s); first runs: %s", os.getpid(), due)
    try:
        scheduler.start()
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)


def _safely(step: Callable[[datetime], bool]) -> bool:
    """Acquire or renew; a database error counts as not leading."""
    try:
        return step(REAL_TIME.now())
    except SQLAlchemyError:
        log.exception("the scheduler could not reach the database")
        return False


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def run(
    sessions: Sessions,
    settings: Settings,
    *,
    clock: Clock | None = None,
    id_source: IdSource | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Lead when no other scheduler does, else stand by; a standby polls twice a lease period.

    SIGTERM ends the process at once: jobs in flight (a send to a slow receiver) are abandoned,
    and what they had claimed is tried again once the claim runs out.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    stop = stop or threading.Event()
    leadership = leadership_for(settings, sessions)
    poll = settings.scheduler_lease_seconds / 2
    standing_by = False
    try:
        while not stop.is_set():
            if _safely(leadership.acquire):
                standing_by = False
                _lead(sessions, settings, leadership, clock or SystemClock(),
                      id_source or ids.RandomIds())  # fmt: skip
                continue
            if not standing_by:
                log.info("another scheduler is the leader; standing by (pid %s)", os.getpid())
                standing_by = True
            stop.wait(poll)
    finally:
        with contextlib.suppress(SQLAlchemyError):
            leadership.release()
        log.info("scheduler stopped (pid %s)", os.getpid())
