"""Signing in to the pages: one-time links, sessions that end, CSRF, and who sees which page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from placements import people
from placements.auth import SYSTEM
from placements.clock import FixedClock
from placements.db import Sessions
from tests.api.pages import PageClient, csrf_of, sign_in_with_link


def test_a_link_signs_in_once_and_the_session_lasts(
    app: Flask, seeded: Sessions, clock: FixedClock
) -> None:
    people.add(
        seeded,
        SYSTEM,
        people.PersonSpec("m@example.org", "provider", provider_id="clare-lodge"),
        now=clock.now(),
    )
    key = people.issue_link(seeded, SYSTEM, "m@example.org", now=clock.now())
    client = app.test_client()
    assert sign_in_with_link(client, key).headers["Location"] == "/"
    cookie = client.get_cookie("placements_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert client.get("/").headers["Location"] == "/home"
    assert client.get("/home").status_code == 200
    # The link is spent: a second use (any client) is refused.
    other = app.test_client()
    assert other.get(f"/sign-in/{key}").status_code == 400
    assert other.post(f"/sign-in/{key}", data={}).status_code == 400  # no CSRF token either


def test_an_expired_link_is_refused(app: Flask, seeded: Sessions, clock: FixedClock) -> None:
    people.add(
        seeded,
        SYSTEM,
        people.PersonSpec("d@example.org", "director", authority_id="southwark"),
        now=clock.now(),
    )
    key = people.issue_link(seeded, SYSTEM, "d@example.org", now=clock.now())
    clock.set(clock.now() + people.LINK_LIFETIME + timedelta(seconds=1))
    client = app.test_client()
    page = client.get(f"/sign-in/{key}")
    assert page.status_code == 400
    assert "has expired" in page.get_data(as_text=True)


def test_idle_sessions_end_after_30_minutes(
    signed_in: Callable[..., PageClient], clock: FixedClock
) -> None:
    home = signed_in("provider", provider_id="clare-lodge")
    clock.set(clock.now() + timedelta(minutes=29))
    assert home.get("/home").status_code == 200  # active: the idle time starts again
    clock.set(clock.now() + timedelta(minutes=29))
    assert home.get("/home").status_code == 200
    clock.set(clock.now() + timedelta(minutes=31))
    assert home.get("/home").headers["Location"] == "/sign-in"


def test_disabling_a_person_ends_their_session_at_the_next_request(
    signed_in: Callable[..., PageClient], seeded: Sessions, clock: FixedClock
) -> None:
    director = signed_in("director", "d2@example.org", authority_id="southwark")
    assert director.get("/director").status_code == 200
    assert people.disable(seeded, SYSTEM, "D2@example.org", now=clock.now())
    assert director.get("/director").headers["Location"] == "/sign-in"


def test_signing_out_ends_the_session(signed_in: Callable[..., PageClient]) -> None:
    panel = signed_in("panel", "chair.southwark@example.org", panel_id="review-southwark")
    cookie = panel.client.get_cookie("placements_session")
    assert cookie is not None
    answer = panel.submit("/sign-out", form_page="/panel")
    assert answer.status_code == 200 and "You have signed out" in answer.get_data(as_text=True)
    # The old cookie, sent again, opens nothing.
    panel.client.set_cookie("placements_session", cookie.value)
    assert panel.get("/panel").headers["Location"] == "/sign-in"


def test_forms_without_their_csrf_token_are_refused(
    signed_in: Callable[..., PageClient], seeded: Sessions
) -> None:
    home = signed_in("provider", provider_id="clare-lodge")
    answer = home.post("/sign-out")
    assert answer.status_code == 400
    assert "not sent from this service" in answer.get_data(as_text=True)
    other = signed_in("provider", "other@example.org", provider_id="adel-beck")
    token = csrf_of(other.get("/home").get_data(as_text=True))
    assert home.post("/sign-out", data={"csrf_token": token}).status_code == 400  # another's


def test_asking_for_a_link_answers_the_same_for_unknown_addresses(
    app: Flask, seeded: Sessions, clock: FixedClock
) -> None:
    people.add(seeded, SYSTEM, people.PersonSpec("known@example.org", "admin"), now=clock.now())
    answers = []
    for address in ("known@example.org", "unknown@example.org"):
        client = app.test_client()
        form = client.get("/sign-in").get_data(as_text=True)
        answer = client.post("/sign-in", data={"csrf_token": csrf_of(form), "email": address})
        answers.append((answer.status_code, answer.get_data(as_text=True).replace(address, "X")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200 and "Check your email" in answers[0][1]


def test_sign_in_requests_are_limited_per_address_and_per_client(
    app: Flask, seeded: Sessions
) -> None:
    client = app.test_client()

    def ask(address: str, remote: str = "10.0.0.1") -> int:
        form = client.get("/sign-in").get_data(as_text=True)
        return client.post("/sign-in", data={"csrf_token": csrf_of(form), "email": address},
                           environ_base={"REMOTE_ADDR": remote}).status_code  # fmt: skip

    assert [ask("a@example.org") for _ in range(people.PER_ADDRESS)] == [200] * people.PER_ADDRESS
    assert ask("a@example.org", "10.0.0.2") == 429  # the address, from anywhere
    statuses = [ask(f"p{n}@example.org", "10.0.0.3") for n in range(people.PER_CLIENT + 1)]
    assert statuses[-1] == 429 and statuses[:-1] == [200] * people.PER_CLIENT


@pytest.mark.parametrize(
    ("role", "scope", "own", "others"),
    [
        (
            "provider",
            {"provider_id": "clare-lodge"},
            "/home",
            ["/director", "/panel", "/coordinator"],
        ),
        (
            "director",
            {"authority_id": "southwark"},
            "/director",
            ["/home", "/panel", "/coordinator"],
        ),
        (
            "panel",
            {"panel_id": "review-southwark"},
            "/panel",
            ["/home", "/director", "/coordinator"],
        ),
        ("admin", {}, "/coordinator", ["/home", "/director", "/panel"]),
    ],
)
def test_each_role_reaches_only_its_own_pages(
    signed_in: Callable[..., PageClient], role: str, scope: dict[str, str], own: str,
    others: list[str],
) -> None:  # fmt: skip
    person = signed_in(role, **scope)
    assert person.get(own).status_code == 200
    for path in others:
        assert person.get(path).status_code == 403, path


def test_pages_refuse_the_nul_character_and_unknown_pages_are_html(
    signed_in: Callable[..., PageClient],
) -> None:
    home = signed_in("provider", provider_id="clare-lodge")
    answer = home.get("/home?x=%00")
    assert answer.status_code == 422 and answer.content_type.startswith("text/html")
    missing = home.get("/home/no-such-page")
    assert missing.status_code == 404 and missing.content_type.startswith("text/html")


def test_pages_carry_a_strict_content_security_policy(app: Flask) -> None:
    answer = app.test_client().get("/")
    policy = answer.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "script-src 'self'" in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_the_govuk_assets_from_npm_are_served(app: Flask) -> None:
    client = app.test_client()
    css = client.get("/static/vendor/govuk-frontend.min.css")
    assert css.status_code == 200 and css.content_type.startswith("text/css")
    assert client.get("/static/vendor/govuk-frontend.min.js").status_code == 200
    assert client.get("/static/vendor/htmx.min.js").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/assets/images/favicon.svg").status_code == 200
    assert client.get("/assets/manifest.json").status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/static/vendor/govuk-frontend.min.css">' in page


def test_a_page_polling_for_figures_does_not_keep_its_session_alive(
    signed_in: Callable[..., PageClient], clock: FixedClock
) -> None:
    home = signed_in("provider", provider_id="clare-lodge")
    polled = {"HX-Request": "true"}
    for _ in range(4):  # 4 x 10 minutes of polling and nothing else
        clock.set(clock.now() + timedelta(minutes=10))
        answer = home.get("/home/units-fragment", headers=polled)
    assert answer.status_code == 401 and answer.headers["HX-Redirect"] == "/sign-in"
    assert home.get("/home").headers["Location"] == "/sign-in"
