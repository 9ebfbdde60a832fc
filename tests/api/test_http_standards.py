"""HTTP as RFC 9110 has it: media types, JSON syntax, unknown fields, If-Match, path ids, PUT."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from placements.db import Sessions

Headers = dict[str, str]
UNIT = "clare-lodge/nene"  # seeded: 8 approved, 8 staffed, 6 occupied, five with cse_victim
ROLES = {
    "admin": {},
    "director": {"authority_id": "southwark"},
    "provider": {"provider_id": "clare-lodge"},
    "panel": {"panel_id": "review-southwark", "label": "chair.southwark@example.org#http"},
}
REQUEST = {"case_reference": "SWK-H1", "age": 15, "sex": "F", "legal_basis": "welfare",
           "grounds": ["harm_to_self"],
           "authority": {"kind": "interim_order", "granted_at": "2026-11-20T10:00:00Z",
                         "expires_at": "2027-01-20T10:00:00Z"}}  # fmt: skip


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    """A client of the app on the seeded estate."""
    return app.test_client()


@pytest.fixture
def everyone(seeded: Sessions, bearer: Callable[..., Headers]) -> dict[str, Headers]:
    """Bearer headers for one caller of each role."""
    return {role: bearer(role, **scope) for role, scope in ROLES.items()}


def operations(client: FlaskClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the OpenAPI document."""
    for path, item in client.get("/openapi.json").json["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method.upper(), path, operation


def filled(path: str, value: str = "x") -> str:
    """The path with every parameter set to `value`."""
    return re.sub(r"\{[^}]+\}", value, path)


def answers(client: FlaskClient, everyone: dict[str, Headers], method: str, path: str,
            **kwargs: Any) -> dict[str, Any]:  # fmt: skip
    """The response each role gets."""
    return {r: client.open(path, method=method, headers=h, **kwargs) for r, h in everyone.items()}


def test_every_operation_refuses_an_unknown_field_with_422(
    client: FlaskClient, everyone: dict[str, Headers]
) -> None:
    for method, path, operation in operations(client):
        if method == "GET" or operation.get("security") == []:
            continue
        got = answers(client, everyone, method, filled(path), json={"foo": 1})
        assert all(r.status_code in (403, 422) for r in got.values()), (method, path, got)
        named = [r for r in got.values() if r.status_code == 422]
        assert named and all(r.json["errors"]["json"]["foo"] for r in named), (method, path)


def test_matching_runs_and_a_withdraw_take_no_body(
    client: FlaskClient, admin: Headers, southwark: Headers
) -> None:
    for path in ("/matching/runs", "/matching/offered-runs"):
        runs = client.post(path, headers=admin, json={"foo": 1})
        assert runs.status_code == 422 and "takes no body" in runs.json["message"], path
    assert client.get("/audit?action=matching.run", headers=admin).json == []
    made = client.post("/requests", headers=southwark, json=REQUEST)
    withdraw = f"/requests/{made.json['id']}/withdraw"
    broken = client.post(
        withdraw, headers=southwark, data="{not json", content_type="application/json"
    )
    assert broken.status_code == 400 and "not valid JSON" in broken.json["message"]
    assert client.get(f"/requests/{made.json['id']}", headers=southwark).json["status"] == "waiting"
    assert client.post(withdraw, headers=southwark, json={}).status_code == 200


def test_a_body_that_is_not_json_gets_415_naming_the_media_type(
    client: FlaskClient, southwark: Headers
) -> None:
    body = json.dumps(REQUEST)
    for content_type in ("text/plain", None, "application/x-www-form-urlencoded"):
        response = client.post("/requests", headers=southwark, data=body, content_type=content_type)
        assert response.status_code == 415, content_type
        assert response.headers["Accept"] == "application/json"
        assert "Content-Type" in response.json["errors"]["headers"]
    assert client.get("/requests", headers=southwark).json == []
    json_suffix = "application/vnd.placements+json; charset=utf-8"
    suffixed = client.post("/requests", headers=southwark, data=body, content_type=json_suffix)
    assert suffixed.status_code == 201


@pytest.mark.parametrize("text", ["{", '{"age": }', "\xff\xfe{}", "[1,]", "nan"])
def test_json_that_does_not_parse_gets_400(client: FlaskClient, admin: Headers, text: str) -> None:
    response = client.put(
        "/thresholds", headers=admin, data=text.encode("latin-1"), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["errors"]["json"]["_schema"][0].startswith("the body is not valid JSON")


def put(client: FlaskClient, headers: Headers, body: object, if_match: str | None) -> Any:
    """PUT the unit's availability with If-Match (none when None)."""
    extra = {} if if_match is None else {"If-Match": if_match}
    return client.put(f"/units/{UNIT}/availability", headers={**headers, **extra}, json=body)


def unit(client: FlaskClient, headers: Headers) -> Any:
    """The unit as read, with its ETag."""
    return client.get(f"/units/{UNIT}", headers=headers)


def etag(client: FlaskClient, headers: Headers) -> str:
    """The unit's current ETag."""
    return str(unit(client, headers).headers["ETag"])


BODY = {"staffed_beds": 8, "occupied_beds": 6}


def test_if_match_star_matches_any_current_version(client: FlaskClient, clare: Headers) -> None:
    before = etag(client, clare)
    response = put(client, clare, BODY, "*")
    assert response.status_code == 200 and response.headers["ETag"] != before


def test_if_match_with_a_list_matches_if_one_tag_does(client: FlaskClient, clare: Headers) -> None:
    current = etag(client, clare)
    assert put(client, clare, BODY, '"998", "999"').status_code == 412
    response = put(client, clare, BODY, f'"998", W/"999",{current}')
    assert response.status_code == 200


@pytest.mark.parametrize("shape", ["{n}", "W/{tag}", '"0{n}"', "{tag}x", '"{n}', ""])
def test_an_unquoted_weak_or_malformed_if_match_gets_412(
    client: FlaskClient, clare: Headers, shape: str
) -> None:
    tag = etag(client, clare)
    response = put(client, clare, BODY, shape.format(tag=tag, n=tag.strip('"')))
    assert response.status_code == 412 and response.json["error"] == "PreconditionFailed"
    assert etag(client, clare) == tag


def test_a_missing_if_match_gets_428_and_a_weak_if_none_match_304(
    client: FlaskClient, clare: Headers
) -> None:
    assert put(client, clare, BODY, None).status_code == 428
    tag = etag(client, clare)
    cached = client.get(f"/units/{UNIT}", headers={**clare, "If-None-Match": f"W/{tag}"})
    assert cached.status_code == 304


def test_omitted_flags_and_reason_are_kept_and_explicit_ones_replace(
    client: FlaskClient, clare: Headers
) -> None:
    flags = unit(client, clare).json["resident_flags"]
    assert flags["cse_victim"] == 5
    body = {"staffed_beds": 7, "occupied_beds": 6, "out_of_use_reason": "staffing"}
    kept = put(client, clare, body, etag(client, clare))
    assert kept.status_code == 200 and kept.json["resident_flags"] == flags
    again = put(client, clare, {"staffed_beds": 7, "occupied_beds": 6}, etag(client, clare))
    assert again.json["out_of_use_reason"] == "staffing" and again.json["resident_flags"] == flags
    too_many = put(client, clare, {"staffed_beds": 7, "occupied_beds": 2}, etag(client, clare))
    assert too_many.status_code == 422 and "resident_flags" in too_many.json["errors"]
    assert unit(client, clare).json["occupied_beds"] == 6
    body = {"staffed_beds": 8, "occupied_beds": 2, "resident_flags": {}, "out_of_use_reason": None}
    cleared = put(client, clare, body, etag(client, clare))
    assert cleared.status_code == 200 and cleared.json["resident_flags"] == {}


def test_the_document_says_put_keeps_omitted_fields(client: FlaskClient) -> None:
    schema = client.get("/openapi.json").json["components"]["schemas"]["AvailabilityUpdate"]
    assert "kept" in schema["properties"]["resident_flags"]["description"]
    assert "cse_victim" in schema["properties"]["resident_flags"]["properties"]
    assert schema["required"] == ["occupied_beds", "staffed_beds"]


@pytest.mark.parametrize("text", ["a%00b", "%00"])
def test_a_path_id_holding_nul_is_404_on_every_operation(
    client: FlaskClient, everyone: dict[str, Headers], text: str
) -> None:
    for method, path, _ in operations(client):
        for name in re.findall(r"\{([^}]+)\}", path):
            url = filled(path.replace("{" + name + "}", text))
            got = answers(client, everyone, method, url)
            statuses = {r.status_code for r in got.values()}
            assert statuses <= {403, 404} and 404 in statuses, (method, url, statuses)
            assert all(r.is_json for r in got.values())


def test_a_path_id_with_an_encoded_surrogate_gets_no_server_error(
    client: FlaskClient, everyone: dict[str, Headers]
) -> None:
    for method, path, _ in operations(client):
        if "{" in path:
            got = answers(client, everyone, method, filled(path, "a%ED%A0%80b"))
            assert all(r.status_code in (403, 404, 405, 422) for r in got.values()), (method, path)


def test_options_on_every_path_answers_allow(
    client: FlaskClient, everyone: dict[str, Headers]
) -> None:
    for path in {path for _, path, _ in operations(client)}:
        for response in answers(client, everyone, "OPTIONS", filled(path)).values():
            assert response.status_code == 200 and "Allow" in response.headers, path


def test_dates_are_written_in_the_years_2000_to_2100(client: FlaskClient, admin: Headers) -> None:
    assert client.get("/audit?since=2100-06-01T00:00:00Z", headers=admin).status_code == 200
    early = client.get("/audit?since=1999-12-31T23:00:00Z", headers=admin)
    assert early.status_code == 422 and "2000 to 2100" in early.json["errors"]["query"]["since"][0]


def test_the_document_declares_every_status_the_service_answers(client: FlaskClient) -> None:
    for method, path, operation in operations(client):
        declared = set(operation["responses"])
        assert {"400", "414", "431"} <= declared, (method, path)
        if operation.get("security") != []:
            assert {"401", "403", "503"} <= declared, (method, path)
        if "{" in path:
            assert "404" in declared, (method, path)
        if "requestBody" in operation:
            assert {"413", "415", "422"} <= declared, (method, path)
    availability = client.get("/openapi.json").json["paths"][
        "/units/{provider_id}/{unit_slug}/availability"]["put"]  # fmt: skip
    assert {"412", "428"} <= set(availability["responses"])
