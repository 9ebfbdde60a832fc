"""Who is calling: bearer tokens, roles and scopes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from placements.db import Sessions
from placements.errors import Forbidden, Unauthorized
from placements.models import ApiToken

ROLES = ("admin", "director", "provider", "panel")


@dataclass(frozen=True)
class Actor:
    """An authenticated caller: a token's label, role and scope."""

    label: str
    role: str
    authority_id: str | None = None
    provider_id: str | None = None
    panel_id: str | None = None

    def require(self, *roles: str) -> None:
        """Fail with Forbidden unless the actor has one of the roles."""
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this; needs {' or '.join(roles)}")

    def require_provider(self, provider_id: str) -> None:
        """Fail unless the actor is an admin or the provider's own staff."""
        if self.role == "admin":
            return
        self.require("provider")
        if self.provider_id != provider_id:
            raise Forbidden(
                f"this token belongs to provider {self.provider_id!r}, not {provider_id!r}"
            )


SYSTEM = Actor(label="system", role="admin")
# Run on every request: built once, columns only (no ORM object to make).
TOKEN_LOOKUP = select(
    ApiToken.label,
    ApiToken.role,
    ApiToken.authority_id,
    ApiToken.provider_id,
    ApiToken.panel_id,
    ApiToken.revoked_at,
).where(ApiToken.token_hash == bindparam("token_hash"))


def hash_token(token: str) -> str:
    """The SHA-256 of a token, which is all the database keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token."""
    return "plc_" + secrets.token_urlsafe(32)


def authenticate(sessions: Sessions, token: str | None) -> Actor:
    """Find the actor behind a bearer token, or fail with Unauthorized."""
    if not token:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    with sessions.read_rows() as connection:
        row = connection.execute(TOKEN_LOOKUP, {"token_hash": hash_token(token)}).first()
    if row is None:
        raise Unauthorized("the bearer token is not known")
    if row.revoked_at is not None:
        raise Unauthorized("the bearer token has been revoked")
    return Actor(row.label, row.role, row.authority_id, row.provider_id, row.panel_id)
