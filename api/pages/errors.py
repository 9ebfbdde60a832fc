"""Errors of the pages as HTML pages (the API's stay JSON), with the same statuses."""

from __future__ import annotations

from flask import Response, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from api.errors import STATUS_OF
from placements import errors

TITLES = {
    400: "There is a problem with the page you sent",
    401: "Sign in to continue",
    403: "You cannot do this",
    404: "Page not found",
    405: "Page not found",
    409: "This has changed since you loaded it",
    412: "This has changed since you loaded it",
    413: "What you sent is too large",
    422: "There is a problem",
    429: "Too many attempts",
    503: "Sorry, the service is busy",
}


def page(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    """An error page with a GOV.UK heading and the message."""
    title = TITLES.get(status, "Sorry, there is a problem with the service")
    response = make_response(
        render_template("pages/error.html", title=title, message=message, status=status), status
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def service_error_page(error: errors.PlacementsError) -> Response:
    """A service error (not found, forbidden, conflict...) as a page with its status."""
    status = next(s for cls, s in STATUS_OF.items() if isinstance(error, cls))
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, errors.Busy) else {}
    return page(status, error.message, headers=headers)


def http_error_page(error: HTTPException) -> Response:
    """Werkzeug's errors (unknown page, method not allowed, too large) as pages."""
    status = error.code or 500
    messages = {
        404: "If you typed the web address, check it is correct.",
        405: "If you typed the web address, check it is correct.",
        413: "The form is larger than the service accepts.",
    }
    return page(status, messages.get(status, error.description or ""))


def csrf_refused(error: CSRFError) -> Response:
    """A form without its CSRF token, or with another session's, is refused (400)."""
    return page(
        400,
        "The form was not sent from this service, or your session ended before you sent it. "
        "Go back, reload the page and try again.",
    )


def refuse_unstorable_text() -> None:
    """Refuse a form, query or address with NUL in it (no database can keep that)."""
    body, query = request.get_data(), request.query_string
    if "\x00" in request.path or any(b"%00" in part or b"\x00" in part for part in (body, query)):
        raise errors.InvalidInput("What you sent cannot be stored: it contains the NUL character.")
