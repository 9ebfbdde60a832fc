"""Identifiers of requests, offers, placements and runs: a prefix and random hex."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """A fresh identifier such as `REQ-5F3A09C1`."""
    return f"{prefix}-{secrets.token_hex(4).upper()}"
