"""Fixtures: a migrated database per backend (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, make_url, text

from api import create_app
from placements.auth import SYSTEM
from placements.clock import FixedClock
from placements.db import Sessions, make_engine
from placements.migrations import upgrade
from placements.models import Base
from placements.seeding import seed
from placements.tokens import TokenRequest, create

# The configured PostgreSQL test database. Under pytest-xdist (`make pytest` runs `-n 2`) each
# worker has its own database beside it, named after it with the worker's id (placements_ci_gw0):
# PG_URL is this process's, and every fresh database a test makes is named after that one in turn.
CONFIGURED_PG_URL = os.environ.get("PLACEMENTS_TEST_DATABASE_URL")
if os.environ.get("PLACEMENTS_TEST_REQUIRE_POSTGRES") and not CONFIGURED_PG_URL:
    raise RuntimeError(
        "PLACEMENTS_TEST_REQUIRE_POSTGRES is set but not PLACEMENTS_TEST_DATABASE_URL"
    )
WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1... under xdist; None when serial


def sibling_url(url: str, suffix: str) -> str:
    """The URL of the database named like `url`'s with `_suffix` added, on the same server."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)


PG_URL = (
    sibling_url(CONFIGURED_PG_URL, WORKER) if CONFIGURED_PG_URL and WORKER else CONFIGURED_PG_URL
)
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
# The instant every test's service reads from its clock (the app's, the server's, the jobs'), so
# nothing in the suite depends on the day it runs (docs/time.md).
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SERVER_CLOCK = f"fixed:{NOW.isoformat()}"


def reset_postgresql(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def create_postgresql_database(url: str, *, replace: bool) -> None:
    """Create the database `url` names (first dropping it if `replace`, else only if missing),
    connected to the configured test database, which exists."""
    assert CONFIGURED_PG_URL is not None
    name = make_url(url).database
    engine = make_engine(CONFIGURED_PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if replace:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.engine.dispose()


def fresh_postgresql_database(suffix: str) -> str:
    """A new, empty PostgreSQL database beside this process's test one; returns its URL."""
    assert PG_URL is not None
    fresh = sibling_url(PG_URL, suffix)
    create_postgresql_database(fresh, replace=True)
    return fresh


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head, one per backend for the whole run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        assert PG_URL is not None
        url = PG_URL
        if url != CONFIGURED_PG_URL:  # an xdist worker's own database, made on its first run
            create_postgresql_database(url, replace=False)
        reset_postgresql(url)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine of the test database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def empty_tables(engine: Engine) -> None:
    """Delete every row, children before parents."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def sessions(engine: Engine) -> Sessions:
    """Sessions on an empty database."""
    empty_tables(engine)
    return Sessions.for_engine(engine)


@pytest.fixture
def seeded(sessions: Sessions) -> Sessions:
    """Sessions on a database holding the seed's homes and authorities."""
    seed(sessions, now=NOW)
    return sessions


@pytest.fixture(scope="session")
def app_clock() -> FixedClock:
    """The clock of the in-process app (set back to NOW for every test by `clock`)."""
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def app(database_url: str, app_clock: FixedClock) -> Iterator[Flask]:
    """The API over the test database, reading the time from a fixed clock."""
    app = create_app({"PLACEMENTS_DATABASE_URL": database_url, "TESTING": True}, clock=app_clock)
    app.config["TESTING"] = True
    yield app
    app.extensions["placements"].sessions.engine.dispose()


@pytest.fixture(autouse=True)
def clock(app_clock: FixedClock) -> FixedClock:
    """The in-process app's clock, at NOW when the test starts; tests may set or advance it."""
    app_clock.set(NOW)
    return app_clock


@pytest.fixture
def token(sessions: Sessions) -> Callable[..., str]:
    """Make a bearer token: token('provider', provider_id='clare-lodge')."""

    def make(role: str, **scope: str) -> str:
        return create(sessions, SYSTEM, TokenRequest(role, **scope), now=NOW).token

    return make


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the server at `base` answers /healthz; fail with its log if it never does."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"server did not start: {log.read_text()[-3000:]}") from None
            time.sleep(0.2)


@contextmanager
def serving(database_url: str, log: Path, *arguments: str, port: int | None = None,
            clock: str = SERVER_CLOCK, **settings: str) -> Iterator[str]:  # fmt: skip
    """`placements serve` on the database, its clock fixed at NOW (or `clock`), with extra
    command-line arguments and settings, until the block ends; yields its URL. `port` is a free
    one unless given (a server whose settings name its own URL needs it chosen first)."""
    port = port or free_port()
    env = {**os.environ, **settings, "PLACEMENTS_DATABASE_URL": database_url,
           "PLACEMENTS_CLOCK": clock}  # fmt: skip
    placements = Path(sys.executable).with_name("placements")
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(placements), "serve", "--port", str(port), *arguments],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_serving(base, process, log)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`placements serve --workers 2` on the test database, its clock fixed at NOW; its URL."""
    with serving(
        database_url, tmp_path_factory.mktemp("server") / "serve.log", "--workers", "2"
    ) as base:
        yield base
