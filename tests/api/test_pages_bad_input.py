"""Bad input a browser (or anyone with curl) can send to the pages gets a 4xx page, never a 500:
each field of the main forms is sent odd values, and the list pages odd query strings."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest

from placements import reviews
from placements.config import Settings
from placements.db import Sessions
from placements.models import Offer
from tests.api.pages import PageClient, csrf_of
from tests.conftest import NOW
from tests.placements.casework import admit
from tests.placements.workflow import offered_request

ODD = ["", "-1", "1e309", str(10**30), "abc", "nan", "inf", "x" * 10_000, "é😀", "\x01\u2028",
       "\x00", "99999", "1800", "25:99", "noon"]  # fmt: skip
NAME = re.compile(r'name="([a-z_]+)"')


def fields_of(html: str) -> list[str]:
    return sorted({n for n in NAME.findall(html) if n != "csrf_token"})


def probe(client: PageClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200, path
    html = page.get_data(as_text=True)
    token = csrf_of(html)
    for name in fields_of(html):
        for value in ODD:
            answer = client.post(path, data={"csrf_token": token, name: value})
            assert answer.status_code < 500, (path, name, value[:20])
        answer = client.post(path, data={"csrf_token": token, name: ["a", "b"]})
        assert answer.status_code < 500, (path, name, "twice")


@pytest.mark.parametrize(
    ("role", "scope", "paths"),
    [
        ("provider", {"provider_id": "clare-lodge"}, ["/home/units/clare-lodge/nene"]),
        ("director", {"authority_id": "southwark"}, ["/director/requests/new"]),
        ("admin", {}, ["/coordinator/thresholds/open_welfare_requests"]),
    ],
)
def test_odd_form_values_never_fail_the_server(
    signed_in: Callable[..., PageClient], role: str, scope: dict[str, str], paths: list[str]
) -> None:
    client = signed_in(role, **scope)
    for path in paths:
        probe(client, path)


@pytest.mark.parametrize(
    ("role", "scope", "paths"),
    [
        (
            "provider",
            {"provider_id": "clare-lodge"},
            ["/home/offers", "/home", "/home/units/clare-lodge/nene"],
        ),
        ("director", {"authority_id": "southwark"}, ["/director", "/director/reviews"]),
        ("panel", {"panel_id": "review-southwark"}, ["/panel"]),
        (
            "admin",
            {},
            [
                "/coordinator",
                "/coordinator/waiting",
                "/coordinator/escalations",
                "/coordinator/declines",
            ],
        ),
    ],
)
def test_odd_query_strings_and_ids_never_fail_the_server(
    signed_in: Callable[..., PageClient], role: str, scope: dict[str, str], paths: list[str]
) -> None:
    client = signed_in(role, **scope)
    for path in paths:
        for query in ["page=-1", "page=abc", "page=99999999999999999999", "page_size=0",
                      "period=zzz", "page=1e309"]:  # fmt: skip
            assert client.get(f"{path}?{query}").status_code < 500, (path, query)
    for odd in ["x" * 2000, "%C3%A9%F0%9F%98%80", "..", "a%2Fb", "%00"]:
        for path in [f"/home/offers/{odd}/decline", f"/director/requests/{odd}/orders",
                     f"/panel/meetings/{odd}/outcome",
                     f"/coordinator/thresholds/{odd}"]:  # fmt: skip
            assert client.get(path).status_code < 500, path
    # NUL in an address is refused before any lookup (PostgreSQL cannot compare text with NUL)
    assert client.get("/home/offers/a%00b/decline").status_code in (403, 422)


def test_odd_values_in_the_forms_about_a_request_an_offer_and_a_meeting(
    signed_in: Callable[..., PageClient], seeded: Sessions
) -> None:
    offer_id = offered_request(seeded, "clare-lodge/nene", "ODD-1", now=NOW)
    with seeded.read() as session:
        request_id = session.get_one(Offer, offer_id).request_id
    admit(seeded, authority_id="southwark", admitted_at=NOW - timedelta(days=27))
    [meeting_id] = reviews.call_reviews(seeded, Settings(), now=NOW).called
    home = signed_in("provider", provider_id="clare-lodge")
    probe(home, f"/home/offers/{offer_id}/decline")
    chair = signed_in("panel", "chair.southwark@example.org", panel_id="review-southwark")
    probe(chair, f"/panel/meetings/{meeting_id}/outcome")
    director = signed_in("director", authority_id="southwark")
    for part in ("orders", "admission", "discharge", "withdraw"):
        page = director.get(f"/director/requests/{request_id}/{part}")
        if page.status_code == 200:
            probe(director, f"/director/requests/{request_id}/{part}")
        else:
            assert page.status_code == 409, (part, page.status_code)
    for day, month, year in (("31", "2", "2026"), ("0", "0", "0"), ("1", "1", "99999")):
        answer = chair.submit(f"/panel/meetings/{meeting_id}/outcome",
                              {"held_day": day, "held_month": month, "held_year": year,
                               "held_time": "10:00", "recommendation": "continue"})  # fmt: skip
        assert answer.status_code == 422, (day, month, year)
