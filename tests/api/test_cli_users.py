"""`placements users`: people who sign in to the pages, added, listed and disabled from the
command line in a real process."""

from __future__ import annotations

from pathlib import Path

import pytest

from placements.db import Sessions, make_engine
from placements.migrations import upgrade
from placements.seeding import seed
from tests.api.test_cli import run
from tests.conftest import NOW, PG_URL, fresh_postgresql_database


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a migrated database holding the seed's estate and nobody who signs in (made in
    this process: `db upgrade` and `seed` as commands are tests/api/test_cli.py's)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'people.db'}"
    else:
        url = fresh_postgresql_database("cli_people")
    upgrade(url)
    engine = make_engine(url)
    seed(Sessions.for_engine(engine), now=NOW)
    engine.dispose()
    return url


@pytest.mark.slow
def test_people_are_added_listed_linked_and_disabled(estate: str) -> None:
    url = estate
    added = run(url, "users", "add", "Manager@Example.org", "--role", "provider",
                "--provider", "clare-lodge", "--name", "Pat Manager").stdout  # fmt: skip
    assert "added manager@example.org role: provider scope: clare-lodge" in added
    run(url, "users", "add", "dcs@example.org", "--role", "director", "--authority", "southwark")
    listed = run(url, "users", "list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["dcs@example.org", "manager@example.org"]
    assert "active" in listed[1] and "Pat Manager" in listed[1]
    link = run(url, "users", "link", "manager@example.org").stdout.strip()
    assert link.startswith("http://127.0.0.1:8000/sign-in/") and len(link) > 60
    assert (
        "disabled manager@example.org" in run(url, "users", "disable", "manager@example.org").stdout
    )
    assert "already disabled" in run(url, "users", "disable", "MANAGER@example.org").stdout
    assert "disabled" in run(url, "users", "list").stdout.splitlines()[1]
    refused = run(url, "users", "link", "manager@example.org", check=False)
    assert refused.returncode == 1 and "is disabled" in refused.stderr
    demo = run(url, "users", "demo").stdout
    assert demo.count("/sign-in/") == 4 and "coordinator@example.org" in demo


REFUSED = [
    (["users", "add", "x@example.org", "--role", "director"], "authority_id: required"),
    (["users", "add", "x@example.org", "--role", "admin", "--provider", "clare-lodge"],
     "provider_id: not allowed"),
    (["users", "add", "x@example.org", "--role", "provider", "--provider", "nowhere"],
     "provider 'nowhere' does not exist"),
    (["users", "add", "not-an-address", "--role", "admin"], "email: must be an email address"),
    (["users", "add", "x@example.org", "--role", "king"], "Invalid value for '--role'"),
    (["users", "disable", "nobody@example.org"], "no person has the address"),
    (["users", "link", "nobody@example.org"], "no person has the address"),
]  # fmt: skip


def test_bad_input_is_refused_with_one_clear_line_and_adds_nobody(estate: str) -> None:
    for arguments, said in REFUSED:
        refused = run(estate, *arguments, check=False)
        assert refused.returncode in (1, 2), arguments
        assert said in refused.stderr, refused.stderr
    assert run(estate, "users", "list").stdout == ""
