"""Fixtures of the HTTP tests: bearer headers for any role, and the usual callers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from placements.clock import FixedClock
from placements.db import Sessions
from tests.api.pages import PageClient, person_client

Headers = dict[str, str]


@pytest.fixture
def bearer(token: Callable[..., str]) -> Callable[..., Headers]:
    """Make Authorization headers: bearer('provider', provider_id='clare-lodge')."""

    def make(role: str, **scope: str) -> Headers:
        return {"Authorization": f"Bearer {token(role, **scope)}"}

    return make


@pytest.fixture
def southwark(bearer: Callable[..., Headers]) -> Headers:
    """A director of Southwark."""
    return bearer("director", authority_id="southwark")


@pytest.fixture
def clare(bearer: Callable[..., Headers]) -> Headers:
    """A member of staff at Clare Lodge (girls, welfare)."""
    return bearer("provider", provider_id="clare-lodge")


@pytest.fixture
def admin(bearer: Callable[..., Headers]) -> Headers:
    """The national coordinator."""
    return bearer("admin")


@pytest.fixture
def signed_in(app: Flask, seeded: Sessions, clock: FixedClock) -> Callable[..., PageClient]:
    """A signed-in person on the pages: signed_in('provider', provider_id='clare-lodge')."""

    def make(role: str, email: str | None = None, **scope: str) -> PageClient:
        address = email or f"{role}.{'-'.join(scope.values()) or 'all'}@example.org"
        return person_client(app, seeded, clock.now(), address, role, **scope)

    return make
