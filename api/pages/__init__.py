"""The pages: GOV.UK-style, server-rendered, for homes, directors, panels and the coordinator.

Same use cases, same access rule and same audit as the API; sessions (not bearer tokens) say who
is signed in, errors are HTML pages, and every form carries a CSRF token (docs/pages.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, request, url_for
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

from api.context import now, service
from api.pages import errors, filters
from api.pages.guard import ROLE_WORDS
from api.pages.session import ServerSessionInterface, is_page_path, signed_in
from placements import people

log = logging.getLogger("placements.pages")
HERE = Path(__file__).parent
VENDOR = HERE / "static" / "vendor"
# The one inline script of GOV.UK Frontend's page template (it marks the body js-enabled),
# allowed by its hash: no other inline script runs.
GOVUK_INLINE_SCRIPT = "'sha256-GUQ5ad8JK5KmEWmROf3LZd9ge94daqNvd8xy9YS1iDw='"
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": ["'self'", GOVUK_INLINE_SCRIPT],
    "style-src": "'self'",
    "img-src": ["'self'", "data:"],
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Swagger UI (/docs) loads its script and styles from a CDN and runs an inline script.
DOCS_POLICY = (
    "default-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: https:"
)

csrf = CSRFProtect()


def init_pages(app: Flask) -> None:
    """Serve the pages beside the API: templates, assets, sessions, CSRF and security headers."""
    from api.pages import coordinator, director, home, panel, start

    app.jinja_loader = ChoiceLoader([
        PackageLoader("api.pages"),
        PrefixLoader({
            "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
            "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
        }),
    ])  # fmt: skip
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    filters.register(app.jinja_env)
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # the pages check it; the API has no cookies to protect
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        WTF_CSRF_SSL_STRICT=True,
    )
    app.session_interface = ServerSessionInterface()
    if not VENDOR.joinpath("govuk-frontend.min.css").exists():
        log.warning("GOV.UK Frontend assets are missing from %s: run `make install`", VENDOR)

    @app.after_request
    def let_the_api_docs_load(response):  # type: ignore[no-untyped-def]
        # Registered before Talisman, so it runs after it (Flask runs these in reverse).
        if (request.endpoint or "").startswith("api-docs."):
            response.headers["Content-Security-Policy"] = DOCS_POLICY
        return response

    secure = app.extensions["placements"].settings.public_url.startswith("https://")
    Talisman(
        app,
        force_https=False,  # TLS ends at the proxy in front; the cookie is Secure over HTTPS
        strict_transport_security=secure,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        session_cookie_secure=secure,
        referrer_policy="same-origin",
    )
    csrf.init_app(app)
    # One parent per app (a blueprint takes no more children once registered): `pages.<role>.*`.
    pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static")  # fmt: skip
    for module in (start, home, director, panel, coordinator):
        pages.register_blueprint(module.blp)
    app.register_blueprint(pages)

    @app.before_request
    def prepare_page() -> None:
        if not is_page_path(request.path) or request.blueprint is None:
            return
        if not current_app.secret_key:
            current_app.secret_key = service().settings.secret_key or people.service_secret(
                service().sessions, "csrf", now=now()
            )
        g.page = True
        errors.refuse_unstorable_text()
        csrf.protect()

    app.register_error_handler(CSRFError, errors.csrf_refused)

    @app.context_processor
    def page_helpers() -> dict[str, Any]:
        return {
            "signed_in_person": signed_in,
            "navigation_for": navigation_for,
            "role_words": lambda role: ROLE_WORDS[role],
            "error_list": error_list,
        }


def navigation_for(person: people.SignedIn | None) -> list[dict[str, Any]]:
    """The service navigation of the signed-in person's role (each role module lists its own)."""
    from api.pages import coordinator, director, home, panel

    if person is None:
        return []
    module = {"provider": home, "director": director, "panel": panel,
              "admin": coordinator}[person.actor.role]  # fmt: skip
    endpoint = request.endpoint or ""
    return [
        {"href": url_for(target), "text": text, "active": endpoint == target}
        for text, target in module.NAVIGATION
    ]


def error_list(form: Any) -> list[dict[str, str]]:
    """A form's errors for the GOV.UK error summary, each linked to its field."""
    found = []
    for name, messages in form.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            found.append({"text": str(message), "href": f"#{name}"})
    return found


def is_page_request() -> bool:
    """Whether this request is for a page (its errors are HTML)."""
    return bool(g.get("page")) or (request.blueprint or "").startswith("pages")
