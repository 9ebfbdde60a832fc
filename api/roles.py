"""The role check of every operation, made before its body or query is read.

Each view method names the operation it performs (`@operation("requests.create")`); the roles
allowed come from `placements.access.OPERATIONS`. A before-request hook asks before any schema
parses anything, so a role that may never call an operation gets 403 whatever it sends; an app
with an authenticated operation that names none does not start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request

from api.context import actor
from placements import access

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "_placements_operation"
PUBLIC_ENDPOINTS = frozenset({"health.Health", "static"})


def operation(name: str) -> Callable[[F], F]:
    """Name the operation a view method performs (a key of `placements.access.OPERATIONS`)."""
    if name not in access.OPERATIONS:
        raise KeyError(f"{name!r} is not an operation of placements.access.OPERATIONS")

    def named(view: F) -> F:
        setattr(view, ATTRIBUTE, name)
        return view

    return named


def is_public(endpoint: str) -> bool:
    """Whether an endpoint is served without a token (health, the OpenAPI document, docs, and
    the pages, which have sessions of their own)."""
    return (
        endpoint in PUBLIC_ENDPOINTS
        or endpoint.startswith("api-docs.")
        or endpoint.startswith("pages.")
    )


def operation_of(view: Any, method: str) -> str | None:
    """The operation a view function performs for an HTTP method, if it names one."""
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(view_class, "get", None)
    found: str | None = getattr(handler, ATTRIBUTE, None)
    return found


def check_role() -> None:
    """Refuse (403) a caller whose role may never perform the requested operation."""
    endpoint = request.endpoint or ""
    if request.routing_exception is not None or not endpoint or is_public(endpoint):
        return
    if request.method == "OPTIONS":
        return  # Flask's own answer (Allow), which reads nothing and runs no operation
    name = operation_of(current_app.view_functions.get(endpoint), request.method)
    if name is None:
        raise LookupError(f"{endpoint} {request.method} names no operation (api/roles.py)")
    access.require(actor(), name)


def undeclared(app: Flask) -> list[str]:
    """Every authenticated endpoint and method that names no operation."""
    missing = []
    for rule in app.url_map.iter_rules():
        if is_public(rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if operation_of(view, method) is None:
                missing.append(f"{method} {rule.rule}")
    return missing


def init_roles(app: Flask) -> None:
    """Check every operation's role before anything else reads the request; refuse to start if
    an operation names no roles."""
    missing = undeclared(app)
    if missing:
        raise RuntimeError(f"operations without roles in placements.access: {missing}")
    app.before_request(check_role)
