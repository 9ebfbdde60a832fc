"""Acceptance check 3: every operation of the OpenAPI document x every role x an object in and
out of the caller's scope. No leak; out of scope is the same 404 as a made-up id; a role that
may never call an operation gets 403 whatever it sends.

The operations come from the app's own /openapi.json, so a new endpoint is walked without
editing this file; a path parameter this file does not know fails the walk, so that a new kind
of object gets a row in PATH_VALUES.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from api.roles import operation_of
from placements import access, admissions, matching, offers, requests, reviews
from placements.auth import SYSTEM, Actor
from placements.availability import AvailabilityUpdate, update_availability
from placements.config import Settings
from placements.db import Sessions
from placements.seeding import seed
from placements.tokens import TokenRequest, create
from placements.units import get_unit
from tests.conftest import NOW, empty_tables

SETTINGS = Settings()
MADE_UP = "nope-walk"  # a slug, so that it passes every path pattern and names nothing


@dataclass(frozen=True)
class Side:
    """One side of the scenario: an authority, a home and a panel, and their objects."""

    authority_id: str
    provider_id: str
    unit_slug: str
    panel_id: str
    case_reference: str
    request_id: str = ""
    offer_id: str = ""
    placement_id: str = ""
    meeting_id: str = ""


@dataclass(frozen=True)
class Caller:
    """A token of the walk: its role, its side (None: admin, who sees both) and its label."""

    name: str
    role: str
    side: str | None
    token: str
    label: str


@dataclass(frozen=True)
class Scenario:
    """Two sides with an object of every kind each, one matching run, and the callers."""

    sides: dict[str, Side]
    run_id: str
    callers: list[Caller]


# Path parameters: which object each names, and whether it is in a caller's scope.
SCOPED = {"request_id", "offer_id", "placement_id", "meeting_id", "panel_id"}
PUBLIC = {"provider_id", "unit_slug", "authority_id"}  # every role reads homes and authorities
SHARED = {"run_id"}  # admin's alone: the same object on both sides


def path_value(name: str, side: Side, run_id: str) -> str:
    """The value of a path parameter for one side (fails on a parameter the walk does not know)."""
    if name in SHARED:
        return run_id
    if name not in SCOPED | PUBLIC:
        raise AssertionError(
            f"path parameter {name!r} is unknown to the access walk: add it to PATH_VALUES"
        )
    value: str = getattr(side, name)
    return value


# A body each body-taking operation on a scoped object accepts, so that the call reaches the
# scope check (sent to out-of-scope and made-up objects only: it must change nothing).
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/requests/{request_id}"): {},
    ("post", "/requests/{request_id}/orders"): {
        "kind": "interim_order",
        "granted_at": NOW.isoformat(),
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
    },
    ("post", "/requests/{request_id}/offers"): {"top": 1},
    ("post", "/requests/{request_id}/admission"): {"admitted_at": NOW.isoformat()},
    ("post", "/offers/{offer_id}/decline"): {"reason": "other"},
    ("post", "/offers/{offer_id}/release"): {"reason": "other"},
    ("post", "/placements/{placement_id}/discharge"): {
        "discharged_at": NOW.isoformat(),
        "destination": "home",
    },
    ("post", "/meetings/{meeting_id}/outcome"): {
        "held_at": NOW.isoformat(),
        "attendees": ["walk"],
        "recommendation": "continue",
    },
}
GARBAGE = {"__walk__": 1}  # an unknown field: refused (422) by every body, and by bodyless ones


def _side(sessions: Sessions, name: str, side: Side, panel_label: str) -> Side:
    """Give a side a request offered to, accepted and admitted in its unit, and a review."""
    director = Actor(f"walk-director-{name}", "director", authority_id=side.authority_id)
    home = Actor(f"walk-provider-{name}", "provider", provider_id=side.provider_id)
    unit_id = f"{side.provider_id}/{side.unit_slug}"
    unit = get_unit(sessions, SYSTEM, unit_id, settings=SETTINGS, now=NOW)
    update_availability(
        sessions, home, unit_id, AvailabilityUpdate(unit.approved_beds, 0),
        expected_version=unit.version, settings=SETTINGS, now=NOW,
    )  # fmt: skip
    facts = requests.RequestFacts(
        case_reference=side.case_reference, age=15, sex="F", legal_basis="welfare",
        grounds=("harm_to_self",),
    )  # fmt: skip
    made = requests.create(sessions, director, facts, now=NOW)
    offer = offers.create_offers(sessions, director, made.id, offers.OfferChoice((unit_id,)),
                                 settings=SETTINGS, now=NOW)[0]  # fmt: skip
    offers.accept(sessions, home, offer.id, settings=SETTINGS, now=NOW)
    placement = admissions.admit(sessions, SYSTEM, made.id, NOW, now=NOW)
    return Side(**{**side.__dict__, "request_id": made.id, "offer_id": offer.id,
                   "placement_id": placement.id})  # fmt: skip


@pytest.fixture(scope="module")
def scenario(engine: Engine) -> Iterator[Scenario]:
    """The seeded estate with two sides built once for the module (per database)."""
    empty_tables(engine)
    sessions = Sessions.for_engine(engine)
    seed(sessions, now=NOW)
    a = Side("southwark", "clare-lodge", "nene", "review-southwark", "WALK/A/1")
    b = Side("surrey", "aldine-house", "2", "review-surrey", "WALK/B/1")
    sides = {"a": _side(sessions, "a", a, "a"), "b": _side(sessions, "b", b, "b")}
    called = reviews.call_reviews(sessions, SETTINGS, now=NOW + timedelta(days=25)).called
    for name, side in sides.items():
        meetings = [m for m in called if _meeting_panel(sessions, m) == side.panel_id]
        assert len(meetings) == 1, (name, called)
        sides[name] = Side(**{**side.__dict__, "meeting_id": meetings[0]})
    run = matching.run_batch(sessions, SYSTEM, settings=SETTINGS, now=NOW)
    callers = [_caller(sessions, "admin", TokenRequest("admin", label="walk-admin"), None)]
    for name, side in sides.items():
        callers += [
            _caller(sessions, f"director-{name}",
                    TokenRequest("director", authority_id=side.authority_id,
                                 label=f"walk-director-{name}"), name),
            _caller(sessions, f"provider-{name}",
                    TokenRequest("provider", provider_id=side.provider_id,
                                 label=f"walk-provider-{name}"), name),
            _caller(sessions, f"panel-{name}",
                    TokenRequest("panel", panel_id=side.panel_id, label=f"walk-panel-{name}"),
                    name),
        ]  # fmt: skip
    yield Scenario(sides, run.id, callers)
    empty_tables(engine)


@pytest.fixture
def client(app: Flask, scenario: Scenario) -> FlaskClient:
    """A test client of the app over the module's scenario."""
    return app.test_client()


def _meeting_panel(sessions: Sessions, meeting_id: str) -> str:
    from placements.models import Meeting

    with sessions.read() as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None
        return meeting.panel_id


def _caller(sessions: Sessions, name: str, wanted: TokenRequest, side: str | None) -> Caller:
    made = create(sessions, SYSTEM, wanted, now=NOW)
    return Caller(name, wanted.role, side, made.token, wanted.label or name)


def private_strings(scenario: Scenario, caller: Caller) -> set[str]:
    """What the caller must never read: the other side's objects, case references for homes and
    panels, and who changed another home's counts."""
    if caller.role == "admin":
        return set()
    assert caller.side is not None
    other = scenario.sides["b" if caller.side == "a" else "a"]
    hidden = {other.request_id, other.offer_id, other.placement_id, other.meeting_id,
              other.case_reference}  # fmt: skip
    if caller.role in ("provider", "panel"):
        hidden |= {s.case_reference for s in scenario.sides.values()}
    hidden |= {f"walk-provider-{n}" for n in scenario.sides if caller.name != f"provider-{n}"}
    return hidden


@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document and the use case it names."""

    method: str
    path: str
    name: str
    parameters: tuple[str, ...]


def operations(app: Flask, client: FlaskClient) -> list[Operation]:
    """Every operation of the app's OpenAPI document but the public ones, with its use case."""
    document = client.get("/openapi.json").json
    assert document is not None
    adapter = app.url_map.bind("localhost")
    found = []
    for path, item in document["paths"].items():
        for method, spec in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if spec.get("security") == []:
                continue  # public: /healthz
            names = tuple(re.findall(r"{(\w+)}", path))
            concrete = re.sub(r"{\w+}", "x", path)
            endpoint, _ = adapter.match(concrete, method=method.upper())
            name = operation_of(app.view_functions[endpoint], method.upper())
            assert name is not None, f"{method} {path} names no operation"
            found.append(Operation(method, path, name, names))
    return found


def url(operation: Operation, values: dict[str, str]) -> str:
    """The operation's path with its parameters filled in."""
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], operation.path)


def call(client: FlaskClient, caller: Caller, method: str, target: str,
         body: Any = None, *, text: str | None = None) -> Any:  # fmt: skip
    """Send one request as the caller: a JSON body, a text body, or none."""
    headers = {"Authorization": f"Bearer {caller.token}"}
    if text is not None:
        return client.open(target, method=method.upper(), headers=headers, data=text,
                           content_type="text/plain")  # fmt: skip
    if body is None:
        return client.open(target, method=method.upper(), headers=headers)
    return client.open(target, method=method.upper(), headers=headers, json=body)


def shape(response: Any, ids: list[str]) -> tuple[int, str]:
    """A response's status and body with the named ids blanked, to compare two answers."""
    text = response.get_data(as_text=True)
    for value in ids:
        text = text.replace(value, "<id>")
    return response.status_code, text


def test_every_operation_every_role_in_and_out_of_scope(
    app: Flask, client: FlaskClient, scenario: Scenario
) -> None:
    walked = operations(app, client)
    assert len(walked) >= 40  # the whole document, not a part of it
    problems: list[str] = []
    counted = 0
    for operation in walked:
        for caller in scenario.callers:
            counted += walk(client, operation, caller, scenario, problems)
    assert not problems, f"{len(problems)} of {counted} calls broke the rule:\n" + "\n".join(
        problems[:40]
    )


def walk(client: FlaskClient, operation: Operation, caller: Caller, scenario: Scenario,
         problems: list[str]) -> int:  # fmt: skip
    """Call one operation as one caller on both sides and a made-up id; note what is wrong."""
    mine = scenario.sides[caller.side or "a"]
    theirs = scenario.sides["b" if caller.side == "a" else "a"]
    own = {n: path_value(n, mine, scenario.run_id) for n in operation.parameters}
    other = {n: path_value(n, theirs, scenario.run_id) for n in operation.parameters}
    made_up = {n: (scenario.run_id if n in SHARED else MADE_UP) for n in operation.parameters}
    label = f"{operation.method.upper()} {operation.path} as {caller.name}"
    reads = operation.method == "get"
    hidden = private_strings(scenario, caller)
    sent = 0

    def check(response: Any, what: str) -> None:
        text = response.get_data(as_text=True)
        if response.status_code >= 500:
            problems.append(f"{label} ({what}): {response.status_code}")
        if 200 <= response.status_code < 300:
            leaked = sorted(s for s in hidden if s and s in text)
            if leaked:
                problems.append(f"{label} ({what}): leaks {leaked}")

    if not access.allows(Actor("walk", caller.role), operation.name):
        target = url(operation, own)
        query = "?page=0&status=zzz&__walk__=1" if reads else ""
        tries = [(None, None), (GARBAGE, None), (None, "not json")]
        for body, text in tries if not reads else [(None, None)]:
            response = call(client, caller, operation.method, target + query, body, text=text)
            sent += 1
            if response.status_code != 403 or response.json.get("code") != 403:
                problems.append(f"{label} (role never allowed, body {body or text}): "
                                f"{response.status_code} not 403")  # fmt: skip
        return sent

    # In scope: a read answers 200 with the object; a change with a garbage body changes nothing.
    in_scope = call(client, caller, operation.method, url(operation, own),
                    None if reads else GARBAGE)  # fmt: skip
    sent += 1
    check(in_scope, "in scope")
    if reads and in_scope.status_code != 200:
        problems.append(f"{label} (in scope): {in_scope.status_code} {in_scope.json}")
    if not reads and in_scope.status_code in (403, 404):
        problems.append(f"{label} (in scope): {in_scope.status_code} {in_scope.json}")
    if not operation.parameters:
        return sent

    scoped = caller.role != "admin" and any(n in SCOPED for n in operation.parameters)
    bodies: list[Any] = [None] if reads else [GARBAGE]
    if not reads and scoped:
        bodies.append(VALID_BODIES.get((operation.method, operation.path)))
    for body in bodies:
        out = call(client, caller, operation.method, url(operation, other), body)
        sent += 1
        check(out, f"out of scope, body {body}")
        if not scoped:
            continue
        unknown = call(client, caller, operation.method, url(operation, made_up), body)
        sent += 1
        ids = sorted(set(other.values()) | set(made_up.values()), key=len, reverse=True)
        if shape(out, ids) != shape(unknown, ids):
            problems.append(f"{label} (out of scope, body {body}): {shape(out, ids)} differs "
                            f"from a made-up id's {shape(unknown, ids)}")  # fmt: skip
        elif body is not GARBAGE and out.status_code != 404:
            problems.append(f"{label} (out of scope, body {body}): {out.status_code} not 404")
    return sent


def test_the_walk_refuses_a_path_parameter_it_does_not_know() -> None:
    side = Side("a", "b", "c", "d", "e")
    with pytest.raises(AssertionError, match="unknown to the access walk"):
        path_value("child_id", side, "RUN-1")
    assert json.dumps(path_value("provider_id", side, "RUN-1")) == '"b"'
