"""Fixtures of the HTTP tests: bearer headers for any role."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Headers = dict[str, str]


@pytest.fixture
def bearer(token: Callable[..., str]) -> Callable[..., Headers]:
    """Make Authorization headers: bearer('provider', provider_id='clare-lodge')."""

    def make(role: str, **scope: str) -> Headers:
        return {"Authorization": f"Bearer {token(role, **scope)}"}

    return make
