"""Identifiers: of requests, offers, placements and runs (a prefix and hex), and slugs.

Production draws identifiers at random. A reproducible run (a test, the simulation) sets a seeded
source for the current context with `using(SeededIds(seed))`, beside the clock it passes in; the app
does this per request from the source it was built with (docs/time.md). Secrets (tokens) never come
from here.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Protocol

from placements.errors import InvalidInput

# The identifier an admin chooses for a home, a unit, an authority or a panel.
SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
SLUG_RULE = "lowercase letters, digits and '-' (at most 63, not starting with '-')"


class IdSource(Protocol):
    """Where the random part of new identifiers comes from."""

    def hex(self, nbytes: int) -> str:
        """`2 * nbytes` lowercase hex digits."""


class RandomIds:
    """Unpredictable identifiers: what production uses."""

    def hex(self, nbytes: int) -> str:
        """Hex digits from the operating system's random source."""
        return secrets.token_hex(nbytes)


class SeededIds:
    """The same identifiers in the same order for one seed: reproducible single-process runs."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def hex(self, nbytes: int) -> str:
        """Hex digits from the seeded generator."""
        with self._lock:
            return self._random.randbytes(nbytes).hex()


_PRODUCTION = RandomIds()
_current: ContextVar[IdSource] = ContextVar("placements_id_source", default=_PRODUCTION)


def activate(source: IdSource) -> Token[IdSource]:
    """Draw identifiers from `source` in this context until `deactivate` is given the token."""
    return _current.set(source)


def deactivate(token: Token[IdSource]) -> None:
    """Go back to the source in use before `activate`."""
    _current.reset(token)


@contextmanager
def using(source: IdSource) -> Iterator[IdSource]:
    """Draw identifiers from `source` inside the block (in this thread or task only)."""
    token = activate(source)
    try:
        yield source
    finally:
        deactivate(token)


def new_id(prefix: str) -> str:
    """A fresh identifier such as `REQ-5F3A09C1`."""
    return f"{prefix}-{_current.get().hex(4).upper()}"


def new_hex(nbytes: int) -> str:
    """A fresh run of hex digits, for identifiers with a format of their own."""
    return _current.get().hex(nbytes)


def check_slug(value: str, field: str = "id") -> None:
    """Refuse a chosen identifier that is not a slug (InvalidInput naming `field`)."""
    if re.fullmatch(SLUG_PATTERN, value) is None:
        raise InvalidInput(f"{field} is not a valid identifier", errors={field: [SLUG_RULE]})
