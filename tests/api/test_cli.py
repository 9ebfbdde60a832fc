"""The `placements` command line, run as a user would, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from placements.db import Sessions, make_engine
from placements.migrations import upgrade
from placements.models import Unit
from tests.conftest import NOW, PG_URL, SERVER_CLOCK, fresh_postgresql_database

PLACEMENTS = str(Path(sys.executable).with_name("placements"))


def run(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `placements ARGS` against the database at `url`."""
    env = {**os.environ, "PLACEMENTS_DATABASE_URL": url, "PLACEMENTS_CLOCK": SERVER_CLOCK}
    return subprocess.run(
        [PLACEMENTS, *args], env=env, capture_output=True, text=True, check=check, timeout=120
    )


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a database with nothing in it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new.db'}"
    return fresh_postgresql_database("cli")


@pytest.mark.slow
def test_upgrade_then_seed_gives_the_estate_and_a_second_seed_changes_nothing(
    empty_database: str,
) -> None:
    run(empty_database, "db", "upgrade")
    first = run(empty_database, "seed").stdout
    assert "providers: 14 created or changed" in first
    second = run(empty_database, "seed").stdout
    assert "0 created or changed, 14 unchanged" in second
    engine = make_engine(empty_database)
    with Sessions.for_engine(engine).read() as session:
        assert session.scalar(select(func.sum(Unit.approved_beds))) == 247
    engine.dispose()
    issued = run(empty_database, "tokens", "create", "--role", "director",
                 "--authority", "southwark", "--label", "dcs").stdout  # fmt: skip
    assert issued.strip().splitlines()[-1].startswith("plc_")
    assert "revoked dcs" in run(empty_database, "tokens", "revoke", "dcs").stdout
    refused = run(empty_database, "tokens", "create", "--role", "director", check=False)
    assert refused.returncode != 0 and "authority_id" in refused.stderr


def test_a_job_clock_outside_2000_to_2100_exits_2_with_one_line(empty_database: str) -> None:
    url = empty_database
    upgrade(url)  # in this process: `db upgrade` as a command is tested above
    for clock in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "yesterday", ""):
        refused = run(url, "jobs", "run", "demand-check", "--now", clock, check=False)
        assert refused.returncode == 2, refused.stderr
        assert "--now" in refused.stderr and "Traceback" not in refused.stderr


def test_a_job_clock_more_than_5_minutes_ahead_needs_allow_future(empty_database: str) -> None:
    url = empty_database
    upgrade(url)  # in this process: `db upgrade` as a command is tested above
    ahead = (NOW + timedelta(minutes=6)).isoformat()
    refused = run(url, "jobs", "run", "offer-expiry", "--now", ahead, check=False)
    assert refused.returncode == 2 and "--allow-future" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    near_time = (NOW + timedelta(minutes=4)).isoformat()
    near = run(url, "jobs", "run", "offer-expiry", "--now", near_time)
    assert "expired 0" in near.stdout
    allowed = run(url, "jobs", "run", "offer-expiry", "--now", ahead, "--allow-future")
    assert allowed.stdout.startswith(f"offer-expiry at {NOW + timedelta(minutes=6):%Y-%m-%dT%H:%M}")
    default = run(url, "jobs", "run", "offer-expiry")
    assert default.stdout.startswith(f"offer-expiry at {NOW.isoformat()}"), default.stdout


def test_an_unreadable_clock_setting_exits_with_one_line(empty_database: str) -> None:
    env = {**os.environ, "PLACEMENTS_DATABASE_URL": empty_database, "PLACEMENTS_CLOCK": "soon"}
    refused = subprocess.run([PLACEMENTS, "jobs", "run", "notify"], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "PLACEMENTS_CLOCK" in refused.stderr
    assert "Traceback" not in refused.stderr
