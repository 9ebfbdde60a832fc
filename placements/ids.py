"""Identifiers: of requests, offers, placements and runs (a prefix and random hex), and slugs."""

from __future__ import annotations

import re
import secrets

from placements.errors import InvalidInput

# The identifier an admin chooses for a home, a unit, an authority or a panel.
SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
SLUG_RULE = "lowercase letters, digits and '-' (at most 63, not starting with '-')"


def new_id(prefix: str) -> str:
    """A fresh identifier such as `REQ-5F3A09C1`."""
    return f"{prefix}-{secrets.token_hex(4).upper()}"


def check_slug(value: str, field: str = "id") -> None:
    """Refuse a chosen identifier that is not a slug (InvalidInput naming `field`)."""
    if re.fullmatch(SLUG_PATTERN, value) is None:
        raise InvalidInput(f"{field} is not a valid identifier", errors={field: [SLUG_RULE]})
