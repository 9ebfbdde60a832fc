"""The access rule through HTTP: roles before validation, who changed a count, suppressed
acceptance segments, paged lists, and audited reads that never take SQLite's write lock."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.views import MethodView
from sqlalchemy import text

from api import create_app
from api.roles import undeclared
from placements import access
from placements.db import Sessions
from tests.conftest import NOW
from tests.placements.workflow import set_free_beds

Headers = dict[str, str]
UNIT = "clare-lodge/nene"
REQUEST = {"case_reference": "ACC/1", "age": 15, "sex": "F", "legal_basis": "welfare",
           "grounds": ["harm_to_self"]}  # fmt: skip


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    return app.test_client()


def new_request(client: FlaskClient, director: Headers, reference: str) -> str:
    made = client.post("/requests", json={**REQUEST, "case_reference": reference}, headers=director)
    assert made.status_code == 201, made.json
    return made.json["id"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "body", [{}, {"case_reference": 5}, "not json", None], ids=["empty", "wrong", "text", "none"]
)
def test_a_role_that_may_never_create_a_request_gets_403_whatever_it_sends(
    client: FlaskClient, clare: Headers, body: object
) -> None:
    if isinstance(body, str):
        response = client.post("/requests", data=body, content_type="text/plain", headers=clare)
    else:
        response = client.post("/requests", json=body, headers=clare)
    assert response.status_code == 403
    assert response.json["error"] == "Forbidden" and "errors" not in response.json
    assert "requests.create" in response.json["message"]


def test_a_role_check_comes_before_the_query_is_read(client: FlaskClient, clare: Headers) -> None:
    assert client.get("/requests?status=nonsense&page=0", headers=clare).status_code == 403
    assert client.get("/meetings?kind=castle", headers=clare).status_code == 403


def test_options_names_the_methods_for_any_role(client: FlaskClient, clare: Headers) -> None:
    response = client.options("/requests", headers=clare)
    assert response.status_code == 200 and {"GET", "POST"} <= set(response.allow)


def test_every_operation_of_the_app_names_its_roles(app: Flask) -> None:
    assert undeclared(app) == []
    fresh = create_app({"PLACEMENTS_DATABASE_URL": "sqlite://"})

    class Unnamed(MethodView):
        def get(self) -> str:
            return "?"

    fresh.add_url_rule("/unnamed", view_func=Unnamed.as_view("unnamed"))
    assert undeclared(fresh) == ["GET /unnamed"]


def test_who_changed_a_count_is_shown_to_the_units_home_and_admins_only(
    client: FlaskClient, bearer: Callable[..., Headers], clare: Headers, admin: Headers,
    southwark: Headers,
) -> None:  # fmt: skip
    etag = client.get(f"/units/{UNIT}", headers=clare).headers["ETag"]
    body = {"staffed_beds": 8, "occupied_beds": 3, "resident_flags": {}}
    changed = client.put(f"/units/{UNIT}/availability", json=body,
                         headers={**clare, "If-Match": etag})  # fmt: skip
    assert changed.status_code == 200, changed.json
    label = changed.json["updated_by"]
    other_home = bearer("provider", provider_id="adel-beck")
    panel = bearer("panel", panel_id="review-southwark")
    path = f"/units/{UNIT}/availability/history"
    for who, shown in [(clare, True), (admin, True), (other_home, False), (southwark, False),
                       (panel, False)]:  # fmt: skip
        latest = client.get(path, headers=who).json[0]
        assert latest["cause"] == "provider_update" and latest["occupied_beds"] == 3
        assert latest["by"] == (label if shown else None)
        assert client.get(f"/units/{UNIT}", headers=who).json["updated_by"] == (
            label if shown else None
        )


def answer(client: FlaskClient, director: Headers, home: Headers, reference: str,
           flags: list[str], *, accept: bool = False) -> None:  # fmt: skip
    """One offer to Clare Lodge, answered: accepted or declined."""
    made = client.post("/requests", json={**REQUEST, "case_reference": reference, "flags": flags},
                       headers=director)  # fmt: skip
    assert made.status_code == 201, made.json
    offer = client.post(f"/requests/{made.json['id']}/offers", json={"unit_ids": [UNIT]},
                        headers=director).json[0]  # fmt: skip
    if accept:
        assert client.post(f"/offers/{offer['id']}/accept", headers=home).status_code == 200
    else:
        declined = client.post(f"/offers/{offer['id']}/decline", json={"reason": "other"},
                               headers=home)  # fmt: skip
        assert declined.status_code == 200


def test_acceptance_segments_with_fewer_than_five_answers_are_suppressed(
    client: FlaskClient, seeded: Sessions, southwark: Headers, clare: Headers
) -> None:
    set_free_beds(seeded, UNIT, 8, now=NOW)
    for n in range(5):
        answer(client, southwark, clare, f"ACC/A/{n}", [], accept=n < 2)
    for n in range(3):
        answer(client, southwark, clare, f"ACC/B/{n}", ["cse_victim"])
    for n in range(2):
        answer(client, southwark, clare, f"ACC/C/{n}", ["absconding_risk"])
    figures = client.get("/providers/clare-lodge/acceptance", headers=clare).json
    assert (figures["accepted"], figures["declined"]) == (2, 8)  # the true totals
    shown = {tuple(s["flags"]): s for s in figures["segments"]}
    assert (shown[()]["accepted"], shown[()]["declined"], shown[()]["suppressed"]) == (2, 3, False)
    for flags in [("cse_victim",), ("absconding_risk",)]:
        assert shown[flags] | {"flags": []} == {
            "legal_basis": "welfare", "sex": "F", "age_band": "15-17", "flags": [],
            "suppressed": True, "accepted": None, "declined": None, "estimate": None,
        }  # fmt: skip


def test_the_totals_minus_the_shown_segments_never_reveal_a_suppressed_one() -> None:
    assert access.suppressed_segments([7, 3]) == {0, 1}  # 7 alone would give away the 3
    assert access.suppressed_segments([7, 6, 3]) == {1, 2}
    assert access.suppressed_segments([7, 2, 3]) == {1, 2}  # 5 hidden together
    assert access.suppressed_segments([5, 9]) == set()
    assert access.suppressed_segments([1]) == {0}


@pytest.mark.parametrize("path", ["/requests", "/offers", "/placements", "/meetings"])
def test_the_lists_page_with_page_page_size_and_x_pagination(
    client: FlaskClient, bearer: Callable[..., Headers], path: str
) -> None:
    admin = bearer("admin")
    first = client.get(f"{path}?page=1&page_size=1", headers=admin)
    assert first.status_code == 200
    assert json.loads(first.headers["X-Pagination"])["total"] == len(
        client.get(f"{path}?page_size=100", headers=admin).json
    )
    assert client.get(f"{path}?page_size=101", headers=admin).status_code == 422
    assert client.get(f"{path}?page=0", headers=admin).status_code == 422


def test_a_page_of_requests_is_stable_and_audited_once(
    client: FlaskClient, southwark: Headers, admin: Headers
) -> None:
    made = [new_request(client, southwark, f"ACC/P/{n}") for n in range(3)]
    pages = [client.get(f"/requests?page={p}&page_size=2", headers=admin) for p in (1, 2)]
    assert [r["id"] for page in pages for r in page.json] == sorted(made)  # same time: by id
    assert json.loads(pages[0].headers["X-Pagination"]) == {
        "total": 3, "total_pages": 2, "first_page": 1, "last_page": 2, "page": 1, "next_page": 2,
    }  # fmt: skip
    events = client.get("/audit?action=request.read_list", headers=admin).json
    assert sorted(tuple(e["after"]["request_ids"]) for e in events) == [
        tuple(sorted(made)[:2]),
        (sorted(made)[2],),
    ]  # one event per page read, naming the requests on it
    assert client.get("/requests", headers=southwark).status_code == 200
    assert len(client.get("/audit?action=request.read_list", headers=admin).json) == 2


def test_reads_of_a_request_never_wait_for_sqlites_write_lock(
    client: FlaskClient, seeded: Sessions, southwark: Headers, clare: Headers
) -> None:
    if seeded.engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    set_free_beds(seeded, UNIT, 2, now=NOW)
    request_id = new_request(client, southwark, "ACC/L/1")
    offered = client.post(f"/requests/{request_id}/offers", json={"unit_ids": [UNIT]},
                          headers=southwark)  # fmt: skip
    assert offered.status_code == 201
    with seeded.engine.connect() as writer:
        writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held from here
        for path in [f"/requests/{request_id}", f"/requests/{request_id}/options", "/requests"]:
            assert client.get(path, headers=southwark).status_code == 200, path
        assert client.get("/offers", headers=southwark).status_code == 200
        writer.rollback()
