"""API tokens: issue one (shown once, stored as a SHA-256), revoke one, and the demo set."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from placements import audit
from placements.auth import ROLES, Actor, hash_token, new_token
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, NotFound
from placements.models import ApiToken, LocalAuthority, Panel, Provider


@dataclass(frozen=True)
class TokenRequest:
    """What a new token may do: a role and, for all but admin, its scope."""

    role: str
    authority_id: str | None = None
    provider_id: str | None = None
    panel_id: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued; `token` is never shown again."""

    label: str
    role: str
    scope: str | None
    token: str


SCOPE_OF_ROLE = {"admin": None, "director": "authority_id", "provider": "provider_id",
                 "panel": "panel_id"}  # fmt: skip

DEMO = (
    TokenRequest("admin", label="demo-admin"),
    TokenRequest("director", authority_id="southwark", label="demo-director-southwark"),
    TokenRequest("director", authority_id="surrey", label="demo-director-surrey"),
    TokenRequest("provider", provider_id="clare-lodge", label="demo-provider-clare-lodge"),
    TokenRequest("provider", provider_id="adel-beck", label="demo-provider-adel-beck"),
)


def _check_scope(session: Session, request: TokenRequest) -> str | None:
    if request.role not in ROLES:
        raise InvalidInput("unknown role", errors={"role": [f"must be one of {', '.join(ROLES)}"]})
    wanted = SCOPE_OF_ROLE[request.role]
    given = {k: getattr(request, k) for k in ("authority_id", "provider_id", "panel_id")}
    errors: dict[str, list[str]] = {}
    for key, value in given.items():
        if key == wanted and not value:
            errors[key] = [f"required for role {request.role}"]
        elif key != wanted and value:
            errors[key] = [f"not allowed for role {request.role}"]
    if errors:
        raise InvalidInput(f"wrong scope for role {request.role}", errors=errors)
    if wanted == "authority_id" and session.get(LocalAuthority, request.authority_id) is None:
        raise NotFound(f"local authority {request.authority_id!r} does not exist")
    if wanted == "provider_id" and session.get(Provider, request.provider_id) is None:
        raise NotFound(f"provider {request.provider_id!r} does not exist")
    if wanted == "panel_id" and session.get(Panel, request.panel_id) is None:
        raise NotFound(f"panel {request.panel_id!r} does not exist")
    return given[wanted] if wanted else None


def _issue(session: Session, actor: Actor, request: TokenRequest, now: datetime) -> IssuedToken:
    scope = _check_scope(session, request)
    label = request.label or f"{request.role}-{scope or 'all'}-{secrets.token_hex(3)}"
    token = new_token()
    row = session.scalars(select(ApiToken).where(ApiToken.label == label)).one_or_none()
    if row is not None:
        raise Conflict(f"a token labelled {label!r} already exists")
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            role=request.role,
            authority_id=request.authority_id,
            provider_id=request.provider_id,
            panel_id=request.panel_id,
            label=label,
            created_at=now,
        )
    )
    after = {"role": request.role, "scope": scope}
    audit.record(session, actor, "token.create", "api_token", label, at=now, after=after)
    return IssuedToken(label, request.role, scope, token)


def create(
    sessions: Sessions, actor: Actor, request: TokenRequest, *, now: datetime
) -> IssuedToken:
    """Issue a token for a role and scope (admin only)."""
    actor.require("admin")
    with sessions.begin() as session:
        return _issue(session, actor, request, now)


def revoke(sessions: Sessions, actor: Actor, label: str, *, now: datetime) -> bool:
    """Revoke the token with this label; False when it was already revoked."""
    actor.require("admin")
    with sessions.begin() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.label == label)).one_or_none()
        if row is None:
            raise NotFound(f"no token labelled {label!r}")
        if row.revoked_at is not None:
            return False
        row.revoked_at = now
        audit.record(session, actor, "token.revoke", "api_token", label, at=now)
        return True


def issue_demo(sessions: Sessions, actor: Actor, *, now: datetime) -> list[IssuedToken]:
    """Issue a fresh token for each demo role, replacing earlier demo tokens of the same label."""
    actor.require("admin")
    issued = []
    with sessions.begin() as session:
        for request in DEMO:
            old = session.scalars(
                select(ApiToken).where(ApiToken.label == request.label)
            ).one_or_none()
            if old is not None:
                session.delete(old)
                session.flush()
            issued.append(_issue(session, actor, request, now))
    return issued
