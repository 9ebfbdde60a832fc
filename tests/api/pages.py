"""Driving the pages in tests through the real path: a person signs in with a one-time link and
sends forms with the CSRF token the page gave them."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from placements import people
from placements.auth import SYSTEM
from placements.db import Sessions

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1) or found.group(2)


class PageClient:
    """A browser-like client of the pages: keeps its cookie, sends forms with their token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.last: TestResponse | None = None

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """GET a page (redirects not followed unless asked)."""
        self.last = self.client.get(path, **kwargs)
        return self.last

    def submit(self, path: str, data: dict[str, Any] | None = None, *, form_page: str | None = None,
               follow: bool = True) -> TestResponse:  # fmt: skip
        """POST a form to `path` with the CSRF token of `form_page` (default: `path` itself)."""
        page = self.client.get(form_page or path)
        token = csrf_of(page.get_data(as_text=True))
        self.last = self.client.post(path, data={"csrf_token": token, **(data or {})},
                                     follow_redirects=follow)  # fmt: skip
        return self.last

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """POST exactly what is given (no token added)."""
        self.last = self.client.post(path, data=data or {}, **kwargs)
        return self.last


def sign_in_with_link(client: FlaskClient, key: str) -> TestResponse:
    """Open a sign-in link and confirm it, as a person does from their email."""
    page = client.get(f"/sign-in/{key}")
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(f"/sign-in/{key}", data={"csrf_token": csrf_of(page.get_data(as_text=True))})


def person_client(app: Flask, sessions: Sessions, now: Any, email: str, role: str,
                  **scope: str) -> PageClient:  # fmt: skip
    """A new person of this role and scope, signed in on a client of their own."""
    spec = people.PersonSpec(email, role, **scope)
    people.ensure(sessions, SYSTEM, spec, now=now)
    key = people.issue_link(sessions, SYSTEM, email, now=now)
    client = app.test_client()
    answer = sign_in_with_link(client, key)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return PageClient(client)
