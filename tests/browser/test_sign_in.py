"""Signing in with the emailed link in a real browser, with and without JavaScript; links that
work once; unknown and disabled people; forms without their CSRF token.

Each test here that asks for a link by email counts against the limits (site.py): 11 of the 20 a
client may ask for per database, at most 3 per address."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageFor
from tests.browser.site import CHAIR, COORDINATOR, DEMO_PEOPLE, DIRECTOR, HOME, Site

USED = "This sign-in link has already been used or has expired."
NOT_FROM_HERE = "The form was not sent from this service"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("address", list(DEMO_PEOPLE))
def test_the_emailed_link_signs_in_to_the_role_start(
    site: Site, page_for: PageFor, address: str, javascript: bool
) -> None:
    page = page_for(javascript=javascript)
    before = site.inbox.count()
    site.ask_for_link(page, address)
    expect(page.get_by_text(f"If {address} belongs to someone")).to_be_visible()
    message = site.inbox.wait_for(address, after=before)
    assert message["Subject"] == "Sign in to Secure accommodation placements"
    link = site.emailed_link(address, after=before)

    site.follow_link(page, link, address)

    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_link_works_once(site: Site, page_for: PageFor) -> None:
    link = site.sign_in(page_for(), HOME)

    again = page_for()
    response = again.goto(link)
    assert response is not None and response.status == 400
    expect(again.get_by_text(USED)).to_be_visible()
    expect(again.get_by_role("link", name="Ask for a new sign-in link")).to_be_visible()
    expect(again.get_by_text("Signed in as")).to_have_count(0)


def test_of_two_browsers_confirming_one_link_only_the_first_signs_in(
    site: Site, page_for: PageFor
) -> None:
    link = site.link_for(CHAIR)
    first, second = page_for(), page_for()
    for page in (first, second):
        page.goto(link)
        expect(page.get_by_role("button", name="Continue")).to_be_visible()

    first.get_by_role("button", name="Continue").click()
    expect(first).to_have_url(site.start_of(CHAIR))
    second.get_by_role("button", name="Continue").click()

    expect(second.get_by_text(USED)).to_be_visible()
    expect(second.get_by_text("Signed in as")).to_have_count(0)
    response = second.goto("/panel")
    expect(second).to_have_url(f"{site.url}/sign-in")
    assert response is not None and response.ok


def test_an_unknown_address_sees_the_same_page_and_gets_no_email(
    site: Site, page_for: PageFor
) -> None:
    page = page_for()
    unknown = "nobody.here@example.org"
    before = site.inbox.count()
    site.ask_for_link(page, unknown)
    expect(page.get_by_text(f"If {unknown} belongs to someone")).to_be_visible()
    # The sign-in request delivers before it answers; a moment more for a stray message.
    time.sleep(0.5)
    assert site.inbox.count() == before


def test_a_disabled_person_is_signed_out_at_their_next_request(
    site: Site, page_for: PageFor
) -> None:
    leaver = "leaver.southwark@example.org"
    site.add_person(leaver, "--role", "director", "--authority", "southwark")
    page = page_for(leaver)

    site.cli("users", "disable", leaver)
    page.reload()

    expect(page).to_have_url(f"{site.url}/sign-in")
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    before = site.inbox.count()
    site.ask_for_link(page, leaver)
    time.sleep(0.5)
    assert site.inbox.count() == before


def test_a_form_without_its_csrf_token_is_refused(site: Site, page_for: PageFor) -> None:
    page = page_for(DIRECTOR)

    response = page.request.post(f"{site.url}/sign-out", form={})
    assert response.status == 400
    assert NOT_FROM_HERE in response.text()

    page.evaluate("() => document.querySelectorAll('input[name=csrf_token]')"
                  ".forEach((input) => input.remove())")  # fmt: skip
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text(NOT_FROM_HERE)).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "There is a problem with the page you sent"
    )

    page.goto("/director")  # still signed in: nothing was done
    expect(page).to_have_url(site.start_of(DIRECTOR))
    expect(page.get_by_text("Signed in as")).to_be_visible()


def test_the_sign_in_form_without_its_csrf_token_sends_nothing(
    site: Site, page_for: PageFor
) -> None:
    page = page_for(javascript=False)
    page.goto("/sign-in")
    before = site.inbox.count()

    response = page.request.post(f"{site.url}/sign-in", form={"email": COORDINATOR})

    assert response.status == 400
    assert NOT_FROM_HERE in response.text()
    time.sleep(0.5)
    assert site.inbox.count() == before


def test_signing_out_ends_the_session(site: Site, page_for: PageFor) -> None:
    page = page_for(HOME, javascript=False)

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    page.goto("/home")
    expect(page).to_have_url(f"{site.url}/sign-in")
