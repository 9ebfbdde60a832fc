"""The pages' sessions, kept on the server: the cookie holds only a random key (docs/pages.md)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, g
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from api.context import now, service
from placements import people

COOKIE = "placements_session"
# The first path segments served by the pages; every other path is the API, which has no session.
PAGE_SEGMENTS = frozenset(
    {"", "sign-in", "sign-out", "home", "director", "panel", "coordinator", "assets", "static"}
)


def is_page_path(path: str) -> bool:
    """Whether a request path belongs to the pages (not the API)."""
    return path.lstrip("/").split("/", 1)[0] in PAGE_SEGMENTS


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """A browser's session data, and who is signed in with it."""

    def __init__(self, data: dict[str, Any], key: str | None,
                 signed_in: people.SignedIn | None) -> None:  # fmt: skip
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(data, changed)
        self.key = key
        self.signed_in = signed_in
        self.modified = False


class ServerSessionInterface(SessionInterface):
    """Loads the session behind the cookie (pages only) and keeps its data in the database."""

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """The live session named by the cookie, or an empty one."""
        key = request.cookies.get(COOKIE)
        if not key or len(key) > 100 or not is_page_path(request.path):
            return ServerSession({}, None, None)
        # A region polling for fresh figures (htmx) is not the person being active.
        polled = request.headers.get("HX-Request") == "true" and request.method == "GET"
        loaded = people.load_session(service().sessions, key, now=now(), active=not polled)
        if loaded is None:
            g.forget_cookie = True
            return ServerSession({}, None, None)
        return ServerSession(loaded.data, key, loaded.signed_in)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Keep changed data; set the cookie for a new session, clear it for an ended one."""
        assert isinstance(session, ServerSession)
        secure = service().settings.public_url.startswith("https://")
        fresh = g.pop("new_session_key", None)
        if fresh is not None:  # signed in just now: the new session replaces the visitor's
            if session.modified:
                people.save_session_data(service().sessions, fresh, dict(session), now=now())
            self._set(response, fresh, secure)
            return
        if g.pop("signed_out", False):
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax", secure=secure)
            return
        if g.pop("forget_cookie", False) and not session.modified:
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax", secure=secure)
            return
        if not session.modified:
            return
        key = people.save_session_data(service().sessions, session.key, dict(session), now=now())
        if key != session.key:
            self._set(response, key, secure)

    @staticmethod
    def _set(response: Response, key: str, secure: bool) -> None:
        response.set_cookie(COOKIE, key, path="/", httponly=True, samesite="Lax", secure=secure)
        response.vary.add("Cookie")


def signed_in() -> people.SignedIn | None:
    """Who is signed in with this request's session, if anyone."""
    from flask import session

    found = getattr(session, "signed_in", None)
    return found if isinstance(found, people.SignedIn) else None
