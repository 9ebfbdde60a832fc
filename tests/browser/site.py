"""A real site for the browser tests: `placements serve` on a seeded database with the demo people,
an SMTP receiver for its emails, and the helpers the tests share (signing in, axe, screenshots).

The server's clock is fixed at tests.conftest.NOW, like every server of the suite, so sign-in links
never expire during a run; but the limits on asking for a link (5 per address and 20 per client
within 15 minutes, placements.people) never reset either. So `Site.sign_in` (the emailed link) is
for tests of signing in itself, and everything else signs in with `Site.link_for` (a link issued
as the coordinator, as `placements users link` does) through `page_for` in conftest.py.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from placements import people
from placements.auth import Actor
from placements.db import Sessions, make_engine
from placements.migrations import upgrade
from placements.seeding import seed
from tests.conftest import NOW, SERVER_CLOCK, free_port, serving

ROOT = Path(__file__).resolve().parents[2]
PLACEMENTS = Path(sys.executable).with_name("placements")
CHROMIUM = Path("/usr/bin/chromium")
# The axe-core pinned in package.json (npm ci in `make install`), not the library's own copy.
AXE_CORE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = ROOT / "var" / "screenshots"
WIDTHS = (1280, 390)
VIEWPORT = {"width": 1280, "height": 900}
# Issues links for `page_for`, as `placements users link` does.
LINK_ISSUER = Actor(label="browser-tests", role="admin")

# The demo people (`placements users demo`), one per role, and where each lands once signed in.
COORDINATOR = "coordinator@example.org"
DIRECTOR = "director.southwark@example.org"
HOME = "manager.clare-lodge@example.org"
CHAIR = "chair.southwark@example.org"
DEMO_PEOPLE: dict[str, tuple[str, ...]] = {
    COORDINATOR: ("--role", "admin", "--name", "National coordinator"),
    DIRECTOR: ("--role", "director", "--authority", "southwark", "--name", "Southwark director"),
    HOME: ("--role", "provider", "--provider", "clare-lodge", "--name", "Clare Lodge manager"),
    CHAIR: ("--role", "panel", "--panel", "review-southwark", "--name", "Southwark panel chair"),
}
START_OF_ROLE = {
    "admin": "/coordinator",
    "director": "/director",
    "provider": "/home",
    "panel": "/panel",
}


class Inbox:
    """An aiosmtpd handler keeping every message the server sends."""

    def __init__(self) -> None:
        self._messages: list[tuple[list[str], bytes]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def count(self) -> int:
        """How many messages have arrived so far (to wait for the ones after it)."""
        with self._lock:
            return len(self._messages)

    def to(self, address: str, *, after: int = 0) -> list[EmailMessage]:
        """The messages to an address, from the `after`th message on."""
        with self._lock:
            found = self._messages[after:]
        wanted = address.lower()
        return [parsed(raw) for to, raw in found if wanted in (r.lower() for r in to)]

    def wait_for(self, address: str, *, after: int = 0, timeout: float = 10) -> EmailMessage:
        """The first message to an address from the `after`th on, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while not (found := self.to(address, after=after)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no email to {address} within {timeout} s")
            time.sleep(0.1)
        return found[0]


def parsed(raw: bytes) -> EmailMessage:
    """An email as received."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    """The plain text body of an email."""
    body = message.get_body(("plain",))
    assert body is not None, "the email has no plain text part"
    content = body.get_content()
    assert isinstance(content, str)
    return content


@dataclass
class Site:
    """A running server on one database (`database`: sqlite or postgresql) and its mail."""

    database: str
    url: str
    inbox: Inbox
    env: dict[str, str]
    sessions: Sessions
    roles: dict[str, str] = field(default_factory=dict)  # email -> role of everyone added

    def cli(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `placements ARGUMENTS` on the site's database, clock, mail and public URL;
        a failure (when `check`) fails the test with its output."""
        done = subprocess.run(
            [str(PLACEMENTS), *arguments], env=self.env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            pytest.fail(f"placements {' '.join(arguments)} exited {done.returncode}:\n"
                        f"{done.stdout}{done.stderr}")  # fmt: skip
        return done

    def add_person(self, address: str, *arguments: str) -> None:
        """`placements users add ADDRESS ARGUMENTS` (--role ... and its scope)."""
        self.cli("users", "add", address, *arguments)
        self.roles[address] = arguments[arguments.index("--role") + 1]

    def start_of(self, address: str) -> str:
        """The full URL a person lands on once signed in."""
        return self.url + START_OF_ROLE[self.roles[address]]

    def link_for(self, address: str) -> str:
        """A fresh one-time sign-in link for a person, issued as the coordinator (not emailed,
        so asking for it counts against no limit)."""
        key = people.issue_link(self.sessions, LINK_ISSUER, address, now=NOW)
        return f"{self.url}/sign-in/{key}"

    def ask_for_link(self, page: Page, address: str) -> None:
        """On the sign-in page, ask for a link for an address; see "Check your email"."""
        page.goto(f"{self.url}/sign-in")
        page.get_by_label("What is your email address?").fill(address)
        page.get_by_role("button", name="Send me a sign-in link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    def emailed_link(self, address: str, *, after: int) -> str:
        """The sign-in link in the first email to an address from the `after`th message on."""
        text = text_of(self.inbox.wait_for(address, after=after))
        found = re.search(rf"{re.escape(self.url)}/sign-in/\S+", text)
        assert found, f"no sign-in link in the email to {address}:\n{text}"
        return found.group(0)

    def sign_in(self, page: Page, address: str) -> str:
        """Sign in the way a person does: ask for a link, open the emailed link, press Continue,
        land on the role's start page. Returns the link (spent). Limited: see the module."""
        before = self.inbox.count()
        self.ask_for_link(page, address)
        link = self.emailed_link(address, after=before)
        self.follow_link(page, link, address)
        return link

    def follow_link(self, page: Page, link: str, address: str) -> None:
        """Open a sign-in link, press Continue, and land on the person's start page."""
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(self.start_of(address))
        expect(page.get_by_text("Signed in as")).to_be_visible()

    def screenshot(self, page: Page, name: str) -> None:
        """Full-page screenshots at 1280 and 390 pixels wide (var/screenshots/<database>/
        <name>-<width>.png), checking at each width that nothing overflows sideways, that the
        page has GOV.UK typography and one GOV.UK heading, and that nothing failed to load."""
        folder = SCREENSHOTS / self.database
        folder.mkdir(parents=True, exist_ok=True)
        original = page.viewport_size or VIEWPORT
        try:
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": original["height"]})
                page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
                assert_fits(page, width)
            assert_govuk_typography(page)
        finally:
            page.set_viewport_size(original)
        assert_loaded(page)


@dataclass(frozen=True)
class Prepared:
    """A site before its server starts: the database, the mail receiver and the port it will use."""

    site: Site
    port: int
    settings: dict[str, str]


@contextmanager
def prepared_site(database: str, url: str) -> Iterator[Prepared]:
    """Migrate and seed the database and start an SMTP receiver; the server's port is chosen
    first, since the public URL (which sign-in emails link to) names it."""
    upgrade(url)
    engine = make_engine(url)
    sessions = Sessions.for_engine(engine)
    seed(sessions, now=NOW)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    port = free_port()
    settings = {
        "PLACEMENTS_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
        "PLACEMENTS_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env = {**os.environ, **settings, "PLACEMENTS_DATABASE_URL": url,
           "PLACEMENTS_CLOCK": SERVER_CLOCK}  # fmt: skip
    try:
        yield Prepared(Site(database, f"http://127.0.0.1:{port}", inbox, env, sessions), port,
                       settings)  # fmt: skip
    finally:
        with suppress(AssertionError):  # "SMTP daemon not running"
            controller.stop()
        engine.dispose()


@contextmanager
def running_site(database: str, url: str, folder: Path) -> Iterator[Site]:
    """A prepared site with the demo people, served at NOW."""
    with (
        prepared_site(database, url) as ready,
        serving(url, folder / "serve.log", port=ready.port, **ready.settings),
    ):
        for address, arguments in DEMO_PEOPLE.items():
            ready.site.add_person(address, *arguments)
        yield ready.site


# What went wrong loading each page (CSP refusals, assets that failed), kept by `watch`.
_PROBLEMS: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


def watch(page: Page) -> Page:
    """Keep what goes wrong on a page: scripts or styles the CSP refuses, assets that fail."""
    problems = _PROBLEMS.setdefault(page, [])

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"{page.url}: {message.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            problems.append(f"{page.url}: {response.url} answered {response.status}")

    def on_failed(request: Any) -> None:
        # Aborted: the page was left before it loaded (a quick click), not a missing asset.
        if request.resource_type != "document" and "ERR_ABORTED" not in (request.failure or ""):
            problems.append(f"{page.url}: {request.url} failed: {request.failure}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    return page


def assert_loaded(page: Page) -> None:
    """Nothing a watched page loaded was refused or failed."""
    problems = _PROBLEMS.get(page, [])
    assert not problems, "\n".join(problems)


_AXE: list[Axe] = []


def axe() -> Axe:
    """Axe with the project's axe-core."""
    if not _AXE:
        if not AXE_CORE.exists():
            pytest.fail(f"{AXE_CORE} is missing: run `make install` (npm ci installs axe-core)")
        _AXE.append(Axe(axe_script=AXE_CORE.read_text(encoding="utf-8")))
    return _AXE[0]


def assert_accessible(page: Page) -> None:
    """axe-core finds no WCAG 2.2 AA violation on the page as it is now (needs JavaScript on)."""
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    violations = axe().run(page, options=options).response["violations"]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" > ".join(map(str, n["target"])) for n in v["nodes"])
        for v in violations
    ]
    assert not lines, f"accessibility violations on {page.url}:\n" + "\n".join(lines)


def assert_fits(page: Page, width: int) -> None:
    """Nothing makes the page scroll sideways."""
    scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{page.url} is {scroll} px wide in a {inner} px window (at {width})"


TYPOGRAPHY = """() => {
  const headings = [...document.querySelectorAll('h1')];
  const h1 = headings[0];
  const ownText = (e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const unstyled = [...document.querySelectorAll('header *, main *, footer *')]
    .filter((e) => ownText(e) && !getComputedStyle(e).fontFamily.includes('GDS Transport'))
    .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')}: `
                + `${getComputedStyle(e).fontFamily} "${e.textContent.trim().slice(0, 40)}"`);
  const styled = h1 && (
    /\\bgovuk-heading-(xl|l|m|s)\\b/.test(h1.className)
    || (h1.classList.contains('govuk-label-wrapper')
        && !!h1.querySelector('[class*="govuk-label--"]'))
    || (h1.classList.contains('govuk-fieldset__heading')
        && !!h1.closest('[class*="govuk-fieldset__legend--"]')));
  return {
    count: headings.length,
    styled: !!styled,
    h1: h1 ? h1.outerHTML.slice(0, 200) : '',
    unstyled: unstyled.slice(0, 10),
  };
}"""


def assert_govuk_typography(page: Page) -> None:
    """One h1, styled as a GOV.UK heading (or a GOV.UK label or legend that is the page's
    heading), and all text of the header, main content and footer in GOV.UK Frontend's font
    ("GDS Transport", arial, sans-serif: GOV.UK Frontend 6 sets it on its classes, not the body,
    so text outside them, such as a bare <p>, shows in the browser's serif font)."""
    found = page.evaluate(TYPOGRAPHY)
    assert found["count"] == 1, f"{page.url} has {found['count']} h1 elements"
    assert found["styled"], f"{page.url}: the h1 is not a GOV.UK heading: {found['h1']}"
    assert not found["unstyled"], f"{page.url}: text without GOV.UK typography:\n" + "\n".join(
        found["unstyled"]
    )
