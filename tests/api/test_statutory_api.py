"""The statutory rules over HTTP: the 72 hours, orders, admissions, quorate reviews, duplicates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from placements import demand, reviews
from placements.clock import FixedClock
from placements.config import Settings
from placements.db import Sessions
from tests.conftest import NOW
from tests.placements.workflow import counts, set_free_beds

Headers = dict[str, str]
SETTINGS = Settings()
CLARE = "clare-lodge/nene"  # welfare, girls
OAK = "adel-beck/oak"  # justice, girls and boys
WELFARE = {"age": 15, "sex": "F", "legal_basis": "welfare", "grounds": ["harm_to_self"]}
QUORUM = ["Alex Example", "Bindi Sample", "Carys Testwell"]  # Southwark's panel; Carys independent


def iso(moment: datetime) -> str:
    return moment.isoformat()


def order(kind: str, granted: datetime, days: int, renewal: bool = False) -> dict[str, Any]:
    return {"kind": kind, "granted_at": iso(granted),
            "expires_at": iso(granted + timedelta(days=days)), "renewal": renewal}  # fmt: skip


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    set_free_beds(seeded, CLARE, 3, now=NOW)
    set_free_beds(seeded, OAK, 1, now=NOW)
    return app.test_client()


def request_for(client: FlaskClient, director: Headers, reference: str, **facts: Any) -> str:
    made = client.post("/requests", json={**WELFARE, "case_reference": reference, **facts},
                       headers=director)  # fmt: skip
    assert made.status_code == 201, made.json
    return made.json["id"]  # type: ignore[no-any-return]


def reserve(client: FlaskClient, director: Headers, home: Headers, request_id: str,
            unit: str = CLARE) -> str:  # fmt: skip
    offered = client.post(f"/requests/{request_id}/offers", json={"unit_ids": [unit]},
                          headers=director)  # fmt: skip
    assert offered.status_code == 201, offered.json
    offer_id = offered.json[0]["id"]
    assert client.post(f"/offers/{offer_id}/accept", headers=home).status_code == 200
    return offer_id  # type: ignore[no-any-return]


def place(client: FlaskClient, director: Headers, home: Headers, reference: str,
          at: datetime, **facts: Any) -> tuple[str, str]:  # fmt: skip
    """Request, offer, accept and admit at `at`; the request's and the placement's ids."""
    request_id = request_for(client, director, reference, **facts)
    reserve(client, director, home, request_id)
    admitted = client.post(f"/requests/{request_id}/admission",
                           json={"admitted_at": iso(at)}, headers=director)  # fmt: skip
    assert admitted.status_code == 201, admitted.json
    return request_id, admitted.json["id"]


def read(client: FlaskClient, headers: Headers, url: str) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def test_hours_after_an_order_expired_count_towards_the_72_and_the_demand_check_shows_them(
    client: FlaskClient, southwark: Headers, clare: Headers, admin: Headers, clock: FixedClock,
    seeded: Sessions,
) -> None:  # fmt: skip
    interim = order("interim_order", NOW - timedelta(days=10), 11)
    request_id, _ = place(client, southwark, clare, "SWK/EXP/1", NOW, authority=interim)
    clock.advance(timedelta(days=3))  # the order ran out a day after admission, 48 hours ago
    seen = read(client, southwark, f"/requests/{request_id}")
    assert seen["hours_without_order_last_28_days"] == 48.0
    assert seen["order_expired"] and seen["without_order_warning"]
    assert not seen["without_order_breach"]
    clock.advance(timedelta(days=2))
    check = demand.check(seeded, SETTINGS, now=clock.now())
    assert check.meeting_id is not None
    snapshot = read(client, admin, f"/meetings/{check.meeting_id}")["agenda"]["snapshot"]
    assert {"request_id": request_id, "hours": 96.0} in snapshot["over_72_hour_limit"]
    assert {"request_id": request_id, "hours": 96.0} in snapshot["near_72_hour_limit"]


def test_a_child_placed_without_an_order_past_72_hours_is_shown_as_a_breach(
    client: FlaskClient, southwark: Headers, clare: Headers, clock: FixedClock
) -> None:
    request_id, _ = place(client, southwark, clare, "SWK/NONE/1", NOW)
    clock.advance(timedelta(hours=71))
    seen = read(client, southwark, f"/requests/{request_id}")
    assert seen["hours_without_order_last_28_days"] == 71.0
    assert seen["without_order_warning"] and not seen["without_order_breach"]
    clock.advance(timedelta(hours=2))
    seen = read(client, southwark, f"/requests/{request_id}")
    assert seen["hours_without_order_last_28_days"] == 73.0 and seen["without_order_breach"]


def test_an_order_recorded_after_admission_moves_the_clocks_and_the_review_date(
    client: FlaskClient, southwark: Headers, clare: Headers, admin: Headers, clock: FixedClock,
    seeded: Sessions,
) -> None:  # fmt: skip
    request_id, placement_id = place(client, southwark, clare, "SWK/LATE/1", NOW)
    statutory_due = "2026-12-21T09:00:00+00:00"  # a month after admission
    assert read(client, southwark, f"/requests/{request_id}")["next_review_due"] == statutory_due
    clock.advance(timedelta(hours=30))
    assert (
        read(client, southwark, f"/requests/{request_id}")["hours_without_order_last_28_days"]
        == 30.0
    )
    interim = order("interim_order", NOW + timedelta(hours=24), 14)  # granted 6 hours ago
    recorded = client.post(f"/requests/{request_id}/orders", json=interim, headers=southwark)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["hours_without_order_last_28_days"] == 24.0
    assert recorded.json["authority"]["kind"] == "interim_order"
    assert [o["kind"] for o in recorded.json["orders"]] == ["interim_order"]
    # The order runs out before the month is up: the review comes before it, for the renewal.
    assert recorded.json["next_review_due"] == interim["expires_at"]
    clock.advance(timedelta(days=9))
    called = reviews.call_reviews(seeded, SETTINGS, now=clock.now()).called
    assert len(called) == 1
    meeting = read(client, admin, f"/meetings/{called[0]}")
    assert meeting["due_by"] == interim["expires_at"] and meeting["placement_id"] == placement_id
    assert read(client, southwark, f"/requests/{request_id}")["order_expiring"]
    renewal = order("full_order", clock.now(), 180, renewal=True)
    renewed = client.post(f"/requests/{request_id}/orders", json=renewal, headers=southwark)
    assert renewed.status_code == 201, renewed.json
    assert renewed.json["next_review_due"] == statutory_due and not renewed.json["order_expiring"]
    moved = read(client, admin, f"/meetings/{called[0]}")
    assert moved["due_by"] == statutory_due and moved["sequence"] == meeting["sequence"] + 1
    assert reviews.call_reviews(seeded, SETTINGS, now=clock.now()).called == []


@pytest.mark.parametrize(
    ("order_body", "field"),
    [
        (order("interim_order", NOW + timedelta(hours=1), 30), "granted_at"),  # in the future
        (order("remand", NOW - timedelta(days=1), 20), "kind"),  # a welfare child on remand
        (order("sentence", NOW - timedelta(days=1), 20), "kind"),
        (order("interim_order", NOW - timedelta(days=1), 100), "expires_at"),  # over 3 months
        ({"kind": "none", "granted_at": iso(NOW), "expires_at": iso(NOW)}, "kind"),
        ({"kind": "interim_order", "granted_at": iso(NOW)}, "expires_at"),
        ({**order("full_order", NOW, 30), "colour": "red"}, "colour"),
    ],
)
def test_a_bad_order_gets_422_naming_the_field_and_changes_nothing(
    client: FlaskClient, southwark: Headers, order_body: dict[str, Any], field: str
) -> None:
    request_id = request_for(client, southwark, "SWK/BAD/1")
    before = read(client, southwark, f"/requests/{request_id}")
    response = client.post(f"/requests/{request_id}/orders", json=order_body, headers=southwark)
    assert response.status_code == 422 and field in response.json["message"], response.json
    assert read(client, southwark, f"/requests/{request_id}") == before


@pytest.mark.parametrize(
    ("basis", "authority", "accepted"),
    [
        ("sentence", order("interim_order", NOW - timedelta(days=1), 30), False),
        ("sentence", {"kind": "none"}, False),
        ("remand", {"kind": "none"}, False),
        ("welfare", order("remand", NOW - timedelta(days=1), 20), False),
        ("sentence", order("sentence", NOW - timedelta(days=30), 365), True),
        ("remand", order("remand", NOW - timedelta(days=1), 28), True),
        ("welfare", {"kind": "none"}, True),
        ("welfare", order("full_order", NOW - timedelta(days=1), 60), True),
    ],
)
def test_each_legal_basis_takes_only_its_own_kinds_of_order(
    client: FlaskClient, southwark: Headers, basis: str, authority: dict[str, Any], accepted: bool
) -> None:
    grounds = ["harm_to_self"] if basis == "welfare" else []
    facts = {"age": 15, "sex": "F", "legal_basis": basis, "case_reference": "SWK/KIND/1",
             "grounds": grounds, "authority": authority}  # fmt: skip
    response = client.post("/requests", json=facts, headers=southwark)
    if accepted:
        assert response.status_code == 201, response.json
    else:
        assert response.status_code == 422 and "authority.kind" in response.json["message"]


def test_an_order_can_be_recorded_on_a_discharged_request_and_counts_for_the_child(
    client: FlaskClient, southwark: Headers, clare: Headers, clock: FixedClock
) -> None:
    first, placement_id = place(client, southwark, clare, "SWK/AGAIN/1", NOW)
    clock.advance(timedelta(hours=40))
    discharged = client.post(f"/placements/{placement_id}/discharge",
                             json={"discharged_at": iso(clock.now()), "destination": "home"},
                             headers=southwark)  # fmt: skip
    assert discharged.status_code == 200
    second, _ = place(client, southwark, clare, "SWK/AGAIN/1", clock.now())
    clock.advance(timedelta(hours=10))
    assert read(client, southwark, f"/requests/{second}")["hours_without_order_last_28_days"] == 50
    missed = client.post(f"/requests/{first}/orders", headers=southwark,
                         json=order("interim_order", NOW, 30))  # fmt: skip
    assert missed.status_code == 201 and missed.json["status"] == "discharged"
    # That order covers the first stay and the second one alike: the same child.
    assert read(client, southwark, f"/requests/{second}")["hours_without_order_last_28_days"] == 0


@pytest.mark.parametrize("case", ["before_request", "before_acceptance", "before_order"])
def test_an_impossible_admission_time_gets_422_naming_admitted_at(
    client: FlaskClient, southwark: Headers, bearer: Callable[..., Headers], clock: FixedClock,
    case: str,
) -> None:  # fmt: skip
    unit, home = CLARE, bearer("provider", provider_id="clare-lodge")
    if case == "before_order":
        unit, home = OAK, bearer("provider", provider_id="adel-beck")
        remand = order("remand", NOW - timedelta(days=1), 20)
        request_id = request_for(client, southwark, "SWK/ADM/1", legal_basis="remand", grounds=[],
                                 authority=remand)  # fmt: skip
        clock.advance(timedelta(hours=3))
        later = order("remand", NOW + timedelta(hours=2), 20)  # the order as the court made it
        patched = client.patch(f"/requests/{request_id}", json={"authority": later},
                               headers=southwark)  # fmt: skip
        assert patched.status_code == 200, patched.json
        admitted_at, expected = NOW + timedelta(hours=1), "before the remand order was granted"
    else:
        request_id = request_for(client, southwark, "SWK/ADM/1")
        clock.advance(timedelta(hours=2))
        admitted_at, expected = (
            (NOW - timedelta(hours=1), "before the request was made")
            if case == "before_request"
            else (NOW + timedelta(hours=1), "before the home accepted the offer")
        )
    reserve(client, southwark, home, request_id, unit)
    before = counts_now(client, home, unit)
    response = client.post(f"/requests/{request_id}/admission",
                           json={"admitted_at": iso(admitted_at)}, headers=southwark)  # fmt: skip
    assert response.status_code == 422, response.json
    assert any(expected in m for m in response.json["errors"]["admitted_at"]), response.json
    assert counts_now(client, home, unit) == before
    assert read(client, southwark, f"/requests/{request_id}")["status"] == "reserved"
    fine = client.post(f"/requests/{request_id}/admission", json={"admitted_at": iso(clock.now())},
                       headers=southwark)  # fmt: skip
    assert fine.status_code == 201


def counts_now(client: FlaskClient, home: Headers, unit_id: str) -> tuple[int, int]:
    unit = read(client, home, f"/units/{unit_id}")
    return unit["occupied_beds"], unit["reserved_beds"]


@pytest.fixture
def called_review(
    client: FlaskClient, southwark: Headers, clare: Headers, clock: FixedClock, seeded: Sessions
) -> tuple[str, str]:
    """A placed child of Southwark's and its first review, called; their placement and meeting."""
    interim = order("interim_order", NOW - timedelta(days=1), 80)
    _, placement_id = place(client, southwark, clare, "SWK/REV/1", NOW, authority=interim)
    clock.advance(timedelta(days=25))
    called = reviews.call_reviews(seeded, SETTINGS, now=clock.now()).called
    assert len(called) == 1
    return placement_id, called[0]


@pytest.mark.parametrize(
    ("attendees", "told"),
    [
        (["Alex Example", "Bindi Sample"], "2 attended, 1 more needed (absent: Carys Testwell)"),
        (["Alex Example", "Bindi Sample"], "none of Carys Testwell attended"),
        (["Alex Example", "Bindi Sample", "Zed Visitor"], "not members of panel"),
        (["Alex Example", "alex example", "Carys Testwell"], "2 attended, 1 more needed"),
    ],
)
def test_a_review_outcome_without_a_quorum_gets_422_saying_who_is_missing(
    client: FlaskClient, bearer: Callable[..., Headers], admin: Headers,
    called_review: tuple[str, str], clock: FixedClock, attendees: list[str], told: str,
) -> None:  # fmt: skip
    _, meeting_id = called_review
    chair = bearer("panel", panel_id="review-southwark", label="chair.southwark@example.org")
    outcome = {"held_at": iso(clock.now()), "attendees": attendees, "recommendation": "continue"}
    refused = client.post(f"/meetings/{meeting_id}/outcome", json=outcome, headers=chair)
    assert refused.status_code == 422, refused.json
    assert any(told in m for m in refused.json["errors"]["attendees"]), refused.json
    assert read(client, admin, f"/meetings/{meeting_id}")["status"] == "called"
    # Members may be named by email as well as by name.
    quorate = {**outcome, "attendees": [*QUORUM[:2], "independent.southwark@example.org"]}
    held = client.post(f"/meetings/{meeting_id}/outcome", json=quorate, headers=chair)
    assert held.status_code == 200 and held.json["status"] == "held", held.json


def test_a_discharge_cancels_the_childs_called_review_at_once_and_tells_the_members(
    client: FlaskClient, southwark: Headers, admin: Headers, called_review: tuple[str, str],
    clock: FixedClock,
) -> None:  # fmt: skip
    placement_id, meeting_id = called_review
    told_before = read(client, admin, f"/notifications?meeting_id={meeting_id}")
    discharged = client.post(f"/placements/{placement_id}/discharge",
                             json={"discharged_at": iso(clock.now()), "destination": "home"},
                             headers=southwark)  # fmt: skip
    assert discharged.status_code == 200
    assert read(client, admin, f"/meetings/{meeting_id}")["status"] == "cancelled"
    told = read(client, admin, f"/notifications?meeting_id={meeting_id}")
    cancelled = [n for n in told if n["event"] == "meeting.cancelled"]
    assert len(told) > len(told_before)
    assert {n["member_email"] for n in cancelled} == {
        "chair.southwark@example.org", "councillor.southwark@example.org",
        "independent.southwark@example.org",
    }  # fmt: skip


def test_a_second_open_request_for_the_same_case_reference_gets_409_naming_the_first(
    client: FlaskClient, southwark: Headers, bearer: Callable[..., Headers]
) -> None:
    keyed = {**southwark, "Idempotency-Key": "first-try"}
    body = {**WELFARE, "case_reference": "SWK/DUP/1"}
    first = client.post("/requests", json=body, headers=keyed)
    assert first.status_code == 201
    again = client.post("/requests", json=body, headers=southwark)
    assert again.status_code == 409 and first.json["id"] in again.json["message"]
    assert again.json["errors"] == {"case_reference": [f"open request {first.json['id']}"]}
    replay = client.post("/requests", json=body, headers=keyed)
    assert replay.status_code == 201 and replay.json["id"] == first.json["id"]
    other = request_for(client, southwark, "SWK/DUP/2")
    renamed = client.patch(f"/requests/{other}", json={"case_reference": "SWK/DUP/1"},
                           headers=southwark)  # fmt: skip
    assert renamed.status_code == 409 and first.json["id"] in renamed.json["message"]
    # Another authority's child may carry the same reference; a withdrawn request is finished.
    surrey = bearer("director", authority_id="surrey")
    assert client.post("/requests", json=body, headers=surrey).status_code == 201
    withdrawn = client.post(f"/requests/{first.json['id']}/withdraw", headers=southwark)
    assert withdrawn.status_code == 200
    assert client.post("/requests", json=body, headers=southwark).status_code == 201


def test_withdrawing_a_reserved_request_frees_its_bed_and_the_home_sees_why(
    client: FlaskClient, southwark: Headers, clare: Headers, seeded: Sessions
) -> None:
    request_id = request_for(client, southwark, "SWK/WD/1")
    before = counts(seeded, CLARE)
    offer_id = reserve(client, southwark, clare, request_id)
    reserved = read(client, southwark, f"/requests/{request_id}")
    assert reserved["reservation"] == {"offer_id": offer_id, "unit_id": CLARE,
                                       "provider_id": "clare-lodge"}  # fmt: skip
    assert counts(seeded, CLARE) == (before[0], before[1] + 1, before[2] - 1)
    withdrawn = client.post(f"/requests/{request_id}/withdraw", headers=southwark)
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert withdrawn.json["reservation"] is None and counts(seeded, CLARE) == before
    seen = read(client, clare, f"/offers/{offer_id}")
    assert seen["status"] == "cancelled" and seen["cancel_reason"] == "withdrawn_by_placer"
    assert seen["placing_authority"] == {"id": "southwark", "name": "London Borough of Southwark"}
    again = client.post(f"/requests/{request_id}/withdraw", headers=southwark)
    assert again.status_code == 409 and counts(seeded, CLARE) == before


def test_a_home_releases_an_accepted_offer_before_admission_and_the_request_waits_again(
    client: FlaskClient, southwark: Headers, clare: Headers, seeded: Sessions,
    bearer: Callable[..., Headers],
) -> None:  # fmt: skip
    request_id = request_for(client, southwark, "SWK/REL/1")
    before = counts(seeded, CLARE)
    offer_id = reserve(client, southwark, clare, request_id)
    other_home = bearer("provider", provider_id="adel-beck")
    body = {"reason": "no_staffed_bed", "note": "two staff off sick"}
    assert client.post(f"/offers/{offer_id}/release", json=body,
                       headers=other_home).status_code == 404  # fmt: skip
    for bad in ({"reason": "bored"}, {}, {"reason": "other", "extra": 1}):
        assert client.post(f"/offers/{offer_id}/release", json=bad,
                           headers=clare).status_code == 422  # fmt: skip
    released = client.post(f"/offers/{offer_id}/release", json=body, headers=clare)
    assert released.status_code == 200, released.json
    assert released.json["status"] == "released"
    assert released.json["release_reason"] == "no_staffed_bed"
    assert counts(seeded, CLARE) == before
    seen = read(client, southwark, f"/requests/{request_id}")
    assert seen["status"] == "waiting" and "clare-lodge" in seen["declined_by"]
    assert client.post(f"/offers/{offer_id}/release", json=body, headers=clare).status_code == 409


def test_a_placed_childs_offer_cannot_be_released(
    client: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    request_id, _ = place(client, southwark, clare, "SWK/REL/2", NOW)
    offers = client.get("/offers?status=accepted", headers=clare).json
    [offer_id] = [o["id"] for o in offers if o["request_id"] == request_id]
    refused = client.post(f"/offers/{offer_id}/release", json={"reason": "other"}, headers=clare)
    assert refused.status_code == 409 and "arrived" in refused.json["message"]


def test_new_facts_on_an_offered_request_cancel_only_the_offers_they_rule_out(
    client: FlaskClient, southwark: Headers, clare: Headers, bearer: Callable[..., Headers],
    seeded: Sessions,
) -> None:  # fmt: skip
    swanwick = "swanwick-lodge/1"  # Hamble: girls and boys, ages 10-17, self-harm and trauma
    set_free_beds(seeded, swanwick, 2, now=NOW)
    request_id = request_for(client, southwark, "SWK/PATCH/1")
    offered = client.post(f"/requests/{request_id}/offers", json={"unit_ids": [CLARE, swanwick]},
                          headers=southwark).json  # fmt: skip
    by_unit = {o["unit_id"]: o["id"] for o in offered}
    patched = client.patch(f"/requests/{request_id}", json={"sex": "M"}, headers=southwark)
    assert patched.status_code == 200 and patched.json["status"] == "offered", patched.json
    clare_offer = read(client, clare, f"/offers/{by_unit[CLARE]}")
    assert clare_offer["status"] == "cancelled"
    assert clare_offer["cancel_reason"] == "no_longer_eligible"
    assert clare_offer["cancel_detail"] == "sex"  # Clare Lodge takes girls only
    swanwick_home = bearer("provider", provider_id="swanwick-lodge")
    assert read(client, swanwick_home, f"/offers/{by_unit[swanwick]}")["status"] == "pending"
    assert client.post(f"/offers/{by_unit[CLARE]}/accept", headers=clare).status_code == 409
    # Ruling out the last pending offer puts the request back to waiting (Hamble: no autism).
    last = client.patch(f"/requests/{request_id}", json={"needs": ["autism"]}, headers=southwark)
    assert last.status_code == 200 and last.json["status"] == "waiting"
    gone = read(client, swanwick_home, f"/offers/{by_unit[swanwick]}")
    assert (gone["status"], gone["cancel_detail"]) == ("cancelled", "needs")


def test_a_review_due_again_on_a_held_reviews_date_is_called_and_moves_without_clashing(
    client: FlaskClient, bearer: Callable[..., Headers], southwark: Headers, clare: Headers,
    admin: Headers, clock: FixedClock, seeded: Sessions,
) -> None:  # fmt: skip
    interim = order("interim_order", NOW - timedelta(days=1), 30)  # runs out before the month
    request_id, _ = place(client, southwark, clare, "SWK/SAME/1", NOW, authority=interim)
    clock.advance(timedelta(days=25))
    [first] = reviews.call_reviews(seeded, SETTINGS, now=clock.now()).called
    first_due = read(client, admin, f"/meetings/{first}")["due_by"]
    assert first_due == interim["expires_at"]
    chair = bearer("panel", panel_id="review-southwark", label="chair.southwark@example.org")
    outcome = {"held_at": iso(clock.now() - timedelta(hours=1)), "attendees": QUORUM,
               "recommendation": "continue"}  # fmt: skip
    assert client.post(f"/meetings/{first}/outcome", json=outcome, headers=chair).status_code == 200
    # The court makes a new order after that review, running out on the very same minute.
    again = {"kind": "interim_order", "granted_at": iso(clock.now()), "expires_at": first_due}
    recorded = client.post(f"/requests/{request_id}/orders", json=again, headers=southwark)
    assert recorded.status_code == 201 and recorded.json["next_review_due"] == first_due
    [second] = reviews.call_reviews(seeded, SETTINGS, now=clock.now()).called
    assert second != first and read(client, admin, f"/meetings/{second}")["due_by"] == first_due
    renewal = order("full_order", clock.now(), 150, renewal=True)
    moved = client.post(f"/requests/{request_id}/orders", json=renewal, headers=southwark)
    assert moved.status_code == 201, moved.json
    assert read(client, admin, f"/meetings/{second}")["due_by"] == moved.json["next_review_due"]
    assert read(client, admin, f"/meetings/{first}")["status"] == "held"


def test_an_order_that_ran_out_before_the_admission_leaves_the_review_where_the_law_puts_it(
    client: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    request_id, _ = place(client, southwark, clare, "SWK/OLD/1", NOW)
    old = order("interim_order", NOW - timedelta(days=100), 60)
    recorded = client.post(f"/requests/{request_id}/orders", json=old, headers=southwark)
    assert recorded.status_code == 201
    assert recorded.json["next_review_due"] == "2026-12-21T09:00:00+00:00"
    assert recorded.json["hours_without_order_last_28_days"] == 0


def test_the_current_authority_is_the_order_in_force_not_a_shorter_one_made_beside_it(
    client: FlaskClient, southwark: Headers, clare: Headers, clock: FixedClock
) -> None:
    full = order("full_order", NOW - timedelta(days=1), 80)
    request_id, _ = place(client, southwark, clare, "SWK/TWO/1", NOW, authority=full)
    clock.advance(timedelta(days=2))
    interim = order("interim_order", NOW + timedelta(days=1), 1)  # made and run out since
    seen = client.post(f"/requests/{request_id}/orders", json=interim, headers=southwark).json
    assert (
        seen["authority"]["kind"] == "full_order"
        and seen["authority"]["expires_at"] == (full["expires_at"])
    )
    assert not seen["order_expired"] and not seen["order_expiring"]
    assert [o["kind"] for o in seen["orders"]] == ["full_order", "interim_order"]


def test_times_sent_with_an_offset_come_back_in_utc_and_a_replay_in_another_offset_matches(
    client: FlaskClient, southwark: Headers
) -> None:
    body = {**WELFARE, "case_reference": "SWK/TZ/1", "grounds": ["harm_to_self", "harm_to_others"],
            "authority": {"kind": "interim_order", "granted_at": "2026-11-21T01:00:00+14:00",
                          "expires_at": "2027-01-20T10:00:00Z"}}  # fmt: skip
    keyed = {**southwark, "Idempotency-Key": "tz-1"}
    made = client.post("/requests", json=body, headers=keyed)
    assert made.status_code == 201
    assert made.json["authority"]["granted_at"] == "2026-11-20T11:00:00+00:00"
    same = {**body, "grounds": ["harm_to_others", "harm_to_self"],
            "authority": {**body["authority"], "granted_at": "2026-11-20T11:00:00Z"}}  # fmt: skip
    replay = client.post("/requests", json=same, headers=keyed)
    assert replay.status_code == 201 and replay.json["id"] == made.json["id"]
