"""Panels, meetings, thresholds and the outbox over HTTP: happy paths, scopes and bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar

from placements import demand, reviews
from placements.config import Settings
from placements.db import Sessions
from tests.conftest import NOW
from tests.placements.casework import admit, open_requests

SETTINGS = Settings()
Headers = dict[str, str]
MEMBERS = [
    {"name": "Ann Example", "email": "ann@example.org", "role": "chair", "independent": False},
    {"name": "Bo Sample", "email": "bo@example.org", "role": "member", "independent": True},
]
# Southwark's review panel, all three (Carys Testwell is independent): a quorate review.
QUORUM = ["Alex Example", "Bindi Sample", "Carys Testwell"]


@pytest.fixture
def client(app: Flask, seeded: Sessions) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(bearer: Callable[..., Headers]) -> Headers:
    return bearer("admin", label="admin")


@pytest.fixture
def called(seeded: Sessions) -> dict[str, str]:
    """A review meeting for Southwark and an escalation meeting; their ids."""
    admit(seeded, authority_id="southwark", admitted_at=NOW - timedelta(days=27))
    review = reviews.call_reviews(seeded, SETTINGS, now=NOW).called[0]
    open_requests(seeded, 26, at=NOW)
    escalation = demand.check(seeded, SETTINGS, now=NOW + timedelta(hours=1)).meeting_id
    assert escalation is not None
    return {"review": review, "escalation": escalation}


def member(bearer: Callable[..., Headers], panel: str, email: str) -> Headers:
    return bearer("panel", panel_id=panel, label=email)


def test_admin_creates_reads_lists_and_updates_a_panel(client: FlaskClient, admin: Headers) -> None:
    body = {"id": "escalation-north", "name": "North escalation panel", "kind": "escalation",
            "region": "North", "members": MEMBERS, "webhook_url": "http://127.0.0.1:9/hooks",
            "webhook_secret": "whsec_c2VjcmV0LXNlY3JldA=="}  # fmt: skip
    created = client.post("/panels", json=body, headers=admin)
    assert created.status_code == 201, created.json
    assert created.json["webhook_secret_set"] and "webhook_secret" not in created.json
    assert client.get("/panels/escalation-north", headers=admin).json["region"] == "North"
    assert len(client.get("/panels", headers=admin).json) == 16
    del body["id"], body["webhook_secret"]
    body["members"] = [*MEMBERS, {"name": "Cy", "email": "cy@example.org", "independent": False}]
    updated = client.put("/panels/escalation-north", json=body, headers=admin)
    assert updated.status_code == 200 and len(updated.json["members"]) == 3
    assert updated.json["webhook_secret_set"]
    assert client.post("/panels", json={**body, "id": "escalation-north",
                                        "webhook_secret": "long-enough"},
                       headers=admin).status_code == 409  # fmt: skip


def test_a_review_panel_of_two_members_is_reported_unable_to_sit(
    client: FlaskClient, admin: Headers
) -> None:
    body = {"name": "York panel", "kind": "review", "authority_id": "york", "members": MEMBERS}
    response = client.put("/panels/review-york", json=body, headers=admin)
    assert response.status_code == 200
    assert response.json["can_sit"] is False
    assert response.json["cannot_sit_reasons"] == [
        "a review panel needs at least 3 members; it has 2"
    ]
    lonely = [{**m, "independent": False} for m in MEMBERS] + [
        {"name": "Di", "email": "di@example.org", "role": "member", "independent": False}
    ]
    response = client.put("/panels/review-york", json={**body, "members": lonely}, headers=admin)
    assert response.json["can_sit"] is False and "independent" in response.json[
        "cannot_sit_reasons"][0]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "committee"}, "kind"),
        ({"members": [{**MEMBERS[0], "email": "not-an-email"}]}, "members"),
        ({"members": [{**MEMBERS[0], "role": "boss"}]}, "members"),
        ({"members": [{"name": "X", "email": "x@example.org"}]}, "members"),
        ({"webhook_url": "ftp://example.org/x", "webhook_secret": "long-enough"}, "webhook_url"),
        ({"colour": "blue"}, "colour"),
        ({"authority_id": "atlantis"}, "authority_id"),
        ({"authority_id": None}, "authority_id"),
        ({"kind": "escalation", "authority_id": None}, "kind"),
        ({"members": [{**MEMBERS[0], "independent": "yes"}]}, "members"),
    ],
)
def test_bad_panel_input_gets_422_naming_the_field(
    client: FlaskClient, admin: Headers, change: dict[str, Any], field: str
) -> None:
    body = {"name": "Panel", "kind": "review", "authority_id": "york", "members": MEMBERS}
    response = client.put("/panels/review-york", json={**body, **change}, headers=admin)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"].get("json", response.json["errors"])


def test_a_review_panel_stays_with_its_authority(client: FlaskClient, admin: Headers) -> None:
    town = {"name": "New Town", "nation": "england", "lat": 52.0, "lon": -1.0}
    assert client.put("/local-authorities/new-town", json=town, headers=admin).status_code == 200
    before = client.get("/panels/review-york", headers=admin).json
    body = {"name": "Panel", "kind": "review", "authority_id": "new-town", "members": MEMBERS}
    response = client.put("/panels/review-york", json=body, headers=admin)
    assert response.status_code == 422 and "authority_id" in response.json["errors"]
    assert client.get("/panels/review-york", headers=admin).json == before


def test_panels_are_scoped_by_role(client: FlaskClient, bearer: Callable[..., Headers]) -> None:
    director = bearer("director", authority_id="surrey")
    seen = {p["id"] for p in client.get("/panels", headers=director).json}
    assert seen == {"review-surrey", "escalation-national"}
    assert client.get("/panels/review-york", headers=director).status_code == 404
    own = member(bearer, "review-york", "chair.york@example.org")
    assert [p["id"] for p in client.get("/panels", headers=own).json] == ["review-york"]
    body = {"name": "Mine", "kind": "escalation", "members": MEMBERS}
    assert client.post("/panels", json=body, headers=director).status_code == 403
    provider = bearer("provider", provider_id="clare-lodge")
    assert client.get("/panels/review-york", headers=provider).status_code == 403


def test_a_member_sees_only_their_own_panels_meetings(
    client: FlaskClient, admin: Headers, bearer: Callable[..., Headers], called: dict[str, str]
) -> None:
    southwark = member(bearer, "review-southwark", "chair.southwark@example.org")
    listed = client.get("/meetings", headers=southwark).json
    assert [m["id"] for m in listed] == [called["review"]]
    assert listed[0]["can_sit"] is True and listed[0]["due_by"]
    assert client.get(f"/meetings/{called['escalation']}", headers=southwark).status_code == 404
    surrey = member(bearer, "review-surrey", "chair.surrey@example.org")
    assert client.get("/meetings", headers=surrey).json == []
    assert client.get(f"/meetings/{called['review']}", headers=surrey).status_code == 404
    assert client.post(f"/meetings/{called['review']}/acknowledge",
                       headers=surrey).status_code == 404  # fmt: skip
    director = bearer("director", authority_id="southwark")
    assert client.get("/meetings", headers=director).status_code == 403
    everything = client.get("/meetings?kind=escalation&status=called", headers=admin).json
    assert [m["id"] for m in everything] == [called["escalation"]]
    escalation = client.get(f"/meetings/{called['escalation']}", headers=admin).json
    assert escalation["priority"] == "amber" and len(escalation["request_ids"]) == 26
    assert escalation["agenda"]["rules"][0]["rule"] == "open_welfare_requests"


@pytest.mark.parametrize("query", ["kind=castle", "status=gone", "page=0", "page_size=1000"])
def test_bad_meeting_filters_get_422(client: FlaskClient, admin: Headers, query: str) -> None:
    assert client.get(f"/meetings?{query}", headers=admin).status_code == 422


def test_the_invitation_keeps_its_uid_when_the_meeting_changes(
    client: FlaskClient, bearer: Callable[..., Headers], called: dict[str, str]
) -> None:
    chair = member(bearer, "review-southwark", "chair.southwark@example.org")
    url = f"/meetings/{called['review']}/invite.ics"
    first = client.get(url, headers=chair)
    assert first.status_code == 200 and first.mimetype == "text/calendar"
    [before] = Calendar.from_ical(first.data).walk("VEVENT")
    outcome = {"held_at": (NOW - timedelta(hours=1)).isoformat(),
               "attendees": QUORUM, "recommendation": "continue"}  # fmt: skip
    assert client.post(f"/meetings/{called['review']}/outcome", json=outcome,
                       headers=chair).status_code == 200  # fmt: skip
    [after] = Calendar.from_ical(client.get(url, headers=chair).data).walk("VEVENT")
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])


def test_members_acknowledge_and_only_the_chair_records_the_outcome(
    client: FlaskClient, admin: Headers, bearer: Callable[..., Headers], called: dict[str, str]
) -> None:
    base = f"/meetings/{called['review']}"
    independent = member(bearer, "review-southwark", "independent.southwark@example.org")
    acknowledged = client.post(f"{base}/acknowledge", headers=independent)
    assert acknowledged.json["acknowledged_by"] == ["independent.southwark@example.org"]
    assert client.post(f"{base}/acknowledge", headers=admin).status_code == 403
    nobody = member(bearer, "review-southwark", "stranger@example.org")
    assert client.post(f"{base}/acknowledge", headers=nobody).status_code == 403
    held_at = (NOW - timedelta(hours=1)).isoformat()
    outcome = {"held_at": held_at, "attendees": QUORUM,
               "recommendation": "alternative_accommodation", "text": "a step down"}  # fmt: skip
    assert client.post(f"{base}/outcome", json=outcome, headers=independent).status_code == 403
    chair = member(bearer, "review-southwark", "chair.southwark@example.org#laptop")
    for bad in ({"recommendation": "maybe"}, {"attendees": []}, {"held_at": "yesterday"},
                {"held_at": "2999-01-01T00:00:00+00:00"}, {"mood": "good"}):  # fmt: skip
        response = client.post(f"{base}/outcome", json={**outcome, **bad}, headers=chair)
        assert response.status_code == 422, bad
    held = client.post(f"{base}/outcome", json=outcome, headers=chair)
    assert held.status_code == 200 and held.json["status"] == "held"
    # Held an hour before NOW (2026-11-21 09:00): the next review is due three months later.
    assert held.json["outcome"]["next_review_due"] == "2027-02-21T08:00:00+00:00"
    assert client.post(f"{base}/outcome", json=outcome, headers=chair).status_code == 409


def test_an_outcome_held_before_the_admission_or_the_call_gets_422_and_changes_nothing(
    client: FlaskClient, admin: Headers, bearer: Callable[..., Headers], called: dict[str, str]
) -> None:
    chair = member(bearer, "review-southwark", "chair.southwark@example.org")
    outcome = {"attendees": QUORUM, "recommendation": "continue"}
    for held_at in (NOW - timedelta(days=28), datetime(2000, 1, 1, tzinfo=UTC)):
        response = client.post(
            f"/meetings/{called['review']}/outcome",
            json={**outcome, "held_at": held_at.isoformat()},
            headers=chair,
        )
        assert response.status_code == 422 and "held_at" in response.json["message"], held_at
    before_call = {**outcome, "held_at": NOW.isoformat()}  # called an hour later
    chair = member(bearer, "escalation-national", "chair.escalation@example.org")
    response = client.post(f"/meetings/{called['escalation']}/outcome", json=before_call,
                           headers=chair)  # fmt: skip
    assert response.status_code == 422 and "held_at" in response.json["message"]
    for meeting_id in called.values():
        assert client.get(f"/meetings/{meeting_id}", headers=admin).json["status"] == "called"


def test_thresholds_are_read_by_directors_and_changed_by_admin(
    client: FlaskClient, admin: Headers, bearer: Callable[..., Headers]
) -> None:
    director = bearer("director", authority_id="surrey")
    rules = client.get("/thresholds", headers=director).json
    assert rules["open_welfare_requests"] == {
        "description": "open welfare requests", "comparison": "above", "enabled": True,
        "amber": 25, "red": 37,
    }  # fmt: skip
    change = {"longest_wait_days": {"enabled": True, "amber": 10, "red": 21},
              "stale_availability_hours": {"enabled": False}}  # fmt: skip
    changed = client.put("/thresholds", json=change, headers=admin).json
    assert changed["longest_wait_days"]["red"] == 21
    assert changed["stale_availability_hours"]["enabled"] is False
    assert client.put("/thresholds", json=change, headers=director).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"open_welfare_requests": {"enabled": True, "amber": 40, "red": 30}},
         "open_welfare_requests"),
        ({"sunshine_hours": {"enabled": True, "amber": 1}}, "sunshine_hours"),
        ({"longest_wait_days": {"enabled": "often"}}, "longest_wait_days"),
        ({"longest_wait_days": {"enabled": "yes"}}, "longest_wait_days"),
        ({"longest_wait_days": {"enabled": 1}}, "longest_wait_days"),
        ({"longest_wait_days": {"enabled": True, "amber": "5"}}, "longest_wait_days"),
        ({"longest_wait_days": {"enabled": True}}, "longest_wait_days"),
        ({"hours_without_order": {"enabled": True, "red": -1}}, "hours_without_order"),
        ({}, "_schema"),
    ],
)  # fmt: skip
def test_bad_thresholds_get_422_naming_the_rule(
    client: FlaskClient, admin: Headers, body: dict[str, Any], field: str
) -> None:
    response = client.put("/thresholds", json=body, headers=admin)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"].get("json", response.json["errors"])


def test_the_outbox_is_for_admin(
    client: FlaskClient, admin: Headers, bearer: Callable[..., Headers], called: dict[str, str]
) -> None:
    pending = client.get("/notifications?status=pending&channel=email", headers=admin).json
    assert len(pending) == 6 and {n["status"] for n in pending} == {"pending"}
    mine = client.get(f"/notifications?meeting_id={called['review']}", headers=admin).json
    assert {n["member_email"] for n in mine} == {
        "chair.southwark@example.org", "councillor.southwark@example.org",
        "independent.southwark@example.org",
    }  # fmt: skip
    assert client.get("/notifications?status=lost", headers=admin).status_code == 422
    chair = member(bearer, "review-southwark", "chair.southwark@example.org")
    assert client.get("/notifications", headers=chair).status_code == 403


def test_the_openapi_document_has_the_panel_endpoints(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    for path in ("/panels", "/panels/{panel_id}", "/meetings", "/meetings/{meeting_id}",
                 "/meetings/{meeting_id}/invite.ics", "/meetings/{meeting_id}/acknowledge",
                 "/meetings/{meeting_id}/outcome", "/thresholds", "/notifications"):  # fmt: skip
        assert path in paths
