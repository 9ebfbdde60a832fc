"""The pages of a home's staff: beds and their history, the offers inbox, and nothing of another
home's reachable."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from placements import offers
from placements.clock import FixedClock
from placements.db import Sessions
from placements.units import UnitView, get_unit
from tests.api.pages import PageClient, csrf_of
from tests.conftest import NOW
from tests.placements.workflow import ADMIN, SETTINGS, counts, offered_request, set_free_beds

NENE = "clare-lodge/nene"
NENE_FORM = f"/home/units/{NENE}"
VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture
def home(signed_in: Callable[..., PageClient]) -> PageClient:
    """A member of staff at Clare Lodge, signed in."""
    return signed_in("provider", provider_id="clare-lodge")


@pytest.fixture
def other_home(signed_in: Callable[..., PageClient]) -> PageClient:
    """A member of staff at Adel Beck, signed in."""
    return signed_in("provider", provider_id="adel-beck")


def nene(sessions: Sessions) -> UnitView:
    """Clare Lodge's Nene unit as the coordinator reads it."""
    return get_unit(sessions, ADMIN, NENE, settings=SETTINGS, now=NOW)


def version_on(page: str) -> str:
    """The version a unit's form was loaded with."""
    found = VERSION.search(page)
    assert found, "the form has no version"
    return found.group(1)


def counts_form(staffed: int, occupied: int, version: str, **more: object) -> dict[str, object]:
    """The unit form's answers: fully staffed, no flags, unless told."""
    return {"staffed_beds": staffed, "occupied_beds": occupied, "out_of_use_reason": "in_use",
            "version": version, **more}  # fmt: skip


def text(answer: TestResponse) -> str:
    """A response's HTML."""
    return answer.get_data(as_text=True)


def test_the_home_sees_its_units_beds_and_how_many_offers_wait(
    home: PageClient, seeded: Sessions
) -> None:
    offered_request(seeded, NENE, "SWK-1", now=NOW)
    page = home.get("/home")
    assert page.status_code == 200
    html = text(page)
    assert "Units at Clare Lodge" in html and "Nene" in html and "Welland" in html
    assert "Oak" not in html  # Adel Beck's
    assert 'Update beds<span class="govuk-visually-hidden"> for Nene</span>' in html
    assert "1 offer is waiting for your answer" in html
    assert '<a class="govuk-service-navigation__link" href="/home/offers"' in html
    assert "5 victim of child sexual exploitation" in html.replace("\n", " ")
    assert 'hx-get="/home/units-fragment" hx-trigger="every 15s"' in html
    region = home.get("/home/units-fragment")
    assert region.status_code == 200 and "<html" not in text(region)
    assert text(region).startswith('<div id="units-region"') and 'aria-live="polite"' in text(
        region
    )


def test_a_unit_not_updated_for_a_day_is_flagged_stale(
    signed_in: Callable[..., PageClient], seeded: Sessions, clock: FixedClock
) -> None:
    fresh = text(signed_in("provider", "a@example.org", provider_id="clare-lodge").get("/home"))
    assert "Stale" not in fresh
    clock.set(NOW + timedelta(hours=30))
    late = signed_in("provider", "b@example.org", provider_id="clare-lodge").get("/home")
    assert "Stale" in text(late) and "Not updated for 30 hours" in text(late)


def test_saving_bed_counts_updates_the_unit_and_its_history(
    home: PageClient, seeded: Sessions
) -> None:
    form = home.get(NENE_FORM)
    assert form.status_code == 200
    for label in ('for="staffed_beds">', 'for="occupied_beds">', "Save bed counts", "In use"):
        assert label in text(form)
    version = version_on(text(form))
    saved = home.submit(NENE_FORM, counts_form(7, 5, version, out_of_use_reason="staffing",
                                               flag_cse_victim=2))  # fmt: skip
    assert saved.status_code == 200 and "Bed counts saved for Nene" in text(saved)
    unit = nene(seeded)
    assert (unit.staffed_beds, unit.occupied_beds, unit.out_of_use_reason) == (7, 5, "staffing")
    assert unit.resident_flags == {"cse_victim": 2}
    assert unit.updated_by == "provider.clare-lodge@example.org"
    history = home.get(f"{NENE_FORM}/history")
    assert history.status_code == 200
    assert "Bed counts updated" in text(history) and "provider.clare-lodge@example.org" in text(
        history
    )
    assert "Unit registered" in text(history)


@pytest.mark.parametrize(
    ("answers", "field", "message"),
    [
        ({"staffed_beds": 9}, "staffed_beds", "Staffed beds must be 8 or fewer"),
        ({"occupied_beds": 9}, "occupied_beds", "Occupied beds must be no more than the 8"),
        ({"staffed_beds": 6, "occupied_beds": 5}, "out_of_use_reason", "Select why beds are out"),
        ({"flag_self_harm": 7}, "flag_self_harm", "Self harm must be no more than the 6 occupied"),
        ({"staffed_beds": "six"}, "staffed_beds", "Staffed beds must be a whole number"),
        ({"occupied_beds": ""}, "occupied_beds", "Enter the number of occupied beds"),
        ({"out_of_use_reason": "broken"}, "out_of_use_reason", "Select whether any beds"),
    ],
)
def test_counts_that_break_a_rule_are_shown_at_their_field(
    home: PageClient, seeded: Sessions, answers: dict[str, object], field: str, message: str
) -> None:
    before = nene(seeded)
    version = version_on(text(home.get(NENE_FORM)))
    answer = home.submit(NENE_FORM, {**counts_form(8, 6, version), **answers})
    assert answer.status_code == 422
    html = text(answer)
    assert "There is a problem" in html and f'href="#{field}"' in html and message in html
    assert f'id="{field}"' in html
    assert version_on(html) == version
    assert nene(seeded) == before


def test_a_conflicting_edit_is_shown_and_never_overwritten(
    home: PageClient, signed_in: Callable[..., PageClient], seeded: Sessions
) -> None:
    loaded = version_on(text(home.get(NENE_FORM)))
    deputy = signed_in("provider", "deputy@example.org", provider_id="clare-lodge")
    first = deputy.submit(NENE_FORM, counts_form(8, 4, version_on(text(deputy.get(NENE_FORM)))))
    assert "Bed counts saved for Nene" in text(first)
    late = home.submit(NENE_FORM, counts_form(8, 7, loaded))
    assert late.status_code == 409
    html = text(late)
    assert "Someone changed these bed counts after you opened this page" in html
    assert "8 staffed, 4 occupied and 0 reserved beds" in html and "deputy@example.org" in html
    assert nene(seeded).occupied_beds == 4  # the other change stands
    newer = version_on(html)
    assert newer != loaded and newer == str(nene(seeded).version)
    again = home.submit(NENE_FORM, counts_form(8, 7, newer))
    assert "Bed counts saved for Nene" in text(again) and nene(seeded).occupied_beds == 7


def test_another_homes_unit_cannot_be_opened_or_changed(
    other_home: PageClient, seeded: Sessions
) -> None:
    before = nene(seeded)
    assert other_home.get(NENE_FORM).status_code == 403
    assert other_home.get(f"{NENE_FORM}/history").status_code == 403
    token = csrf_of(text(other_home.get("/home/units/adel-beck/oak")))
    sent = other_home.post(
        NENE_FORM, {"csrf_token": token, **counts_form(8, 1, str(before.version))}
    )
    assert sent.status_code == 403
    assert nene(seeded) == before
    assert other_home.get("/home/units/clare-lodge/no-such-unit").status_code == 404


def test_the_inbox_shows_what_a_home_may_see_and_accepting_reserves_a_bed(
    home: PageClient, seeded: Sessions
) -> None:
    set_free_beds(seeded, NENE, 2, now=NOW)
    offer_id = offered_request(seeded, NENE, "SWK-2", now=NOW)
    request_id = offers.get_offer(seeded, ADMIN, offer_id, now=NOW).request_id
    inbox = home.get("/home/offers")
    assert inbox.status_code == 200
    html = text(inbox)
    assert f"Request {request_id} for Nene" in html and "Southwark" in html
    for fact in ("Female", "welfare (section 25)", "harm to self", "4 hours left", "no order yet"):
        assert fact in html, fact
    assert "SWK-2" not in html  # the case reference is the authority's
    assert "Accept offer" in html and "Decline offer" in html
    assert 'hx-get="/home/offers-fragment"' in html and 'aria-live="polite"' in html
    region = home.get("/home/offers-fragment")
    assert region.status_code == 200 and f"Request {request_id}" in text(region)
    assert "<html" not in text(region)
    occupied, reserved, _ = counts(seeded, NENE)
    accepted = home.submit(f"/home/offers/{offer_id}/accept", form_page="/home/offers")
    assert accepted.status_code == 200
    assert f"You accepted the offer for request {request_id}" in text(accepted)
    assert counts(seeded, NENE) == (occupied, reserved + 1, 1)
    assert "Waiting for your answer (0)" in text(accepted) and "Accepted" in text(accepted)
    again = home.submit(f"/home/offers/{offer_id}/accept", form_page="/home/offers")
    assert again.status_code == 409 and "Back to offers" in text(again)
    assert counts(seeded, NENE) == (occupied, reserved + 1, 1)


def test_an_offer_with_no_bed_left_is_refused_with_a_way_back(
    home: PageClient, seeded: Sessions
) -> None:
    set_free_beds(seeded, NENE, 1, now=NOW)
    offer_id = offered_request(seeded, NENE, "SWK-3", now=NOW)
    set_free_beds(seeded, NENE, 0, now=NOW)
    refused = home.submit(f"/home/offers/{offer_id}/accept", form_page="/home/offers")
    assert refused.status_code == 409
    assert "no free bed left" in text(refused) and 'href="/home/offers"' in text(refused)
    assert offers.get_offer(seeded, ADMIN, offer_id, now=NOW).status == "pending"


def test_declining_asks_why_and_records_the_reason(home: PageClient, seeded: Sessions) -> None:
    offer_id = offered_request(seeded, NENE, "SWK-4", now=NOW)
    path = f"/home/offers/{offer_id}/decline"
    question = home.get(path)
    assert question.status_code == 200
    assert "Needs not met" in text(question) and "Decline offer" in text(question)
    unanswered = home.submit(path, {"note": "x"})
    assert unanswered.status_code == 422 and 'href="#reason"' in text(unanswered)
    done = home.submit(path, {"reason": "needs_not_met", "note": "No CSE worker this month"})
    assert done.status_code == 200 and "You declined the offer for request" in text(done)
    declined = offers.get_offer(seeded, ADMIN, offer_id, now=NOW)
    assert (declined.status, declined.decline_reason) == ("declined", "needs_not_met")
    assert declined.decline_note == "No CSE worker this month"
    assert "No CSE worker this month" in text(home.get("/home/offers"))
    late = home.submit(path, {"reason": "other"}, form_page="/home/offers")
    assert late.status_code == 409


def test_another_homes_offer_cannot_be_seen_or_answered(
    home: PageClient, other_home: PageClient, seeded: Sessions
) -> None:
    offer_id = offered_request(seeded, NENE, "SWK-5", now=NOW)
    assert offer_id not in text(other_home.get("/home/offers"))
    assert offer_id in text(home.get("/home/offers"))
    assert other_home.get(f"/home/offers/{offer_id}/decline").status_code == 404
    token = csrf_of(text(other_home.get("/home/units/adel-beck/oak")))
    accept = other_home.post(f"/home/offers/{offer_id}/accept", {"csrf_token": token})
    decline = other_home.post(f"/home/offers/{offer_id}/decline",
                              {"csrf_token": token, "reason": "other"})  # fmt: skip
    assert (accept.status_code, decline.status_code) == (404, 404)
    assert offers.get_offer(seeded, ADMIN, offer_id, now=NOW).status == "pending"


def test_a_long_history_is_shown_a_page_at_a_time(home: PageClient, seeded: Sessions) -> None:
    for n in range(25):
        set_free_beds(seeded, NENE, 1 + n % 2, now=NOW)
    first = text(home.get(f"{NENE_FORM}/history"))
    assert first.count('<tr class="govuk-table__row">') == 26  # the head's row and 25 changes
    assert "Older changes" in first and "Newer changes" not in first
    second = text(home.get(f"{NENE_FORM}/history?page=2"))
    assert "Unit registered" in second and "Newer changes" in second
    assert "Older changes" not in second


def test_fragments_are_for_the_signed_in_home_only(
    app: Flask, home: PageClient, other_home: PageClient, seeded: Sessions
) -> None:
    offer_id = offered_request(seeded, NENE, "SWK-6", now=NOW)
    assert offer_id in text(home.get("/home/offers-fragment"))
    assert offer_id not in text(other_home.get("/home/offers-fragment"))
    assert "Nene" not in text(other_home.get("/home/units-fragment"))
    stranger = app.test_client()
    for path in ("/home/units-fragment", "/home/offers-fragment"):
        assert stranger.get(path).headers["Location"] == "/sign-in"
