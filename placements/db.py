"""Engines and transactions: SQLite tuned for concurrent writers, PostgreSQL as it is."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from placements.config import DEFAULT_SQLITE_BUSY_TIMEOUT_S
from placements.errors import Busy

READ_ONLY = "placements_read_only"
# What SQLite says when its lock could not be had within the busy timeout.
BUSY_CODES = ("SQLITE_BUSY", "SQLITE_LOCKED")
BUSY_MESSAGES = ("database is locked", "database table is locked")


def make_engine(url: str, *, busy_timeout_s: float = DEFAULT_SQLITE_BUSY_TIMEOUT_S) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE.

    On SQLite a lock not had within `busy_timeout_s` raises `Busy` (the API's 503), not the
    driver's OperationalError.
    """
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        # JSON columns are text in SQLite: orjson parses them to the same values, faster.
        json_deserializer=orjson.loads,
    )
    millis = max(0, round(busy_timeout_s * 1000))
    event.listen(engine, "connect", lambda dbapi, _: _configure_sqlite(dbapi, millis))
    event.listen(engine, "begin", _begin_sqlite)
    event.listen(engine, "handle_error", _refuse_when_busy)
    return engine


def _configure_sqlite(dbapi_connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    # Take transaction control away from pysqlite so that "begin" below decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_busy(error: BaseException | None) -> bool:
    """Whether a driver error says SQLite's lock could not be had in time."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorname", "")
    return code in BUSY_CODES or any(m in str(error) for m in BUSY_MESSAGES)


def _refuse_when_busy(context: ExceptionContext) -> None:
    if is_busy(context.original_exception):
        raise Busy(
            "the database is busy: its write lock could not be had in time; retry shortly"
        ) from context.sqlalchemy_exception


def _begin_sqlite(connection: Connection) -> None:
    # Writers take the write lock up front: a deferred BEGIN upgraded later gets "locked".
    mode = "DEFERRED" if connection.get_execution_options().get(READ_ONLY) else "IMMEDIATE"
    connection.exec_driver_sql(f"BEGIN {mode}")


@dataclass(frozen=True)
class Sessions:
    """The two ways into the database: a write transaction and a read-only one."""

    engine: Engine
    _write: sessionmaker[Session]
    _read: sessionmaker[Session]
    _reader: Engine

    @classmethod
    def for_engine(cls, engine: Engine) -> Sessions:
        """Wrap an engine."""
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            # Under READ COMMITTED each statement has its own snapshot, in a transaction or not:
            # a read loses nothing without BEGIN and COMMIT, and saves their two round trips.
            options["isolation_level"] = "AUTOCOMMIT"
        reader = engine.execution_options(**options)
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(reader, expire_on_commit=False),
            reader,
        )

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction that never takes SQLite's write lock."""
        with self._read.begin() as session:
            yield session

    @contextmanager
    def read_rows(self) -> Iterator[Connection]:
        """A read transaction on a bare connection, for small hot reads of rows (no ORM objects).

        Like `read`, it never takes SQLite's write lock; it skips the ORM session's per-call cost
        (the token lookup and a unit read run on every request).
        """
        with self._reader.connect() as connection:  # begun on first use, rolled back at the end
            yield connection
