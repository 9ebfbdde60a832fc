"""The service's one exception tree; the API maps each class to an HTTP status once."""

from __future__ import annotations

from typing import Any


class PlacementsError(Exception):
    """Base of every error a client can cause."""

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class Unauthorized(PlacementsError):
    """No token, or one that is unknown or revoked."""


class Forbidden(PlacementsError):
    """The actor's role or scope does not allow this."""


class NotFound(PlacementsError):
    """The object does not exist, or is not visible to the actor."""


class InvalidInput(PlacementsError):
    """Well-formed input that breaks a business rule; `errors` names each field."""


class Conflict(PlacementsError):
    """The request clashes with the current state (a duplicate, say)."""


class InvalidTransition(Conflict):
    """The object's status does not allow this step."""


class NoBedLeft(Conflict):
    """The unit has no free bed left to reserve."""


class PreconditionFailed(PlacementsError):
    """The client's version (If-Match) is not the current one."""


class Busy(PlacementsError):
    """The database could not be had in time (SQLite's write lock); the client may retry soon."""

    retry_after_s = 1
