"""The scheduler process: one leader per database runs the jobs; any other waits as standby."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Protocol

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Connection, Engine, create_engine, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from placements import ids, jobs
from placements.clock import Clock, SystemClock
from placements.config import Settings
from placements.db import Sessions
from placements.ids import IdSource
from placements.models import SchedulerLease

LEASE_NAME = "scheduler"
# pg_try_advisory_lock key of the scheduler: any fixed 64-bit number unique to this service.
ADVISORY_LOCK_KEY = 0x706C6163656D6E74
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
# Leases measure how long a process has been silent: real elapsed time, whatever the service's
# clock says (a fixed or shifted clock must not keep a dead leader's lease alive).
LEASE_CLOCK = SystemClock()
log = logging.getLogger("placements.scheduler")


class Leadership(Protocol):
    """A way to be the only active scheduler of a database."""

    def acquire(self, now: datetime) -> bool:
        """Become the leader if nobody is; True when this process leads."""

    def renew(self, now: datetime) -> bool:
        """Stay the leader; False once leadership has been lost."""

    def release(self) -> None:
        """Stop leading, so that a standby takes over at once."""


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
    """SQLite (or any database): a lease row that the leader renews before it expires."""

    def __init__(self, sessions: Sessions, seconds: float) -> None:
        self.sessions = sessions
        self.length = timedelta(seconds=seconds)
        # Random whatever the id source: two schedulers must never share a holder name.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self, now: datetime) -> bool:
        """Take the lease if it is free, expired or already ours."""
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
            taken = session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == LEASE_NAME,
                    (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.length)
                .returning(SchedulerLease.name)
            ).scalar_one_or_none()
            return taken is not None

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


def leadership_for(settings: Settings, sessions: Sessions) -> Leadership:
    """An advisory lock on PostgreSQL, a lease row elsewhere."""
    if sessions.engine.dialect.name == "postgresql":
        return AdvisoryLock(settings.database_url)
    return LeaseRow(sessions, settings.scheduler_lease_seconds)


def run_job(
    name: str, sessions: Sessions, settings: Settings, clock: Clock, id_source: IdSource
) -> None:
    """Run a job with the service's time and log what it did."""
    with ids.using(id_source):
        result = jobs.run(name, sessions, settings, now=clock.now())
    log.info("job %s ran: %s", name, result)


def build(
    sessions: Sessions,
    settings: Settings,
    *,
    clock: Clock | None = None,
    id_source: IdSource | None = None,
    start: datetime | None = None,
) -> BlockingScheduler:
    """A scheduler with every job on its interval from `start` (not started).

    The intervals run in real time (APScheduler's); each job is given `clock.now()` as its time.
    """
    scheduler = BlockingScheduler(timezone=UTC)
    for name in jobs.JOBS:
        scheduler.add_job(
            run_job,
            IntervalTrigger(seconds=jobs.interval_seconds(name, settings), start_date=start),
            args=(name, sessions, settings, clock or SystemClock(), id_source or ids.RandomIds()),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=60,
        )
    return scheduler


def _lead(sessions: Sessions, settings: Settings, leadership: Leadership, clock: Clock,
          id_source: IdSource) -> None:  # fmt: skip
    """Run the jobs until leadership is lost (or the process is stopped)."""
    scheduler = build(sessions, settings, clock=clock, id_source=id_source)

    def keep() -> None:
        if not _safely(leadership.renew):
            log.warning("scheduler lost its leadership; stopping the jobs")
            scheduler.shutdown(wait=False)

    renewal = IntervalTrigger(seconds=settings.scheduler_lease_seconds / 3)
    scheduler.add_job(keep, renewal, id="leadership", max_instances=1, coalesce=True)
    log.info("scheduler is the leader (pid %s); running jobs", os.getpid())
    try:
        scheduler.start()
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)


def _safely(step: Callable[[datetime], bool]) -> bool:
    """Acquire or renew; a database error counts as not leading."""
    try:
        return step(LEASE_CLOCK.now())
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
    """Lead when no other scheduler does, else stand by; a standby polls twice a lease period."""
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
        leadership.release()
