"""Who may open a page: a signed-in person of the page's role (the use cases check the rest)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, redirect, request, url_for

from api.pages.session import signed_in
from placements import people
from placements.auth import Actor
from placements.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])
HOME_OF_ROLE = {
    "provider": "pages.home.dashboard",
    "director": "pages.director.dashboard",
    "panel": "pages.panel.dashboard",
    "admin": "pages.coordinator.dashboard",
}


def for_roles(*roles: str) -> Callable[[F], F]:
    """Open a page to signed-in people of these roles: others get 403, nobody a sign-in page."""

    def guarded(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            person = signed_in()
            if person is None:
                g.pop("actor", None)
                if request.headers.get("HX-Request") == "true":
                    # A polled region: the whole page goes to sign-in, not just the region.
                    return Response(status=401, headers={"HX-Redirect": url_for(
                        "pages.start.sign_in")})  # fmt: skip
                return redirect(url_for("pages.start.sign_in"))
            if person.actor.role not in roles:
                raise Forbidden(
                    f"This page is for {' or '.join(ROLE_WORDS[r] for r in roles)}; you are "
                    f"signed in as {ROLE_WORDS[person.actor.role]}."
                )
            g.actor = person.actor  # the request log names who asked
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return guarded


ROLE_WORDS = {
    "provider": "a home's staff",
    "director": "a placing authority's staff",
    "panel": "a panel member",
    "admin": "the national coordinator",
}


def me() -> people.SignedIn:
    """The signed-in person of this request (only in a view guarded by `for_roles`)."""
    person = signed_in()
    assert person is not None, "me() outside a for_roles page"
    return person


def actor() -> Actor:
    """The actor the use cases see for the signed-in person."""
    return me().actor
