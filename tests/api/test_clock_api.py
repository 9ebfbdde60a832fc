"""The app reads time from the clock it is given, and ids from the source it is given."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from placements import ids
from placements.clock import FixedClock
from placements.db import Sessions
from tests.conftest import NOW
from tests.placements.workflow import set_free_beds

Headers = dict[str, str]
CLARE = "clare-lodge/nene"
REQUEST = {"case_reference": "SWK/CLOCK/1", "age": 15, "sex": "F", "legal_basis": "welfare",
           "grounds": ["harm_to_self"]}  # fmt: skip


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    return app.test_client()


def offered(client: FlaskClient, director: Headers, reference: str) -> str:
    made = client.post("/requests", json={**REQUEST, "case_reference": reference},
                       headers=director).json  # fmt: skip
    offers = client.post(f"/requests/{made['id']}/offers", json={"unit_ids": [CLARE]},
                         headers=director)  # fmt: skip
    assert offers.status_code == 201, offers.json
    return offers.json[0]["id"]  # type: ignore[no-any-return]


def test_an_offer_expires_by_the_apps_clock_not_the_machines(
    client: FlaskClient, bearer: Callable[..., Headers], clock: FixedClock
) -> None:
    director = bearer("director", authority_id="southwark")
    home = bearer("provider", provider_id="clare-lodge")
    first, second = offered(client, director, "CLK-1"), offered(client, director, "CLK-2")
    assert client.get(f"/offers/{first}", headers=home).json["expires_at"] == (
        (NOW + timedelta(hours=4)).isoformat()
    )
    clock.advance(timedelta(hours=3, minutes=59))
    assert client.post(f"/offers/{first}/accept", headers=home).status_code == 200
    clock.advance(timedelta(minutes=1))
    late = client.post(f"/offers/{second}/accept", headers=home)
    assert late.status_code == 409 and "expired" in late.json["message"]


def test_the_health_check_tells_the_clock_and_its_time(client: FlaskClient) -> None:
    health = client.get("/healthz").json
    assert health == {"status": "ok", "now": NOW.isoformat(), "clock": f"fixed:{NOW.isoformat()}"}


def test_the_served_app_reads_the_clock_it_was_started_with(server: str) -> None:
    with urllib.request.urlopen(f"{server}/healthz", timeout=10) as response:
        assert json.load(response)["now"] == NOW.isoformat()


@pytest.fixture
def seeded_ids_app(database_url: str, seeded: Sessions) -> Iterator[Flask]:
    app = create_app({"PLACEMENTS_DATABASE_URL": database_url}, clock=FixedClock(NOW),
                     id_source=ids.SeededIds(11))  # fmt: skip
    yield app
    app.extensions["placements"].sessions.engine.dispose()


def test_an_app_given_a_seeded_id_source_names_objects_reproducibly(
    seeded_ids_app: Flask, bearer: Callable[..., Headers]
) -> None:
    with ids.using(ids.SeededIds(11)):
        expected = [ids.new_id("REQ") for _ in range(2)]
    director = bearer("director", authority_id="southwark")
    client = seeded_ids_app.test_client()
    bodies = [{**REQUEST, "case_reference": f"SEED-{n}"} for n in range(2)]
    made = [client.post("/requests", json=body, headers=director).json["id"] for body in bodies]
    assert made == expected
    # The app's source stays inside its requests: code outside draws production ids.
    assert ids.new_id("REQ") not in expected
