"""The director's pages: starting a request (every rule's error at its field), the authority's
requests most urgent first, a request's options with the score of each and why every other unit
cannot take the child, offers, orders, admission, discharge, withdrawal, and the children's
reviews; another authority's request is not found and its forms change nothing."""

from __future__ import annotations

import html as markup
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from api.pages.director import EXCLUSIONS, why_not
from placements import reviews, units
from placements.auth import Actor
from placements.config import Settings
from placements.db import Sessions
from placements.requests import RequestView
from solver.rules import REASONS
from tests.api.pages import PageClient
from tests.conftest import NOW
from tests.placements.casework import admit
from tests.placements.workflow import set_free_beds

Headers = dict[str, str]
SETTINGS = Settings()
ADMIN = Actor("admin", "admin")
NENE = "clare-lodge/nene"  # Clare Lodge: girls, welfare, CSE support
OAK = "adel-beck/oak"  # Adel Beck: justice, girls and boys, no CSE support
# What a person types into the new request's form for a welfare request.
WELFARE = {
    "case_reference": "SWK-2026-0042",
    "age": "15",
    "sex": "F",
    "legal_basis": "welfare",
    "grounds": ["absconding_with_harm"],
    "needs": ["cse"],
    "flags": ["cse_victim"],
    "authority_kind": "none",
}


def text_of(html: str) -> str:
    """A page's words, tags dropped and spaces squeezed."""
    return " ".join(markup.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def words(answer: TestResponse) -> str:
    return text_of(answer.get_data(as_text=True))


def page_text(client: PageClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)
    return words(answer)


def summary(answer: TestResponse) -> list[tuple[str, str]]:
    """The error summary's links: (the field's id, the message)."""
    found = re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', answer.get_data(as_text=True))
    return [(field, markup.unescape(message)) for field, message in found]


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def api(app: Flask, seeded: Sessions) -> FlaskClient:
    """The JSON API, over a database where Nene has 3 free beds and Oak 1."""
    set_free_beds(seeded, NENE, 3, now=NOW)
    set_free_beds(seeded, OAK, 1, now=NOW)
    return app.test_client()


@pytest.fixture
def director(api: FlaskClient, signed_in: Callable[..., PageClient]) -> PageClient:
    """A director of Southwark, signed in to the pages."""
    return signed_in("director", authority_id="southwark")


def ask(director: PageClient, **changes: Any) -> TestResponse:
    """Send the new request's form (what is given replaces the welfare answers)."""
    answers = {key: value for key, value in {**WELFARE, **changes}.items() if value is not None}
    return director.submit("/director/requests/new", answers)


def request_id_of(answer: TestResponse) -> str:
    """The id of the request whose page a redirect landed on."""
    found = re.fullmatch(r"/director/requests/(REQ-[A-Z0-9]+)", answer.request.path)
    assert found, answer.request.path
    return found[1]


def made_by_api(api: FlaskClient, headers: Headers, reference: str, **facts: Any) -> str:
    body = {"case_reference": reference, "age": 15, "sex": "F", "legal_basis": "welfare",
            "grounds": ["harm_to_self"], **facts}  # fmt: skip
    made = api.post("/requests", json=body, headers=headers)
    assert made.status_code == 201, made.json
    return made.json["id"]  # type: ignore[no-any-return]


def accept(api: FlaskClient, home: Headers, request_id: str) -> None:
    """The home accepts the request's offer waiting for it."""
    pending = api.get("/offers?status=pending", headers=home).json
    offer = next(o for o in pending if o["request_id"] == request_id)
    assert api.post(f"/offers/{offer['id']}/accept", headers=home).status_code == 200


def reserve_by_api(api: FlaskClient, director: Headers, home: Headers, request_id: str,
                   unit: str = NENE) -> None:  # fmt: skip
    offered = api.post(f"/requests/{request_id}/offers", json={"unit_ids": [unit]},
                       headers=director)  # fmt: skip
    assert offered.status_code == 201, offered.json
    accept(api, home, request_id)


def place_by_api(api: FlaskClient, director: Headers, home: Headers, request_id: str,
                 at: datetime) -> str:  # fmt: skip
    reserve_by_api(api, director, home, request_id)
    admitted = api.post(f"/requests/{request_id}/admission", json={"admitted_at": iso(at)},
                        headers=director)  # fmt: skip
    assert admitted.status_code == 201, admitted.json
    return admitted.json["id"]  # type: ignore[no-any-return]


def status_of(api: FlaskClient, headers: Headers, request_id: str) -> dict[str, Any]:
    seen = api.get(f"/requests/{request_id}", headers=headers)
    assert seen.status_code == 200, seen.json
    return seen.json  # type: ignore[no-any-return]


def test_a_director_requests_offers_admits_and_discharges_through_the_pages(
    director: PageClient, api: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    start = director.get("/director")
    assert start.status_code == 200
    html = start.get_data(as_text=True)
    assert re.search(r'<a href="/director/requests/new" class="govuk-button"[^>]*>'
                     r"Request a placement</a>", html)  # fmt: skip
    assert "Your authority has no open requests" in words(start)
    form = director.get("/director/requests/new").get_data(as_text=True)
    for label, field in (("Case reference", "case_reference"), ("Age", "age")):
        assert re.search(rf'<label class="govuk-label[^"]*" for="{field}">\s*{label}\s*</label>',
                         form)  # fmt: skip
    assert "Sex Female Male Legal basis Welfare" in text_of(form)
    assert re.search(r">\s*Remand\s*</label>", form) and re.search(r">\s*Sentence\s*</label>", form)
    assert re.search(r'<button type="submit" class="govuk-button"[^>]*>\s*Send request', form)

    sent = ask(director)
    assert sent.status_code == 200
    request_id = request_id_of(sent)
    page = words(sent)
    assert "Request sent for SWK-2026-0042" in page
    assert "Request for SWK-2026-0042 Waiting" in page
    html = sent.get_data(as_text=True)
    assert '<h2 class="govuk-heading-l" id="options">Options</h2>' in html
    # The options table: rows start with the unit's name; each eligible unit has a box
    # labelled with its name, and its score's breakdown adds up to its score.
    nene = re.search(r'<tr class="govuk-table__row" data-unit="clare-lodge/nene">(.*?)</tr>',
                     html, re.S)  # fmt: skip
    assert nene, "Nene is an option"
    row = text_of(nene[1])
    assert row.startswith("Nene Clare Lodge")
    box = r'for="unit_ids[-\d]*"><span class="govuk-visually-hidden">Nene</span></label>'
    assert re.search(box, nene[1])
    score = int(re.findall(r"\b(\d+)\b", row.split("Nene", 2)[2])[0])
    parts = [int(n) for n in re.findall(r": (-?\d+)", row)]
    assert sum(parts) == score and "Near home:" in row
    # Every excluded unit, with its reasons in words.
    oak = re.search(r'data-unit="adel-beck/oak">(.*?)</tr>', html, re.S)
    assert oak
    assert text_of(oak[1]) == (
        "Oak Adel Beck A welfare placement: this unit takes youth justice placements only "
        "Needs CSE support: not offered by this unit"
    )

    offered = director.submit(f"/director/requests/{request_id}/offers", {"unit_ids": [NENE]},
                              form_page=f"/director/requests/{request_id}")  # fmt: skip
    assert offered.request.path == f"/director/requests/{request_id}"
    page = words(offered)
    assert "Offers sent to 1 home" in page and "Offers sent to 1 homes" not in page
    assert "Offers sent Unit Status Sent What happened Nene Clare Lodge Waiting for an answer" \
        in page  # fmt: skip
    assert status_of(api, southwark, request_id)["status"] == "offered"

    accept(api, clare, request_id)
    page = page_text(director, f"/director/requests/{request_id}")
    assert "Bed reserved Clare Lodge" not in page and "Nene, Clare Lodge accepted" in page
    assert f'href="/director/requests/{request_id}/admission" class="govuk-button"' in (
        director.last.get_data(as_text=True) if director.last else ""
    )
    form = page_text(director, f"/director/requests/{request_id}/admission")
    assert "When did the child arrive? Just now At another time" in form
    admitted = director.submit(f"/director/requests/{request_id}/admission", {"when": "now"})
    page = words(admitted)
    assert admitted.request.path == f"/director/requests/{request_id}"
    assert (
        "Admission recorded: SWK-2026-0042 arrived 21 November 2026, 9:00am at Nene, Clare Lodge. "
        "The first review is due by 21 December 2026" in page
    )
    assert "Placed The child lives at Nene, Clare Lodge" in page
    assert "Next review due 21 December 2026" in page
    seen = status_of(api, southwark, request_id)
    assert seen["status"] == "placed" and seen["placement_id"]

    left = director.submit(f"/director/requests/{request_id}/discharge",
                           {"when": "now", "destination": "foster care"})  # fmt: skip
    assert "Discharge recorded: SWK-2026-0042 left 21 November 2026, 9:00am" in words(left)
    assert status_of(api, southwark, request_id)["status"] == "discharged"
    listed = page_text(director, "/director")
    assert "Latest closed requests" in listed and "SWK-2026-0042" in listed


def test_every_rule_of_a_new_request_is_shown_at_its_field(director: PageClient) -> None:
    empty = director.submit("/director/requests/new", {"idempotency_key": "x"})
    assert empty.status_code == 422
    html = empty.get_data(as_text=True)
    assert "<title>Error: Request a placement" in html
    assert summary(empty) == [
        ("case_reference", "Enter the case reference"),
        ("age", "Enter the child's age"),
        ("sex", "Select the child's sex"),
        ("legal_basis", "Select the legal basis of the placement"),
    ]
    shapes = ask(director, case_reference="Jane Doe", age="9", home_lat="51.5",
                 max_distance_km="0", needed_by_day="31", needed_by_month="2",
                 needed_by_year="2027")  # fmt: skip
    assert shapes.status_code == 422
    errors = dict(summary(shapes))
    assert errors["case_reference"].startswith("Case reference must be 64 characters or fewer")
    assert errors["age"] == "Age must be between 10 and 17"
    assert errors["home_lon"] == "Enter both the latitude and the longitude of the child's " \
        "home, or neither"  # fmt: skip
    assert errors["max_distance_km"] == "Furthest distance must be a number between 1 and 2000"
    assert errors["needed_by_day"] == (
        "Date the bed is needed by must be a real date, like 27 3 2026"
    )

    # The use case's rules, each at its field: grounds, the approval of an under-13, the order.
    rules = ask(director, age="12", grounds=None, authority_kind="interim_order",
                authority_granted_day="1", authority_granted_month="12",
                authority_granted_year="2026", authority_expires_day="1",
                authority_expires_month="2", authority_expires_year="2027")  # fmt: skip
    assert rules.status_code == 422
    errors = dict(summary(rules))
    assert errors == {
        "grounds": "Select at least one ground for a welfare placement",
        "under_13_approval": "A child under 13 needs the approval of the Secretary of State "
        "(Wales: the Welsh Ministers): enter the approval's reference",
        "authority_granted_day": "The date the order was granted must be today or in the past",
    }
    page = words(rules)
    assert "Error: Select at least one ground for a welfare placement" in page
    long = ask(director, authority_kind="interim_order", authority_granted_day="20",
               authority_granted_month="11", authority_granted_year="2026",
               authority_expires_day="21", authority_expires_month="2",
               authority_expires_year="2027")  # fmt: skip
    assert long.status_code == 422
    assert "Error: The order can last at most 3 months: its expiry must be on or before " \
        "20 February 2027" in words(long)  # fmt: skip
    remand = ask(director, legal_basis="remand", grounds=None)
    assert remand.status_code == 422
    assert "Error: A remand placement needs its order: select remand to youth detention " \
        "accommodation" in words(remand)  # fmt: skip
    # The answers are kept.
    assert 'value="SWK-2026-0042"' in remand.get_data(as_text=True)


def test_a_second_open_request_for_the_child_is_shown_at_the_case_reference(
    director: PageClient,
) -> None:
    first = ask(director)
    assert first.status_code == 200
    again = ask(director)
    assert again.status_code == 409
    assert f"SWK-2026-0042 already has an open request ({request_id_of(first)}): update or " \
        "withdraw that one first" in words(again)  # fmt: skip
    assert '<a href="#case_reference">' in again.get_data(as_text=True)


def test_a_form_sent_twice_makes_one_request(director: PageClient, api: FlaskClient,
                                             southwark: Headers) -> None:  # fmt: skip
    form = director.get("/director/requests/new").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    first = ask(director, idempotency_key=key[1])
    second = ask(director, idempotency_key=key[1])
    assert request_id_of(first) == request_id_of(second)
    assert len(api.get("/requests", headers=southwark).json) == 1


def test_the_requests_are_listed_most_urgent_first_with_their_clocks(
    api: FlaskClient, southwark: Headers, clare: Headers, clock: Any,
    signed_in: Callable[..., PageClient],
) -> None:  # fmt: skip
    waiting = made_by_api(api, southwark, "A-WAITING")
    breach = made_by_api(api, southwark, "B-BREACH")
    place_by_api(api, southwark, clare, breach, NOW)
    expiring = made_by_api(api, southwark, "C-EXPIRING", authority={
        "kind": "interim_order", "granted_at": iso(NOW - timedelta(days=80)),
        "expires_at": iso(NOW + timedelta(days=5))})  # fmt: skip
    place_by_api(api, southwark, clare, expiring, NOW)
    clock.advance(timedelta(hours=23))
    near = made_by_api(api, southwark, "D-NEAR")
    place_by_api(api, southwark, clare, near, clock.now())
    clock.advance(timedelta(hours=50))
    director = signed_in("director", authority_id="southwark")  # after the clock moved on
    page = page_text(director, "/director")
    order = re.findall(r"([A-D])-(?:WAITING|BREACH|EXPIRING|NEAR) \(", page)
    assert order == ["B", "D", "C", "A"]
    assert "B-BREACH (" in page and "73 hours of 72 Over 72 hours" in page
    assert "50 hours of 72 Near 72 hours" in page and "Expires soon" in page
    fragment = director.get("/director/requests-fragment", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and html.startswith('<div id="requests-region"')
    assert 'hx-trigger="every 30s"' in html and 'aria-live="polite"' in html
    assert "<html" not in html and waiting in html


def test_another_authoritys_request_is_not_found_and_its_forms_change_nothing(
    api: FlaskClient, southwark: Headers, clare: Headers,
    signed_in: Callable[..., PageClient],
) -> None:  # fmt: skip
    theirs = made_by_api(api, southwark, "SWK-OTHER")
    reserve_by_api(api, southwark, clare, theirs)
    surrey = signed_in("director", authority_id="surrey")
    unknown = surrey.get("/director/requests/REQ-NOSUCH")
    assert unknown.status_code == 404
    for path in ("", "/withdraw", "/orders", "/admission", "/discharge"):
        answer = surrey.get(f"/director/requests/{theirs}{path}")
        assert answer.status_code == 404, path
        assert words(answer) == words(unknown).replace("REQ-NOSUCH", theirs)
    before = status_of(api, southwark, theirs)
    token_page = "/director/requests/new"
    posts = {
        "/offers": {"unit_ids": [NENE]},
        "/withdraw": {},
        "/orders": {"kind": "interim_order", "granted_day": "20", "granted_month": "11",
                    "granted_year": "2026", "expires_day": "20", "expires_month": "12",
                    "expires_year": "2026"},
        "/admission": {"when": "now"},
        "/discharge": {"when": "now", "destination": "home"},
    }  # fmt: skip
    for path, data in posts.items():
        answer = surrey.submit(f"/director/requests/{theirs}{path}", data, form_page=token_page)
        assert answer.status_code == 404, path
    after = status_of(api, southwark, theirs)
    assert after == before and after["status"] == "reserved" and after["orders"] == []
    assert theirs not in surrey.get("/director").get_data(as_text=True)


def test_offers_need_a_choice_and_an_ineligible_unit_is_refused_with_its_reasons(
    director: PageClient, api: FlaskClient, southwark: Headers
) -> None:
    request_id = request_id_of(ask(director))
    path = f"/director/requests/{request_id}/offers"
    page = f"/director/requests/{request_id}"
    none = director.submit(path, {}, form_page=page)
    assert none.status_code == 422
    assert '<a href="#unit_ids">Select the units to offer the placement to, or offer to the ' \
        "top 3</a>" in none.get_data(as_text=True)  # fmt: skip
    oak = director.submit(path, {"unit_ids": [OAK]}, form_page=page)
    assert oak.status_code == 422
    assert "Oak: a welfare placement: this unit takes youth justice placements only" in words(oak)
    assert status_of(api, southwark, request_id)["status"] == "waiting"
    top = director.submit(path, {"top": "3"}, form_page=page)
    assert "Offers sent to 2 homes (3 units)" in words(top)  # Welland and Nene, then Birch
    again = director.submit(path, {"unit_ids": [NENE]}, form_page=page)
    assert again.status_code == 422
    assert "Nene: an offer is already waiting for its answer" in words(again)


def test_a_withdrawal_is_confirmed_first_and_frees_the_reserved_bed(
    director: PageClient, api: FlaskClient, southwark: Headers, clare: Headers, seeded: Sessions
) -> None:
    request_id = made_by_api(api, southwark, "SWK-WD")
    reserve_by_api(api, southwark, clare, request_id)
    free_before = api.get(f"/units/{NENE}", headers=southwark).json["free_beds"]
    confirm = page_text(director, f"/director/requests/{request_id}/withdraw")
    assert "Withdraw the request for SWK-WD?" in confirm
    assert "The bed reserved for the child is freed at once" in confirm
    assert status_of(api, southwark, request_id)["status"] == "reserved"  # a GET changes nothing
    done = director.submit(f"/director/requests/{request_id}/withdraw")
    assert "Request withdrawn for SWK-WD" in words(done)
    assert status_of(api, southwark, request_id)["status"] == "withdrawn"
    assert api.get(f"/units/{NENE}", headers=southwark).json["free_beds"] == free_before + 1
    again = director.get(f"/director/requests/{request_id}/withdraw")
    assert again.status_code == 409
    assert "Request SWK-WD is withdrawn, so you cannot withdraw it now." in words(again)


def test_an_order_is_recorded_and_moves_the_clocks(
    api: FlaskClient, southwark: Headers, clare: Headers, clock: Any,
    signed_in: Callable[..., PageClient],
) -> None:  # fmt: skip
    request_id = made_by_api(api, southwark, "SWK-ORD")
    place_by_api(api, southwark, clare, request_id, NOW)
    clock.advance(timedelta(hours=30))
    director = signed_in("director", authority_id="southwark")
    assert "30 hours of 72" in page_text(director, f"/director/requests/{request_id}")
    path = f"/director/requests/{request_id}/orders"
    form = page_text(director, path)
    assert "Kind of order A welfare placement takes these orders. Interim secure accommodation " \
        "order Secure accommodation order" in form  # fmt: skip
    order = {"kind": "interim_order", "granted_day": "22", "granted_month": "11",
             "granted_year": "2026", "expires_day": "23", "expires_month": "2",
             "expires_year": "2027"}  # fmt: skip
    too_long = director.submit(path, order)
    assert too_long.status_code == 422
    assert '<a href="#expires_day">The order can last at most 3 months: its expiry must be on ' \
        "or before 22 February 2027</a>" in too_long.get_data(as_text=True)  # fmt: skip
    missing = director.submit(path, {"kind": "interim_order", "granted_day": "22"})
    assert missing.status_code == 422
    assert "Date the order was granted must include a month and a year" in words(missing)
    assert "Enter the date the order expires" in words(missing)
    done = director.submit(path, {**order, "expires_day": "22"})
    page = words(done)
    assert "Order recorded for SWK-ORD: interim secure accommodation order until " \
        "22 February 2027" in page  # fmt: skip
    assert "Court orders recorded Order Granted Expires Recorded Interim secure accommodation " \
        "order 22 November 2026 22 February 2027" in page  # fmt: skip
    seen = status_of(api, southwark, request_id)
    assert seen["order_expires_at"].startswith("2027-02-22")


def test_an_admission_at_another_time_is_checked_by_the_use_case(
    director: PageClient, api: FlaskClient, southwark: Headers, clare: Headers
) -> None:
    request_id = made_by_api(api, southwark, "SWK-ADM")
    path = f"/director/requests/{request_id}/admission"
    early = director.get(path)
    assert early.status_code == 409  # no bed held yet
    assert "a home must accept an offer first" in words(early)
    reserve_by_api(api, southwark, clare, request_id)
    no_time = director.submit(path, {"when": "earlier", "at_day": "21", "at_month": "11",
                                     "at_year": "2026", "at_time": ""})  # fmt: skip
    assert no_time.status_code == 422 and '<a href="#at_time">Enter the time</a>' in (
        no_time.get_data(as_text=True)
    )
    before = director.submit(path, {"when": "earlier", "at_day": "20", "at_month": "11",
                                    "at_year": "2026", "at_time": "3pm"})  # fmt: skip
    assert before.status_code == 422
    assert "Before the request was made (21 November 2026, 9:00am)" in words(before)
    assert status_of(api, southwark, request_id)["status"] == "reserved"
    done = director.submit(path, {"when": "earlier", "at_day": "21", "at_month": "11",
                                  "at_year": "2026", "at_time": "09:00"})  # fmt: skip
    assert "Admission recorded" in words(done)


def test_the_childrens_reviews_are_listed_for_their_authority_only(
    seeded: Sessions, signed_in: Callable[..., PageClient]
) -> None:
    placement = admit(seeded, authority_id="southwark", admitted_at=NOW - timedelta(days=27))
    [meeting] = reviews.call_reviews(seeded, SETTINGS, now=NOW).called
    southwark = signed_in("director", authority_id="southwark")
    page = page_text(southwark, "/director/reviews")
    assert "Reviews to hold Case reference Status Meeting Due by Panel Outcome CASE-" in page
    assert "Called 24 November 2026, 10:00am 25 November 2026 London Borough of Southwark " \
        "secure accommodation review panel To hold" in page  # fmt: skip
    assert southwark.last is not None and meeting in southwark.last.get_data(as_text=True)
    assert placement
    surrey = signed_in("director", authority_id="surrey")
    assert "No review is waiting to be held." in page_text(surrey, "/director/reviews")
    home = signed_in("provider", provider_id="clare-lodge")
    assert home.get("/director/reviews").status_code == 403


def test_every_rule_of_the_matcher_has_a_sentence(seeded: Sessions) -> None:
    assert set(EXCLUSIONS) == set(REASONS)
    shown = RequestView(
        id="REQ-1", authority_id="southwark", case_reference="X", status="waiting", age=15,
        sex="F", legal_basis="welfare", grounds=["harm_to_self"], needs=["cse", "trauma"],
        flags=[], under_13_approval=None, home={"lat": 51.5, "lon": -0.1}, max_distance_km=50,
        exclusion_zones=[], authority={"kind": "none"}, needed_by=None, declined_by=[],
        created_at=NOW, updated_at=NOW, hours_without_order_last_28_days=0,
        without_order_warning=False, without_order_breach=False, order_expires_at=None,
        order_expiring=False, order_expired=False, orders=[], next_review_due=None, stale=False,
        placement_id=None, reservation=None,
    )  # fmt: skip
    tees = units.get_unit(seeded, ADMIN, "aycliffe-secure-centre/tees", settings=SETTINGS,
                          now=NOW)  # fmt: skip
    for code in REASONS:
        for unit in (tees, None):
            sentence = why_not(code, shown, unit, "Aycliffe Secure Centre")
            assert sentence[:1].isupper() and not re.search(r"[{}_]", sentence), (code, sentence)
    assert why_not("sex", shown, tees, "") == "A girl: this unit takes boys only"
    assert why_not("age", shown, tees, "") == "Aged 15: this unit takes children aged 10 to 17"
    assert why_not("designation", shown, tees, "") == (
        "A welfare placement: this unit takes youth justice placements only"
    )
    assert why_not("needs", shown, tees, "") == (
        "Needs CSE and trauma support: not offered by this unit"
    )
    assert why_not("declined", shown, tees, "Aycliffe Secure Centre") == (
        "Aycliffe Secure Centre has declined this child already"
    )
    assert why_not("too_far", shown, None, "") == "Further from home than the 50 km you allowed"
