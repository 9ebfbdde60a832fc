"""axe-core (WCAG 2.2 AA) and screenshots at 1280 and 390 pixels of the pages everyone passes
through: the start page, signing in, its errors, signing out, and each role's start page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageFor
from tests.browser.site import CHAIR, COORDINATOR, DIRECTOR, HOME, Site, assert_accessible

ROLE_STARTS = {HOME: "home", DIRECTOR: "director", CHAIR: "panel", COORDINATOR: "coordinator"}


def test_signing_in_is_accessible_at_every_step(site: Site, page_for: PageFor) -> None:
    page = page_for()
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Secure accommodation placements")
    assert_accessible(page)
    site.screenshot(page, "start")

    page.get_by_role("button", name="Start now").click()
    expect(page).to_have_url(f"{site.url}/sign-in")
    assert_accessible(page)
    site.screenshot(page, "sign-in")

    page.get_by_role("button", name="Send me a sign-in link").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(page).to_have_title("Error: Sign in \N{EN DASH} Secure accommodation placements")
    assert_accessible(page)
    site.screenshot(page, "sign-in-error")

    before = site.inbox.count()
    site.ask_for_link(page, DIRECTOR)
    assert_accessible(page)
    site.screenshot(page, "check-your-email")

    link = site.emailed_link(DIRECTOR, after=before)
    page.goto(link)
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    assert_accessible(page)
    site.screenshot(page, "sign-in-confirm")

    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(site.start_of(DIRECTOR))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")
    assert_accessible(page)
    site.screenshot(page, "signed-out")

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "There is a problem with the page you sent"
    )
    assert_accessible(page)
    site.screenshot(page, "link-refused")


def test_an_unknown_page_is_accessible(page_for: PageFor, site: Site) -> None:
    page = page_for()
    response = page.goto("/home/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert_accessible(page)
    site.screenshot(page, "not-found")


@pytest.mark.parametrize("address", list(ROLE_STARTS))
def test_each_role_start_page_is_accessible(site: Site, page_for: PageFor, address: str) -> None:
    page = page_for(address)
    assert_accessible(page)
    site.screenshot(page, ROLE_STARTS[address])


@pytest.mark.parametrize("address", list(ROLE_STARTS))
def test_each_role_start_page_works_without_javascript(
    site: Site, page_for: PageFor, address: str
) -> None:
    page = page_for(address, javascript=False)
    site.screenshot(page, f"{ROLE_STARTS[address]}-no-js")
