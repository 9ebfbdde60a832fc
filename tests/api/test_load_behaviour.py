"""Under load, against `placements serve`: reads and writes never wait on a solve or on readers,
and a write lock not had in time is a 503 with Retry-After, logged with its request id."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import solver
from api import create_app
from placements import matching, providers, requests
from placements.auth import SYSTEM
from placements.db import Sessions
from placements.providers import ProviderSpec, StartingAvailability, UnitSpec
from solver.generate import generate
from tests.conftest import NOW, serving
from tests.placements.workflow import AUTHORITIES, SETTINGS, director

pytestmark = pytest.mark.slow

UNIT = "clare-lodge/nene"
REQUEST = {
    "case_reference": "LOAD-1",
    "age": 15,
    "sex": "F",
    "legal_basis": "welfare",
    "grounds": ["harm_to_self"],
}


def call(method: str, url: str, token: str, body: object = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    """One HTTP call; returns (status, headers, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def report(secret: str, base: str, spare: int) -> int:
    """A provider's availability PUT on UNIT (`spare` staffed beds free) with its current ETag."""
    _, headers, unit = call("GET", f"{base}/units/{UNIT}", secret)
    body = {"staffed_beds": unit["occupied_beds"] + spare, "occupied_beds": unit["occupied_beds"],
            "resident_flags": unit["resident_flags"], "out_of_use_reason": "staffing"}  # fmt: skip
    status, _, _ = call("PUT", f"{base}/units/{UNIT}/availability", secret, body,
                        {"If-Match": headers["ETag"]})  # fmt: skip
    return status


def load_generated_estate(sessions: Sessions, children: int, units: int) -> None:
    """Register a synthetic estate of `units` units and `children` waiting welfare requests."""
    instance = generate(children=children, units=units, seed=1)
    homes: dict[str, list[dict[str, Any]]] = {}
    for unit in instance["units"]:
        homes.setdefault(unit["provider_id"], []).append(unit)
    for home, rows in homes.items():
        specs = []
        for row in rows:
            flags: dict[str, int] = {}
            for resident in row["resident_flags"]:
                for flag in resident:
                    flags[flag] = flags.get(flag, 0) + 1
            occupied = max([len(row["resident_flags"]), *flags.values()])
            beds = occupied + row["free_beds"]
            reason = "staffing" if beds == 0 else None  # a unit with no staffed bed
            start = StartingAvailability(beds, occupied, reason, flags)
            specs.append(UnitSpec(row["id"].split("/")[1], row["id"], max(beds, 1),
                                  row["designation"], row["sexes"], row["min_age"],
                                  row["max_age"], row["specialisms"], start))  # fmt: skip
        first = rows[0]
        spec = ProviderSpec(home, home, "synthetic", "synthetic", "england", first["lat"],
                            first["lon"], units=specs)  # fmt: skip
        providers.register(sessions, SYSTEM, spec, now=NOW)
    names = sorted(AUTHORITIES)
    for n, child in enumerate(instance["children"]):
        facts = requests.RequestFacts(
            case_reference=f"GEN-{n}", age=max(13, child["age"]), sex=child["sex"],
            legal_basis="welfare", grounds=("harm_to_self",), needs=tuple(child["needs"]),
            flags=tuple(child["flags"]), home=(child["lat"], child["lon"]),
        )  # fmt: skip
        requests.create(sessions, director(names[n % len(names)]), facts, now=NOW)


def test_availability_updates_complete_while_a_batch_run_solves(
    database_url: str, seeded: Sessions, token: Callable[..., str], tmp_path: Path
) -> None:
    load_generated_estate(seeded, children=300, units=400)
    admin, clare = token("admin"), token("provider", provider_id="clare-lodge")
    with serving(database_url, tmp_path / "serve.log", PLACEMENTS_MATCHING_TIME_LIMIT="3") as base:
        assert report(clare, base, 1) == 200  # warm both workers' connections
        run: dict[str, Any] = {}

        def batch() -> None:
            run["status"], _, run["body"] = call("POST", f"{base}/matching/runs", admin)

        solving = threading.Thread(target=batch)
        solving.start()
        done_during_run = []
        while solving.is_alive():
            status = report(clare, base, 1 + len(done_during_run) % 2)
            if solving.is_alive():
                done_during_run.append(status)
        solving.join()
    assert run["status"] == 201, run
    assert run["body"]["placed"] > 0
    # Had the run held the write lock through its solve, each PUT issued during it would have
    # completed only after it: a handful of reads and PUTs fit in before the solve begins.
    print(f"{len(done_during_run)} PUTs during the run")
    assert len(done_during_run) >= 10, done_during_run
    assert set(done_during_run) == {200}


def test_a_proposal_whose_request_changed_during_the_run_is_not_proposed(
    seeded: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = requests.create(seeded, director("southwark"), requests.RequestFacts(
        case_reference="CHG-1", age=15, sex="F", legal_basis="welfare",
        grounds=("harm_to_self",)), now=NOW)  # fmt: skip
    real_match = solver.match

    def match_then_withdraw(*args: Any, **kwargs: Any) -> Any:
        solution = real_match(*args, **kwargs)
        requests.withdraw(seeded, director("southwark"), made.id, now=NOW)
        return solution

    monkeypatch.setattr(solver, "match", match_then_withdraw)
    run = matching.run_batch(seeded, SYSTEM, settings=SETTINGS, now=NOW)
    assert all(p["child_id"] != made.id for p in run.proposals)
    changed = [u for u in run.unplaced if u["child_id"] == made.id]
    assert changed == [{"child_id": made.id, "proposed_unit_id": changed[0]["proposed_unit_id"],
                        "reasons": {"changed_during_run": {"request": 1, "unit": 0}}}]  # fmt: skip
    assert run.placed == 0


def test_a_write_that_cannot_have_the_lock_in_time_is_a_503_with_retry_after_and_logged(
    database_url: str, seeded: Sessions, token: Callable[..., str], tmp_path: Path
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    clare, southwark = (
        token("provider", provider_id="clare-lodge"),
        token("director", authority_id="southwark"),
    )
    log = tmp_path / "serve.log"
    with serving(database_url, log, PLACEMENTS_SQLITE_BUSY_TIMEOUT="0.2") as base:
        status, _, made = call("POST", f"{base}/requests", southwark, REQUEST)
        assert status == 201, made
        _, headers, unit = call("GET", f"{base}/units/{UNIT}", clare)
        holder = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            # Reads go on while another connection holds the write lock.
            assert call("GET", f"{base}/units/{UNIT}", clare)[0] == 200
            options = call("GET", f"{base}/requests/{made['id']}/options", southwark)
            assert options[0] == 200
            request_id = uuid.uuid4().hex
            body = {
                "staffed_beds": unit["occupied_beds"] + 1,
                "occupied_beds": unit["occupied_beds"],
                "out_of_use_reason": "staffing",
                "resident_flags": unit["resident_flags"],
            }
            status, answered, refused = call(
                "PUT", f"{base}/units/{UNIT}/availability", clare, body,
                {"If-Match": headers["ETag"], "X-Request-ID": request_id},
            )  # fmt: skip
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert status == 503
        assert answered["Retry-After"] == "1"
        assert refused["code"] == 503 and refused["error"] == "Busy"
        assert "busy" in refused["message"]
        assert call("GET", f"{base}/units/{UNIT}", clare)[2]["staffed_beds"] == unit["staffed_beds"]
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("request_id") == request_id]
    assert [line["status"] for line in logged if line["event"] == "request"] == [503]
    line = next(line for line in logged if line["event"] == "request")
    assert line["level"] == "error"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "database is locked" in line["exception"]


def test_an_unhandled_error_is_a_json_500_logged_with_its_request_id_and_traceback(
    database_url: str, token: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    admin = {"Authorization": f"Bearer {token('admin')}", "X-Request-ID": "req-boom"}
    app = create_app({"PLACEMENTS_DATABASE_URL": database_url})

    def boom() -> None:
        raise RuntimeError("a bug")

    hooks = app.before_request_funcs[None]  # fail right after the request id is drawn
    hooks.insert([hook.__name__ for hook in hooks].index("start") + 1, boom)
    answer = app.test_client().get("/units", headers=admin)
    app.extensions["placements"].sessions.engine.dispose()
    assert answer.status_code == 500 and answer.json["code"] == 500
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "{" in line[:1]]
    logged = [line for line in lines if line.get("request_id") == "req-boom"]
    request_line = next(line for line in logged if line["event"] == "request")
    assert request_line["status"] == 500 and request_line["level"] == "error"
    assert "RuntimeError: a bug" in request_line["exception"]
    assert request_line["exception"].startswith("Traceback (most recent call last):")
