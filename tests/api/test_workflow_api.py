"""The placement workflow over HTTP: a happy path per endpoint, scopes, errors, audited reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from placements.clock import FixedClock
from placements.db import Sessions
from tests.conftest import NOW
from tests.placements.workflow import counts, set_free_beds

CLARE = "clare-lodge/nene"
REQUEST = {
    "case_reference": "SWK/2026/0412",
    "age": 15,
    "sex": "F",
    "legal_basis": "welfare",
    "grounds": ["harm_to_self"],
    "needs": ["cse"],
    "flags": ["cse_victim"],
    "exclusion_zones": [{"lat": 51.47, "lon": -0.08, "radius_km": 50}],
    "authority": {"kind": "interim_order", "granted_at": "2026-11-20T10:00:00Z",
                  "expires_at": "2027-01-20T10:00:00Z"},
}  # fmt: skip

Headers = dict[str, str]
# The child arrives as the app's clock reads NOW: after the request and the acceptance.
ADMITTED = NOW.isoformat()


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    set_free_beds(seeded, CLARE, 2, now=NOW)
    return app.test_client()


def new_request(client: FlaskClient, headers: Headers, **changes: object) -> dict[str, object]:
    response = client.post("/requests", json={**REQUEST, **changes}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[no-any-return]


def offer_to(client: FlaskClient, headers: Headers, request_id: object, unit_id: str) -> str:
    response = client.post(
        f"/requests/{request_id}/offers", json={"unit_ids": [unit_id]}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json[0]["id"]  # type: ignore[no-any-return]


def test_a_request_is_created_read_listed_and_updated(
    client: FlaskClient, southwark: Headers
) -> None:
    made = new_request(client, southwark)
    assert made["status"] == "waiting" and made["authority_id"] == "southwark"
    assert made["home"] == {"lat": 51.474, "lon": -0.081}
    assert made["hours_without_order_last_28_days"] == 0 and made["stale"] is False
    assert client.get(f"/requests/{made['id']}", headers=southwark).json["id"] == made["id"]
    listed = client.get("/requests?status=waiting", headers=southwark).json
    assert [r["id"] for r in listed] == [made["id"]]
    patched = client.patch(f"/requests/{made['id']}", json={"age": 16}, headers=southwark)
    assert patched.status_code == 200 and patched.json["age"] == 16


def test_the_same_idempotency_key_returns_the_first_request(
    client: FlaskClient, southwark: Headers
) -> None:
    headers = {**southwark, "Idempotency-Key": "abc-1"}
    first = client.post("/requests", json=REQUEST, headers=headers)
    again = client.post("/requests", json=REQUEST, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json["id"] == again.json["id"]
    other = client.post("/requests", json={**REQUEST, "age": 14}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]
    assert len(client.get("/requests", headers=southwark).json) == 1


def test_options_rank_units_with_names_and_reasons(client: FlaskClient, southwark: Headers) -> None:
    made = new_request(client, southwark)
    ranked = client.get(f"/requests/{made['id']}/options", headers=southwark).json
    assert ranked["options"] and ranked["excluded"]
    best = ranked["options"][0]
    assert best["unit_name"] and best["provider_name"]
    assert sum(best["breakdown"].values()) == best["score"]
    assert all(e["reasons"] for e in ranked["excluded"])
    scores = [o["score"] for o in ranked["options"]]
    assert scores == sorted(scores, reverse=True)


def test_offers_accept_admit_discharge_keep_the_counts_true(
    client: FlaskClient, seeded: Sessions, southwark: Headers, clare: Headers, clock: FixedClock
) -> None:
    made = new_request(client, southwark)
    before = counts(seeded, CLARE)
    offer_id = offer_to(client, southwark, made["id"], CLARE)
    mine = client.get("/offers?status=pending", headers=clare).json
    assert [o["id"] for o in mine] == [offer_id]
    assert "case_reference" not in mine[0]["child"] and mine[0]["child"]["flags"] == ["cse_victim"]
    accepted = client.post(f"/offers/{offer_id}/accept", headers=clare)
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    assert client.get(f"/requests/{made['id']}", headers=southwark).json["status"] == "reserved"
    admitted = client.post(
        f"/requests/{made['id']}/admission", json={"admitted_at": ADMITTED},
        headers=clare,
    )  # fmt: skip
    assert admitted.status_code == 201 and admitted.json["next_review_due"].startswith("2026-12-21")
    placement_id = admitted.json["id"]
    assert client.get(f"/placements/{placement_id}", headers=southwark).status_code == 200
    assert [p["id"] for p in client.get("/placements", headers=clare).json] == [placement_id]
    clock.advance(timedelta(days=1))
    discharged = client.post(
        f"/placements/{placement_id}/discharge",
        json={"discharged_at": "2026-11-22T08:00:00Z", "destination": "foster care"},
        headers=southwark,
    )
    assert discharged.status_code == 200 and discharged.json["status"] == "discharged"
    assert counts(seeded, CLARE) == before


def test_a_decline_removes_the_home_from_options_and_the_request_waits(
    client: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    made = new_request(client, southwark)
    offer_id = offer_to(client, southwark, made["id"], CLARE)
    declined = client.post(
        f"/offers/{offer_id}/decline", json={"reason": "needs_not_met", "note": "no"},
        headers=clare,
    )  # fmt: skip
    assert declined.status_code == 200
    assert client.get(f"/requests/{made['id']}", headers=southwark).json["status"] == "waiting"
    ranked = client.get(f"/requests/{made['id']}/options", headers=southwark).json
    assert "declined" in next(e for e in ranked["excluded"] if e["unit_id"] == CLARE)["reasons"]


def test_scopes_hide_other_authorities_and_homes(
    client: FlaskClient, bearer: Callable[..., Headers], southwark: Headers, clare: Headers
) -> None:
    surrey = bearer("director", authority_id="surrey")
    theirs = new_request(client, surrey)
    offer_id = offer_to(client, surrey, theirs["id"], CLARE)
    assert client.post(f"/offers/{offer_id}/accept", headers=clare).status_code == 200
    placed = client.post(f"/requests/{theirs['id']}/admission",
                         json={"admitted_at": ADMITTED}, headers=surrey)  # fmt: skip
    assert client.get(f"/requests/{theirs['id']}", headers=southwark).status_code == 404
    assert client.get(f"/requests/{theirs['id']}/options", headers=southwark).status_code == 404
    assert client.get(f"/placements/{placed.json['id']}", headers=southwark).status_code == 404
    assert client.get("/placements", headers=southwark).json == []
    adel = bearer("provider", provider_id="adel-beck")
    hidden = client.get(f"/offers/{offer_id}", headers=adel)
    assert hidden.status_code == 404  # exactly as an offer that does not exist
    assert hidden.json["message"] == f"offer {offer_id!r} does not exist"
    assert client.post(f"/offers/{offer_id}/decline", json={"reason": "other"},
                       headers=adel).status_code == 404  # fmt: skip
    assert client.get("/requests", headers=clare).status_code == 403  # never for a home


def test_every_read_by_a_provider_or_admin_is_audited(
    client: FlaskClient, bearer: Callable[..., Headers], southwark: Headers, clare: Headers
) -> None:
    admin = bearer("admin")
    made = new_request(client, southwark)
    offer_to(client, southwark, made["id"], CLARE)
    client.get(f"/requests/{made['id']}", headers=southwark)
    client.get(f"/requests/{made['id']}", headers=admin)
    client.get("/offers", headers=clare)
    client.get("/requests", headers=admin)
    events = client.get(f"/audit?object_type=request&object_id={made['id']}&action=request.read",
                        headers=admin).json  # fmt: skip
    assert [e["actor_role"] for e in events] == ["admin"]
    lists = client.get("/audit?action=request.read_list", headers=admin).json
    assert sorted((e["actor_role"], e["object_id"]) for e in lists) == [
        ("admin", "requests.list"),
        ("provider", "offers.list"),
    ]  # one event per list read, naming every request read
    assert all(e["after"] == {"request_ids": [made["id"]]} for e in lists)


@pytest.mark.parametrize("step", ["accept_declined", "admit_waiting", "withdraw_placed"])
def test_invalid_transitions_get_409_naming_the_status(
    client: FlaskClient, southwark: Headers, clare: Headers, step: str
) -> None:
    made = new_request(client, southwark)
    offer_id = offer_to(client, southwark, made["id"], CLARE)
    admit = {"admitted_at": ADMITTED}
    if step == "accept_declined":
        client.post(f"/offers/{offer_id}/decline", json={"reason": "other"}, headers=clare)
        response = client.post(f"/offers/{offer_id}/accept", headers=clare)
        status = "declined"
    elif step == "admit_waiting":
        client.post(f"/offers/{offer_id}/decline", json={"reason": "other"}, headers=clare)
        response = client.post(f"/requests/{made['id']}/admission", json=admit, headers=southwark)
        status = "waiting"
    else:
        client.post(f"/offers/{offer_id}/accept", headers=clare)
        client.post(f"/requests/{made['id']}/admission", json=admit, headers=southwark)
        response = client.post(f"/requests/{made['id']}/withdraw", headers=southwark)
        status = "placed"
    assert response.status_code == 409 and status in response.json["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"age": 9}, "age"),
        ({"age": "15"}, "age"),
        ({"sex": "X"}, "sex"),
        ({"flags": ["dragon"]}, "flags"),
        ({"needs": ["flying"]}, "needs"),
        ({"case_reference": "Jane Doe"}, "case_reference"),
        ({"age": 12}, "under_13_approval"),
        ({"grounds": []}, "grounds"),
        ({"nickname": "x"}, "nickname"),
        ({"authority": {"kind": "remand", "granted_at": "2026-11-20T10:00:00Z",
                        "expires_at": "2026-12-30T10:00:00Z"}}, "authority"),
        ({"authority": {"kind": "full_order", "granted_at": "2026-11-20T10:00:00Z",
                        "expires_at": "2027-03-20T10:00:00Z"}}, "authority.expires_at"),
        ({"exclusion_zones": [{"lat": 95, "lon": 0, "radius_km": 5}]}, "lat"),
        ({"exclusion_zones": [{"lat": "51.4", "lon": 0, "radius_km": 5}]}, "lat"),
        ({"max_distance_km": "300"}, "max_distance_km"),
        ({"case_reference": "SWK/2026/0412\n"}, "case_reference"),
        ({"needed_by": "0001-01-01T00:00:00+01:00"}, "needed_by"),
        ({"authority": {"kind": "interim_order", "granted_at": "9999-12-01T00:00:00Z",
                        "expires_at": "9999-12-31T00:00:00Z"}}, "authority.granted_at"),
        ({"authority": {"kind": "interim_order", "renewal": "yes",
                        "granted_at": "2026-11-20T10:00:00Z",
                        "expires_at": "2027-01-20T10:00:00Z"}}, "authority.renewal"),
    ],
)  # fmt: skip
def test_bad_requests_get_422_naming_the_field_and_change_nothing(
    client: FlaskClient, southwark: Headers, changes: dict[str, object], field: str
) -> None:
    response = client.post("/requests", json={**REQUEST, **changes}, headers=southwark)
    assert response.status_code == 422 and field in response.json["message"]
    assert client.get("/requests", headers=southwark).json == []


def test_admission_and_discharge_in_the_future_or_out_of_range_get_422_and_change_nothing(
    client: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    made = new_request(client, southwark)
    offer_id = offer_to(client, southwark, made["id"], CLARE)
    client.post(f"/offers/{offer_id}/accept", headers=clare)
    reserved = counts_of(client, clare)
    url = f"/requests/{made['id']}/admission"
    for when in ("2030-06-01T10:00:00Z", "9999-12-31T00:00:00Z", "0001-01-01T00:00:00+01:00"):
        response = client.post(url, json={"admitted_at": when}, headers=clare)
        assert response.status_code == 422 and "admitted_at" in response.json["message"], when
    assert counts_of(client, clare) == reserved
    assert client.get(f"/requests/{made['id']}", headers=southwark).json["status"] == "reserved"
    placed = client.post(url, json={"admitted_at": ADMITTED}, headers=clare).json
    occupied = counts_of(client, clare)
    for when in ("2031-01-01T10:00:00Z", "9999-12-31T23:59:59-01:00"):
        response = client.post(f"/placements/{placed['id']}/discharge",
                               json={"discharged_at": when, "destination": "home"},
                               headers=southwark)  # fmt: skip
        assert response.status_code == 422 and "discharged_at" in response.json["message"], when
    assert counts_of(client, clare) == occupied
    assert client.get(f"/placements/{placed['id']}", headers=southwark).json["status"] == "active"


def counts_of(client: FlaskClient, headers: Headers) -> tuple[int, int]:
    unit = client.get(f"/units/{CLARE}", headers=headers).json
    return unit["occupied_beds"], unit["reserved_beds"]


def test_bad_offer_decline_and_discharge_bodies_get_422(
    client: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    made = new_request(client, southwark)
    both = client.post(f"/requests/{made['id']}/offers", json={"unit_ids": [CLARE], "top": 2},
                       headers=southwark)  # fmt: skip
    assert both.status_code == 422
    boys_only = {"unit_ids": ["barton-moss/irwell"]}
    ineligible = client.post(f"/requests/{made['id']}/offers", json=boys_only, headers=southwark)
    assert ineligible.status_code == 422 and "barton-moss/irwell" in ineligible.json["errors"]
    offer_id = offer_to(client, southwark, made["id"], CLARE)
    bad = client.post(f"/offers/{offer_id}/decline", json={"reason": "bored"}, headers=clare)
    assert bad.status_code == 422 and "reason" in bad.json["message"]
    assert client.get(f"/offers/{offer_id}", headers=clare).json["status"] == "pending"


def test_batch_runs_propose_and_offer(
    client: FlaskClient, bearer: Callable[..., Headers], southwark: Headers
) -> None:
    admin = bearer("admin")
    new_request(client, southwark)
    new_request(client, southwark, case_reference="SWK-2", flags=[], needs=[])
    run = client.post("/matching/runs", headers=admin)
    assert run.status_code == 201 and run.json["placed"] == run.json["placed_bound"] == 2
    assert client.get(f"/matching/runs/{run.json['id']}", headers=admin).json == run.json
    sent = client.post(f"/matching/runs/{run.json['id']}/offers", headers=admin)
    assert sent.status_code == 201 and len(sent.json["offers"]) == 2
    again = client.post(f"/matching/runs/{run.json['id']}/offers", headers=admin).json
    assert again["offers"] == [] and len(again["skipped"]) == 2
    assert client.post("/matching/runs", headers=southwark).status_code == 403


def test_a_batch_run_offered_in_one_step(
    client: FlaskClient, bearer: Callable[..., Headers], southwark: Headers
) -> None:
    admin = bearer("admin")
    new_request(client, southwark)
    new_request(client, southwark, case_reference="SWK-2", flags=[], needs=[])
    done = client.post("/matching/offered-runs", headers=admin)
    assert done.status_code == 201, done.json
    run = done.json["run"]
    assert run["placed"] == 2 and done.json["skipped"] == []
    assert client.get(f"/matching/runs/{run['id']}", headers=admin).json == run
    offered = {(o["request_id"], o["unit_id"]) for o in done.json["offers"]}
    assert offered == {(p["child_id"], p["unit_id"]) for p in run["proposals"]}
    # Both are offered now: nobody is left waiting for the next run.
    again = client.post("/matching/offered-runs", headers=admin).json
    assert again["run"]["proposals"] == [] and again["offers"] == []
    assert client.post("/matching/offered-runs", headers=southwark).status_code == 403


def test_the_decline_report_and_acceptance_figures(
    client: FlaskClient, bearer: Callable[..., Headers], southwark: Headers, clare: Headers
) -> None:
    admin = bearer("admin")
    made = new_request(client, southwark)
    offer_id = offer_to(client, southwark, made["id"], CLARE)
    client.post(f"/offers/{offer_id}/decline", json={"reason": "mix_of_residents"}, headers=clare)
    report = client.get("/reports/declines", headers=admin).json
    assert report["declines_by_reason"] == {"mix_of_residents": 1}
    assert report["declines_by_provider"] == {"clare-lodge": {"mix_of_residents": 1}}
    assert report["by_sex"] == [
        {"group": "F", "accepted": 0, "declined": 1, "acceptance_rate": 0.0}
    ]
    figures = client.get("/providers/clare-lodge/acceptance", headers=admin).json
    assert figures["declined"] == 1 and figures["prior"] < 0.5  # the true total
    assert figures["segments"] == [{  # one answer: too few to show
        "legal_basis": "welfare", "sex": "F", "age_band": "15-17", "flags": ["cse_victim"],
        "suppressed": True, "accepted": None, "declined": None, "estimate": None,
    }]  # fmt: skip
