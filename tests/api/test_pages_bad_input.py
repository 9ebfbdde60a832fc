"""Bad input a browser (or anyone with curl) can send to the pages gets a 4xx page, never a 500:
each field of the main forms is sent odd values, and the list pages odd query strings."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.api.pages import PageClient, csrf_of

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
