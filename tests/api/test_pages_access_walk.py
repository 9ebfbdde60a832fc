"""The access matrix of the API, through the pages: every page and form of the app, walked by a
person of each role from inside and outside the scope of each object, and signed out.

A page whose role is not the caller's is 403; another home's, authority's or panel's object is 403
or 404 (the use case's answer, as in the API); signed out, every page sends to sign-in. No POST from
outside the object's scope changes anything (the database's rows are compared before and after).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text

from placements import requests, reviews
from placements.config import Settings
from placements.db import Sessions
from placements.models import Base
from tests.api.pages import PageClient, csrf_of
from tests.conftest import NOW
from tests.placements.casework import admit
from tests.placements.workflow import director, offered_request, welfare_facts

SETTINGS = Settings()
# Pages open to every visitor, and the assets.
PUBLIC = {"pages.start.index", "pages.start.sign_in", "pages.start.confirm", "pages.start.use_link",
          "pages.start.sign_out", "pages.start.assets", "pages.static"}  # fmt: skip
ROLE_OF_BLUEPRINT = {"home": "provider", "director": "director", "panel": "panel",
                     "coordinator": "admin"}  # fmt: skip
# Tables whose rows a refused POST may add to: who signed in, and the audit of reads.
BOOKKEEPING = {"web_session", "sign_in_link", "sign_in_attempt", "person", "audit_event",
               "service_secret"}  # fmt: skip


def world(sessions: Sessions) -> dict[str, dict[str, str]]:
    """One object of each kind inside the scope of Clare Lodge, Southwark and Southwark's panel,
    and one outside it (Adel Beck, Surrey, Surrey's panel); values of each path parameter."""
    inside_offer = offered_request(sessions, "clare-lodge/nene", "WALK-IN", now=NOW)
    outside_offer = offered_request(sessions, "adel-beck/cedar", "WALK-OUT", now=NOW)
    surrey = requests.create(sessions, director("surrey"), welfare_facts("WALK-SURREY"), now=NOW)
    admit(sessions, authority_id="southwark", admitted_at=NOW - timedelta(days=27))
    admit(sessions, authority_id="surrey", admitted_at=NOW - timedelta(days=27))
    called = reviews.call_reviews(sessions, SETTINGS, now=NOW).called
    with sessions.read() as session:

        def one(sql: str, **values: Any) -> str:
            return str(session.execute(text(sql), values).scalar_one())

        request_of = "SELECT request_id FROM offer WHERE id = :id"
        panel_of = "SELECT id FROM meeting WHERE id IN :ids AND panel_id = :panel"
        return {
            "inside": {
                "provider_id": "clare-lodge", "unit_slug": "nene", "offer_id": inside_offer,
                "request_id": one(request_of, id=inside_offer),
                "meeting_id": one(panel_of.replace("IN :ids", f"IN ({_quoted(called)})"),
                                  panel="review-southwark"),
                "rule": "stale_availability_hours",
            },
            "outside": {
                "provider_id": "adel-beck", "unit_slug": "cedar", "offer_id": outside_offer,
                "request_id": surrey.id,
                "meeting_id": one(panel_of.replace("IN :ids", f"IN ({_quoted(called)})"),
                                  panel="review-surrey"),
                "rule": "stale_availability_hours",
            },
        }  # fmt: skip


def _quoted(ids: list[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)


def routes(app: Flask) -> list[tuple[str, str, str, list[str]]]:
    """Every page route: (endpoint, rule, method, path parameters)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("pages.") or rule.endpoint in PUBLIC:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, rule.rule, method, sorted(rule.arguments)))
    return found


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the bookkeeping ones."""
    with engine.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(table.select())), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name not in BOOKKEEPING
        }


def path_of(rule: str, values: dict[str, str]) -> str:
    """A rule's path with its parameters filled in."""
    path = rule
    for name, value in values.items():
        path = path.replace(f"<{name}>", value)
    assert "<" not in path, f"no value for a parameter of {rule}"
    return path


@pytest.fixture
def people(signed_in: Callable[..., PageClient]) -> dict[str, tuple[str, PageClient]]:
    """Seven callers: (role, client) by name; '-in' is inside the world's scope."""
    return {
        "admin": ("admin", signed_in("admin", "walk.admin@example.org")),
        "provider-in": ("provider", signed_in("provider", "walk.in@example.org",
                                              provider_id="clare-lodge")),
        "provider-out": ("provider", signed_in("provider", "walk.out@example.org",
                                               provider_id="adel-beck")),
        "director-in": ("director", signed_in("director", "walk.dir.in@example.org",
                                              authority_id="southwark")),
        "director-out": ("director", signed_in("director", "walk.dir.out@example.org",
                                               authority_id="surrey")),
        "panel-in": ("panel", signed_in("panel", "chair.southwark@example.org",
                                        panel_id="review-southwark")),
        "panel-out": ("panel", signed_in("panel", "chair.surrey@example.org",
                                         panel_id="review-surrey")),
    }  # fmt: skip


def test_every_page_keeps_to_the_access_rule(
    app: Flask, seeded: Sessions, engine: Engine, people: dict[str, tuple[str, PageClient]]
) -> None:
    values = world(seeded)
    walked = routes(app)
    assert len(walked) >= 25, walked
    findings: list[str] = []
    for name, (role, client) in people.items():
        token = csrf_of(client.get("/", follow_redirects=True).get_data(as_text=True))
        scope = "outside" if name.endswith("-out") else "inside"
        for endpoint, rule, method, parameters in walked:
            owner = ROLE_OF_BLUEPRINT[endpoint.split(".")[1]]
            for where in ("inside", "outside") if parameters else ("inside",):
                path = path_of(rule, values[where])
                mine = role == owner and (where == scope or role == "admin" or not parameters)
                if method == "GET":
                    status = client.get(path).status_code
                    allowed = {200, 302, 409, 422} if mine else {403, 404}
                    if status not in allowed:
                        findings.append(f"{name} GET {path}: {status}")
                elif not mine:
                    before = snapshot(engine)
                    status = client.post(path, data={"csrf_token": token}).status_code
                    if status not in (403, 404) or snapshot(engine) != before:
                        findings.append(f"{name} POST {path}: {status} (changed: "
                                        f"{snapshot(engine) != before})")  # fmt: skip
    assert not findings, "\n".join(findings)


def test_signed_out_every_page_sends_to_sign_in(app: Flask, seeded: Sessions) -> None:
    values = world(seeded)
    client = app.test_client()
    for _endpoint, rule, method, _ in routes(app):
        path = path_of(rule, values["inside"])
        answer = client.get(path) if method == "GET" else client.post(path, data={})
        expected = (302,) if method == "GET" else (302, 400)  # 400: no CSRF token either
        assert answer.status_code in expected, f"{method} {path}: {answer.status_code}"
        if answer.status_code == 302:
            assert answer.headers["Location"] == "/sign-in"
