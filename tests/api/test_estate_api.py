"""The estate over HTTP: a happy path per endpoint, a test per error kind, the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from placements.auth import SYSTEM
from placements.db import Sessions
from placements.tokens import revoke
from tests.conftest import NOW

UNIT = "clare-lodge/nene"


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('admin', label='admin')}"}


@pytest.fixture
def clare(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('provider', provider_id='clare-lodge')}"}


def put_availability(client: FlaskClient, headers: dict[str, str], body: object, etag: str | None):
    extra = {"If-Match": etag} if etag is not None else {}
    return client.put(f"/units/{UNIT}/availability", json=body, headers={**headers, **extra})


def test_healthz_needs_no_token(client: FlaskClient) -> None:
    assert client.get("/healthz").json["status"] == "ok"


def test_providers_list_read_and_units(client: FlaskClient, clare: dict[str, str]) -> None:
    homes = client.get("/providers", headers=clare).json
    assert len(homes) == 14 and sum(h["approved_beds"] for h in homes) == 247
    home = client.get("/providers/clare-lodge", headers=clare).json
    assert home["nation"] == "england" and UNIT in home["unit_ids"]
    units = client.get("/providers/clare-lodge/units", headers=clare).json
    assert sum(u["approved_beds"] for u in units) == 16
    assert client.get("/providers/nowhere", headers=clare).status_code == 404


def test_a_unit_shows_its_counts_and_etag(client: FlaskClient, clare: dict[str, str]) -> None:
    response = client.get(f"/units/{UNIT}", headers=clare)
    body = response.json
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["free_beds"] == body["staffed_beds"] - body["occupied_beds"] - body["reserved_beds"]
    for key in ("approved_beds", "out_of_use_reason", "resident_flags", "updated_at", "stale"):
        assert key in body


def test_if_none_match_with_the_current_etag_gets_304(
    client: FlaskClient, clare: dict[str, str]
) -> None:
    etag = client.get(f"/units/{UNIT}", headers=clare).headers["ETag"]
    cached = client.get(f"/units/{UNIT}", headers={**clare, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["ETag"] == etag and not cached.data
    stale = client.get(f"/units/{UNIT}", headers={**clare, "If-None-Match": '"0"'})
    assert stale.status_code == 200


def test_units_can_be_filtered(client: FlaskClient, clare: dict[str, str]) -> None:
    query = "designation=welfare&sex=F&age=15&has_free_bed=true"
    found = client.get(f"/units?{query}", headers=clare).json
    assert found and all(u["designation"] == "welfare" and u["free_beds"] > 0 for u in found)
    assert client.get("/units?designation=castle", headers=clare).status_code == 422


def test_an_update_with_the_etag_succeeds_and_is_audited(
    client: FlaskClient, clare: dict[str, str], admin: dict[str, str]
) -> None:
    etag = client.get(f"/units/{UNIT}", headers=clare).headers["ETag"]
    body = {"staffed_beds": 8, "occupied_beds": 3, "resident_flags": {"cse_victim": 2}}
    response = put_availability(client, clare, body, etag)
    assert response.status_code == 200
    assert response.headers["ETag"] != etag and response.json["occupied_beds"] == 3
    history = client.get(f"/units/{UNIT}/availability/history", headers=clare).json
    assert history[0]["occupied_beds"] == 3
    events = client.get(f"/audit?object_type=unit&object_id={UNIT}", headers=admin).json
    change = next(e for e in events if e["action"] == "availability.update")
    assert change["before"]["occupied_beds"] != 3 and change["after"]["occupied_beds"] == 3
    since = client.get("/audit?since=2100-01-01T00:00:00Z", headers=admin).json
    assert since == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"staffed_beds": -1, "occupied_beds": 0}, "staffed_beds"),
        ({"staffed_beds": 8, "occupied_beds": 9}, "occupied_beds"),
        ({"staffed_beds": 9, "occupied_beds": 0}, "staffed_beds"),
        ({"staffed_beds": 6, "occupied_beds": 0}, "out_of_use_reason"),
        ({"staffed_beds": 8, "occupied_beds": 0, "colour": "red"}, "colour"),
        ({"staffed_beds": "8", "occupied_beds": 0}, "staffed_beds"),
        ({"staffed_beds": 8, "occupied_beds": 1.5}, "occupied_beds"),
        ({"staffed_beds": 8, "occupied_beds": True}, "occupied_beds"),
        ({"staffed_beds": 8, "occupied_beds": 0, "resident_flags": {"x": 1}}, "resident_flags"),
        ({"occupied_beds": 0}, "staffed_beds"),
    ],
)
def test_bad_availability_gets_422_naming_the_field_and_changes_nothing(
    client: FlaskClient, clare: dict[str, str], body: dict[str, object], field: str
) -> None:
    before = client.get(f"/units/{UNIT}", headers=clare)
    response = put_availability(client, clare, body, before.headers["ETag"])
    assert response.status_code == 422
    assert field in response.json["message"] and response.json["errors"]
    assert client.get(f"/units/{UNIT}", headers=clare).json == before.json


def test_a_body_over_64_kib_gets_413(client: FlaskClient, clare: dict[str, str]) -> None:
    etag = client.get(f"/units/{UNIT}", headers=clare).headers["ETag"]
    response = client.put(
        f"/units/{UNIT}/availability",
        data=b'{"x": "' + b"a" * 70_000 + b'"}',
        headers={**clare, "If-Match": etag, "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "64 KiB" in response.json["message"]


def test_a_missing_if_match_gets_428(client: FlaskClient, clare: dict[str, str]) -> None:
    response = put_availability(client, clare, {"staffed_beds": 8, "occupied_beds": 0}, None)
    assert response.status_code == 428


def test_a_stale_if_match_gets_412(client: FlaskClient, clare: dict[str, str]) -> None:
    response = put_availability(client, clare, {"staffed_beds": 8, "occupied_beds": 0}, '"999"')
    assert response.status_code == 412 and "changed" in response.json["message"]


def test_an_unknown_unit_gets_404(client: FlaskClient, clare: dict[str, str]) -> None:
    response = client.put(
        "/units/clare-lodge/none/availability",
        json={"staffed_beds": 1, "occupied_beds": 0},
        headers={**clare, "If-Match": '"1"'},
    )
    assert response.status_code == 404 and "clare-lodge/none" in response.json["message"]


def test_another_homes_provider_gets_403(client: FlaskClient, token: Callable[..., str]) -> None:
    adel = {"Authorization": f"Bearer {token('provider', provider_id='adel-beck')}"}
    etag = client.get(f"/units/{UNIT}", headers=adel).headers["ETag"]
    response = put_availability(client, adel, {"staffed_beds": 8, "occupied_beds": 0}, etag)
    assert response.status_code == 403


def test_a_director_may_read_but_not_change_availability(
    client: FlaskClient, token: Callable[..., str]
) -> None:
    director = {"Authorization": f"Bearer {token('director', authority_id='southwark')}"}
    etag = client.get(f"/units/{UNIT}", headers=director).headers["ETag"]
    response = put_availability(client, director, {"staffed_beds": 8, "occupied_beds": 0}, etag)
    assert response.status_code == 403
    assert client.get("/audit", headers=director).status_code == 403


def test_no_token_gets_401_with_www_authenticate(client: FlaskClient) -> None:
    response = client.get("/units")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_gets_401(client: FlaskClient) -> None:
    assert client.get("/units", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_revoked_token_gets_401(
    client: FlaskClient, seeded: Sessions, token: Callable[..., str]
) -> None:
    secret = token("provider", provider_id="clare-lodge", label="leaver")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/units", headers=headers).status_code == 200
    revoke(seeded, SYSTEM, "leaver", now=NOW)
    response = client.get("/units", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json["message"]


def test_a_wrong_method_gets_405_with_allow(client: FlaskClient, clare: dict[str, str]) -> None:
    response = client.delete("/providers", headers=clare)
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_the_summary_and_authorities(client: FlaskClient, clare: dict[str, str]) -> None:
    summary = client.get("/availability/summary", headers=clare).json
    assert summary["national"]["all"]["approved"] == 247
    assert set(summary["nations"]) == {"england", "wales"}
    authorities = client.get("/local-authorities", headers=clare).json
    assert {a["id"] for a in authorities} >= {"southwark", "caerphilly"}
    assert len(authorities) == 14


def test_admin_registers_a_home_and_a_second_identical_put_changes_nothing(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    body = {
        "name": "Test House", "operator": "Synthetic Council", "town": "Nowhere",
        "nation": "england", "lat": 52.0, "lon": -1.0,
        "units": [{"slug": "a", "name": "A", "approved_beds": 6, "designation": "welfare",
                   "sexes": ["F"], "min_age": 10, "max_age": 17,
                   "availability": {"staffed_beds": 4, "occupied_beds": 1,
                                    "out_of_use_reason": "staffing"}}],
    }  # fmt: skip
    assert client.put("/providers/test-house", json=body, headers=admin).status_code == 200
    audit_count = len(client.get("/audit?page_size=100", headers=admin).json)
    assert client.put("/providers/test-house", json=body, headers=admin).status_code == 200
    assert len(client.get("/audit?page_size=100", headers=admin).json) == audit_count
    assert client.get("/units/test-house/a", headers=admin).json["free_beds"] == 3
    bad = {**body, "units": [{**body["units"][0], "approved_beds": 2}]}  # type: ignore[dict-item]
    response = client.put("/providers/test-house", json=bad, headers=admin)
    assert response.status_code == 422 and "units.0.staffed_beds" in response.json["errors"]


def test_the_openapi_document_describes_every_operation(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert operation.get("summary"), f"{method} {path} has no summary"
    put = spec["paths"]["/units/{provider_id}/{unit_slug}/availability"]["put"]
    assert any(p["name"] == "If-Match" for p in put["parameters"])
    assert client.get("/docs").status_code == 200


def test_a_weak_etag_in_if_match_gets_412(client: FlaskClient, clare: dict[str, str]) -> None:
    etag = client.get("/units/clare-lodge/nene", headers=clare).headers["ETag"]
    body = {"staffed_beds": 8, "occupied_beds": 0, "resident_flags": {}}  # no one left: clear
    assert put_availability(client, clare, body, etag=f"W/{etag}").status_code == 412
    assert put_availability(client, clare, body, etag=etag).status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/providers/Bad%20Home", "id"),
        ("/providers/home%0A", "id"),
        ("/providers/" + "a" * 64, "id"),
        ("/local-authorities/%20Bad%20Id%20%C3%A9", "id"),
        ("/local-authorities/york%0A", "id"),
    ],
)
def test_a_home_or_authority_id_that_is_not_a_slug_gets_422_and_creates_nothing(
    client: FlaskClient, bearer: Callable[..., dict[str, str]], path: str, field: str
) -> None:
    admin = bearer("admin", label="admin")
    if path.startswith("/providers/"):
        body = {"name": "A Home", "operator": "A Council", "nation": "england", "town": "York",
                "lat": 53.96, "lon": -1.08, "units": []}  # fmt: skip
    else:
        body = {"name": "An Authority", "nation": "england", "lat": 53.96, "lon": -1.08}
    listing = path.rsplit("/", 1)[0]
    before = client.get(listing, headers=admin).get_json()
    response = client.put(path, json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert client.get(listing, headers=admin).get_json() == before


def test_a_unit_slug_with_a_trailing_newline_gets_422(
    client: FlaskClient, bearer: Callable[..., dict[str, str]]
) -> None:
    admin = bearer("admin", label="admin")
    before = client.get("/providers/clare-lodge", headers=admin).get_json()
    body = {k: before[k] for k in ("name", "operator", "nation", "town", "lat", "lon")}
    unit = {"slug": "u1\n", "name": "U1", "designation": "welfare", "sexes": ["F"],
            "min_age": 10, "max_age": 17, "approved_beds": 2}  # fmt: skip
    response = client.put("/providers/clare-lodge", json={**body, "units": [unit]}, headers=admin)
    assert response.status_code == 422 and "slug" in response.get_json()["message"]


def test_unreadable_json_and_out_of_range_dates_get_422(
    client: FlaskClient, bearer: Callable[..., dict[str, str]]
) -> None:
    admin = bearer("admin", label="admin")
    json_type = {**admin, "Content-Type": "application/json"}
    before = client.get("/panels", headers=admin).get_json()
    lone = client.post("/panels", data='{"name": "x\\ud800", "kind": "escalation", "members": []}',
                       headers=json_type)  # fmt: skip
    assert lone.status_code == 422 and "surrogate" in lone.get_json()["message"]
    deep = client.post("/panels", data="[" * 20000 + "]" * 20000, headers=json_type)
    assert deep.status_code == 422 and "nested" in deep.get_json()["message"]
    paired = client.post("/panels", data='{"name": "\\ud83d\\ude00"}', headers=json_type)
    assert paired.status_code == 422 and "kind" in paired.get_json()["errors"]["json"]
    assert client.get("/panels", headers=admin).get_json() == before
    for query in ("since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00"):
        response = client.get(f"/audit?{query}", headers=admin)
        assert response.status_code == 422 and query[:5] in response.get_json()["message"]
    response = client.get("/reports/declines?since=9999-12-31T23:59:59-01:00", headers=admin)
    assert response.status_code == 422


def test_a_nul_character_in_any_text_gets_422_and_changes_nothing(
    client: FlaskClient, bearer: Callable[..., dict[str, str]]
) -> None:
    admin = bearer("admin", label="admin")
    before = client.get("/providers/clare-lodge", headers=admin).get_json()
    body = {**{k: before[k] for k in ("name", "operator", "nation", "lat", "lon")}}
    response = client.put(
        "/providers/clare-lodge", json={**body, "town": "Peter\u0000borough"}, headers=admin
    )
    assert response.status_code == 422
    assert "NUL" in response.get_json()["message"]
    assert "json" in response.get_json()["errors"]
    assert client.get("/providers/clare-lodge", headers=admin).get_json() == before
    response = client.get("/units?provider_id=%00", headers=admin)
    assert response.status_code == 422
    assert "query" in response.get_json()["errors"]
