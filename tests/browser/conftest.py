"""Fixtures of the browser tests: one server per database for the whole run, one Chromium, and a
fresh browser context (cheap) per page a test asks for. Every test here is marked `browser`
(`make browser`; `make pytest` leaves them out)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.site import CHROMIUM, VIEWPORT, Site, running_site, watch
from tests.conftest import BACKENDS, PG_URL, fresh_postgresql_database

HERE = Path(__file__).parent
# The server shares two cores with the suite: give pages longer than Playwright's 5 s to settle.
expect.set_options(timeout=15_000)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser `browser` (before -m selects by markers)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """`placements serve` on a fresh, seeded database of each backend, with the demo people, its
    mail going to `site.inbox` and its links to `site.url`."""
    folder = tmp_path_factory.mktemp(f"browser-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'browser.db'}"
    else:
        assert PG_URL is not None
        url = fresh_postgresql_database("browser")
    with running_site(request.param, url, folder) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (Playwright's own browsers cannot be downloaded here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


class PageFor(Protocol):
    """page_for(email=None, javascript=True): a page in a fresh browser context."""

    def __call__(self, email: str | None = None, *, javascript: bool = True) -> Page: ...


@pytest.fixture
def page_for(site: Site, browser: Browser) -> Iterator[PageFor]:
    """A page in a fresh context (1280 x 900, relative URLs on the site), signed in as `email`
    by a link issued for them, or signed out if None; `javascript=False` turns scripts off."""
    contexts: list[BrowserContext] = []

    def make(email: str | None = None, *, javascript: bool = True) -> Page:
        context = browser.new_context(base_url=site.url, java_script_enabled=javascript,
                                      viewport=VIEWPORT)  # fmt: skip
        contexts.append(context)
        page = watch(context.new_page())
        if email is not None:
            site.follow_link(page, site.link_for(email), email)
        return page

    yield make
    for context in contexts:
        context.close()
