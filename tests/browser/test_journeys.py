"""One journey per role, end to end, in a real browser against `placements serve`: a home frees a
bed; a director requests, reads the options and offers; the home accepts; the director admits; the
review meeting appears for the chair, who records the outcome; the coordinator sees the bed board
and the waiting list change. Along the way, people of another home, authority and panel try the
journey's pages (403 or 404), and a link left unused is refused once it has expired. Everyone signs
in through the link emailed to them (caught by the test's SMTP receiver). The same journey runs with
JavaScript on (axe-core checks every page, and screenshots are written at 1280 and 390 pixels) and
with JavaScript off (no htmx, no GOV.UK JavaScript), on SQLite and on PostgreSQL.

Each journey has a database and a server of its own: the review step needs the service's clock a
month on, so the server is restarted with a later fixed clock, as time passing would do.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from placements import statutory
from placements.meetings import LONDON, review_meeting_time
from tests.browser.site import (
    CHAIR,
    COORDINATOR,
    DEMO_PEOPLE,
    DIRECTOR,
    HOME,
    VIEWPORT,
    Site,
    assert_accessible,
    prepared_site,
    watch,
)
from tests.conftest import BACKENDS, NOW, PG_URL, fresh_postgresql_database, serving

CASE_REFERENCE = "SWK-2026-0042"
# People of another home, authority and panel: none may reach the journey's objects.
OTHER_HOME = "manager.adel-beck@example.org"
OTHER_DIRECTOR = "director.surrey@example.org"
OTHER_CHAIR = "chair.surrey@example.org"
OUTSIDERS = {
    OTHER_HOME: ("--role", "provider", "--provider", "adel-beck"),
    OTHER_DIRECTOR: ("--role", "director", "--authority", "surrey"),
    OTHER_CHAIR: ("--role", "panel", "--panel", "review-surrey"),
}
# Nene (Clare Lodge, girls, welfare, CSE support): 8 staffed, 6 occupied in the seed.
UNIT = "Nene"
UNIT_FORM = "/home/units/clare-lodge/nene"


def fixed(moment: datetime) -> str:
    """A fixed clock at a moment (PLACEMENTS_CLOCK)."""
    return f"fixed:{moment.isoformat()}"


class Journey:
    """A site whose server can be restarted with a later clock; pages made in fresh contexts."""

    def __init__(self, site: Site, browser: Browser, javascript: bool, stack: ExitStack,
                 folder: Path, port: int, settings: dict[str, str]) -> None:  # fmt: skip
        self.site, self.browser, self.javascript = site, browser, javascript
        self.stack, self.folder, self.port, self.settings = stack, folder, port, settings
        self.server = ExitStack()
        self.restarts = 0
        self.pages: list[Page] = []

    def serve(self, moment: datetime) -> None:
        """(Re)start the server with its clock fixed at `moment`."""
        self.server.close()
        self.restarts += 1
        clock = fixed(moment)
        self.server.enter_context(serving(
            self.site.env["PLACEMENTS_DATABASE_URL"], self.folder / f"serve-{self.restarts}.log",
            port=self.port, clock=clock, **self.settings,
        ))  # fmt: skip
        self.site = replace(self.site, env={**self.site.env, "PLACEMENTS_CLOCK": clock})

    def page(self) -> Page:
        """A page in a fresh browser context (nobody signed in)."""
        context = self.browser.new_context(base_url=self.site.url, viewport=VIEWPORT,
                                           java_script_enabled=self.javascript)  # fmt: skip
        self.stack.callback(context.close)
        return watch(context.new_page())

    def sign_in(self, address: str) -> Page:
        """A fresh browser signed in by the link emailed to `address`, on their start page."""
        page = self.page()
        self.site.sign_in(page, address)
        return page

    def ask_for_link(self, address: str) -> str:
        """Ask for a sign-in link on the sign-in page; the link emailed (not used)."""
        before = self.site.inbox.count()
        self.site.ask_for_link(self.page(), address)
        return self.site.emailed_link(address, after=before)

    def check(self, page: Page, name: str) -> None:
        """With JavaScript on: axe-core finds nothing; screenshots at both widths (either way)."""
        if self.javascript:
            assert_accessible(page)
        self.site.screenshot(page, f"journey-{name}{'' if self.javascript else '-no-js'}")


@contextmanager
def journey_site(database: str, folder: Path, browser: Browser, javascript: bool
                 ) -> Iterator[Journey]:  # fmt: skip
    """A fresh seeded database with the demo people and the outsiders, a mail receiver, and a
    server at NOW."""
    url = (f"sqlite:///{folder / 'journey.db'}" if database == "sqlite"
           else fresh_postgresql_database("journey"))  # fmt: skip
    with prepared_site(database, url) as ready, ExitStack() as stack:
        journey = Journey(ready.site, browser, javascript, stack, folder, ready.port,
                          ready.settings)  # fmt: skip
        stack.callback(journey.server.close)
        for address, arguments in {**DEMO_PEOPLE, **OUTSIDERS}.items():
            ready.site.add_person(address, *arguments)
        journey.serve(NOW)
        yield journey


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest) -> str:
    """Each backend in turn (PostgreSQL when PLACEMENTS_TEST_DATABASE_URL is set)."""
    if request.param == "postgresql":
        assert PG_URL
    return str(request.param)


def free_beds(page: Page) -> int:
    """The national free-beds figure on the coordinator's bed board."""
    return int(page.locator("#free-beds-total").inner_text())


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_every_role_end_to_end(
    database: str, browser: Browser, tmp_path: Path, javascript: bool
) -> None:
    with journey_site(database, tmp_path, browser, javascript) as journey:
        run_journey(journey)


def run_journey(journey: Journey) -> None:
    """The journey itself (see the module's docstring)."""
    # A link asked for now and not used is refused once its 15 minutes are over (below).
    unused = journey.ask_for_link(CHAIR)

    # The coordinator looks at the bed board and the waiting list.
    coordinator = journey.sign_in(COORDINATOR)
    expect(coordinator.get_by_role("heading", level=1)).to_have_text("National bed board")
    free_at_start = free_beds(coordinator)
    journey.check(coordinator, "coordinator-board")
    coordinator.goto("/coordinator/waiting")
    expect(coordinator.get_by_role("heading", level=1)).to_have_text("Waiting list")
    expect(coordinator.get_by_text(CASE_REFERENCE)).to_have_count(0)

    # A home frees a bed.
    home = journey.sign_in(HOME)
    journey.check(home, "home-beds")
    home.get_by_role("link", name=f"Update beds for {UNIT}").click()
    occupied = home.get_by_label("Occupied beds", exact=True)
    before = int(occupied.input_value())
    journey.check(home, "home-update-beds")
    occupied.fill(str(before - 1))
    home.get_by_role("button", name="Save bed counts").click()
    expect(home.get_by_text(f"Bed counts saved for {UNIT}")).to_be_visible()
    coordinator.goto("/coordinator")
    assert free_beds(coordinator) == free_at_start + 1
    # Another home's manager cannot reach Clare Lodge's form.
    other_home = journey.sign_in(OTHER_HOME)
    for path in (UNIT_FORM, f"{UNIT_FORM}/history"):
        refused = other_home.goto(path)
        assert refused is not None and refused.status == 403, path
    home.get_by_role("link", name=f"History of {UNIT}").click()
    expect(home.get_by_role("heading", level=1)).to_contain_text(UNIT)
    journey.check(home, "home-unit-history")

    # A director requests a placement, reads the options and offers.
    director = journey.sign_in(DIRECTOR)
    journey.check(director, "director-requests")
    director.get_by_role("link", name="Request a placement").first.click()
    journey.check(director, "director-new-request")
    director.get_by_label("Case reference").fill(CASE_REFERENCE)
    director.get_by_label("Age").fill("15")
    director.get_by_label("Female").check()
    director.get_by_label("Welfare", exact=True).check()
    fill_what_welfare_needs(director)
    director.get_by_role("button", name="Send request").click()
    expect(director.get_by_role("heading", name="Options")).to_be_visible()
    journey.check(director, "director-request-options")
    director.get_by_role("checkbox", name=UNIT, exact=True).check()
    director.get_by_role("button", name="Send offers").click()
    expect(director.get_by_text("Offers sent to 1 home")).to_be_visible()
    request_page = director.url
    # Another authority's director finds no such request (404, as for an unknown id).
    surrey = journey.sign_in(OTHER_DIRECTOR)
    for path in (request_page, f"{request_page}/withdraw", f"{request_page}/admission"):
        refused = surrey.goto(path)
        assert refused is not None and refused.status == 404, path
        expect(surrey.get_by_role("heading", level=1)).to_have_text("Page not found")
    for part, name in (("orders", "director-order"), ("withdraw", "director-withdraw")):
        director.goto(f"{request_page}/{part}")  # looked at, not sent
        journey.check(director, name)

    coordinator.goto("/coordinator/waiting")
    expect(coordinator.get_by_role("table", name=re.compile("Children waiting"))).to_contain_text(
        CASE_REFERENCE
    )
    journey.check(coordinator, "coordinator-waiting")

    # The home accepts.
    home.get_by_role("link", name="Offers", exact=True).click()
    journey.check(home, "home-offers")
    home.get_by_role("link", name=re.compile("^Decline offer")).first.click()
    journey.check(home, "home-decline")  # looked at, not sent
    home.go_back()
    home.get_by_role("button", name=re.compile("^Accept offer")).first.click()
    expect(home.get_by_text(re.compile(r"^\s*You accepted the offer"))).to_be_visible()

    # The director records the admission.
    director.goto(request_page)
    director.get_by_role("link", name="Record admission").first.click()
    journey.check(director, "director-admission")
    director.get_by_role("button", name="Record admission").click()
    expect(director.get_by_text(re.compile(r"^\s*Admission recorded"))).to_be_visible()

    coordinator.goto("/coordinator/waiting")
    expect(coordinator.get_by_text(CASE_REFERENCE)).to_have_count(0)
    coordinator.goto("/coordinator")
    assert free_beds(coordinator) == free_at_start  # the bed freed is the child's now

    # A month on: the review-calls job calls the child's first review, and the chair holds it.
    due = statutory.first_review_due(NOW, "england")
    called_at = due - timedelta(days=6)
    meeting_at = review_meeting_time(due, called_at)
    journey.serve(called_at)
    journey.site.cli("jobs", "run", "review-calls")
    journey.serve(meeting_at + timedelta(hours=2))
    late = journey.page()
    late.goto(unused)
    expect(late.get_by_role("heading", level=1)).to_have_text(
        "There is a problem with the page you sent"
    )
    expect(late.get_by_text("has already been used or has expired")).to_be_visible()
    chair = journey.sign_in(CHAIR)
    journey.check(chair, "panel-meetings")
    chair.get_by_role("link", name=re.compile("^View meeting")).first.click()
    journey.check(chair, "panel-meeting")
    chair.get_by_role("link", name="Record outcome").click()
    journey.check(chair, "panel-outcome")
    local = meeting_at.astimezone(LONDON)
    chair.locator("#held_day").fill(str(local.day))
    chair.locator("#held_month").fill(str(local.month))
    chair.locator("#held_year").fill(str(local.year))
    chair.get_by_label("Time held").fill(f"{local:%H:%M}")
    for member in chair.get_by_role("group", name="Who attended").get_by_role("checkbox").all():
        member.check()
    chair.get_by_role("group", name="What does the panel recommend?").get_by_role(
        "radio"
    ).first.check()
    outcome_page = chair.url
    chair.get_by_role("button", name="Record outcome").click()
    expect(chair.get_by_text("Outcome recorded")).to_be_visible()
    journey.check(chair, "panel-outcome-recorded")
    # Another panel's chair finds no such meeting.
    other_chair = journey.sign_in(OTHER_CHAIR)
    for path in (chair.url, outcome_page):
        refused = other_chair.goto(path)
        assert refused is not None and refused.status == 404, path

    director = journey.sign_in(DIRECTOR)
    director.get_by_role("link", name="Reviews", exact=True).click()
    journey.check(director, "director-reviews")
    director.goto(f"{request_page}/discharge")  # looked at, not sent
    journey.check(director, "director-discharge")

    # The coordinator, a month on, still sees the child placed: not waiting; and the rest of the
    # coordinator's pages.
    coordinator = journey.sign_in(COORDINATOR)
    coordinator.goto("/coordinator/waiting")
    expect(coordinator.get_by_text(CASE_REFERENCE)).to_have_count(0)
    for path, name in (("/coordinator/escalations", "coordinator-escalations"),
                       ("/coordinator/declines", "coordinator-declines")):  # fmt: skip
        coordinator.goto(path)
        journey.check(coordinator, name)
    coordinator.goto("/coordinator/escalations")
    coordinator.get_by_role("link", name=re.compile("^Change")).first.click()
    journey.check(coordinator, "coordinator-threshold")


def fill_what_welfare_needs(page: Page) -> None:
    """The grounds of a welfare request (section 25): the child has a history of absconding and
    would suffer significant harm."""
    page.get_by_label(re.compile("absconding", re.IGNORECASE)).first.check()
