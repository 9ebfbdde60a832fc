"""Property-based calls generated from the OpenAPI document: nothing a client sends gets a 5xx."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from placements.db import Sessions

ROLES = {
    "admin": {},
    "director": {"authority_id": "southwark"},
    "provider": {"provider_id": "clare-lodge"},
}


@pytest.fixture
def api_schema(app: Flask, seeded: Sessions) -> schemathesis.BaseSchema:
    """The service's OpenAPI document, over the app on a seeded database."""
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def role_headers(token: Callable[..., str]) -> dict[str, dict[str, str]]:
    """Authorization headers for an admin, a director and a provider."""
    return {r: {"Authorization": f"Bearer {token(r, **scope)}"} for r, scope in ROLES.items()}


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(
    case: schemathesis.Case, role_headers: dict[str, dict[str, str]]
) -> None:
    for role, headers in role_headers.items():
        response = case.call(headers=headers)
        assert response.status_code < 500, f"{role} {case.method} {case.path}: {response.text}"
