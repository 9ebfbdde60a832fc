"""Engines and transactions: SQLite tuned for concurrent writers, PostgreSQL as it is."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "placements_read_only"


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Take transaction control away from pysqlite so that "begin" below decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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

    @classmethod
    def for_engine(cls, engine: Engine) -> Sessions:
        """Wrap an engine."""
        reader = engine.execution_options(**{READ_ONLY: True})
        return cls(
            engine,
            sessionmaker(engine, expire_on_commit=False),
            sessionmaker(reader, expire_on_commit=False),
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
