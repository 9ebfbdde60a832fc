"""What a view needs from the app: the service's sessions and settings, the caller, the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, request

from placements.auth import Actor, authenticate
from placements.clock import Clock
from placements.config import Settings
from placements.db import Sessions
from placements.ids import IdSource


@dataclass(frozen=True)
class Service:
    """The service's wiring for one app: settings, the database, the clock and the id source."""

    settings: Settings
    sessions: Sessions
    clock: Clock
    ids: IdSource


def service() -> Service:
    """The current app's service."""
    found: Service = current_app.extensions["placements"]
    return found


def sessions() -> Sessions:
    """The current app's database sessions."""
    return service().sessions


def settings() -> Settings:
    """The current app's settings."""
    return service().settings


def now() -> datetime:
    """The time of this request by the service's clock, in UTC."""
    return service().clock.now()


def bearer_token() -> str | None:
    """The bearer token of this request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def actor() -> Actor:
    """The authenticated caller of this request (401 when there is none)."""
    if "actor" not in g:
        g.actor = authenticate(sessions(), bearer_token())
    found: Actor = g.actor
    return found
