"""HTTP entry point: the app factory wiring settings, the database, blueprints and errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import flask_smorest
from flask import Flask, current_app, g, request

from api import (
    admissions,
    audit,
    authorities,
    health,
    matching,
    meetings,
    notifications,
    offers,
    panels,
    providers,
    reports,
    requests,
    thresholds,
    units,
)
from api.body import NUL, body_refusal, refusal, takes_json_body, unstorable_path_argument
from api.context import Service, actor, service
from api.errors import PlacementsApi, service_error
from api.pages import init_pages, is_page_request
from api.pages.errors import service_error_page
from api.request_log import configure_logging, init_request_log
from api.roles import init_roles, is_public
from placements import ids
from placements.clock import Clock, clock_from_spec
from placements.config import Settings
from placements.db import Sessions, make_engine
from placements.errors import PlacementsError
from placements.ids import IdSource, RandomIds, SeededIds

BLUEPRINTS = (
    health.blp,
    providers.blp,
    units.blp,
    units.summary_blp,
    authorities.blp,
    audit.blp,
    requests.blp,
    offers.blp,
    admissions.blp,
    matching.blp,
    reports.blp,
    panels.blp,
    meetings.blp,
    thresholds.blp,
    notifications.blp,
)


def error_for(error: PlacementsError) -> Any:
    """A service error as the API's JSON, or as a page for the pages."""
    return service_error_page(error) if is_page_request() else service_error(error)


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    id_source: IdSource | None = None,
) -> Flask:
    """Build the API for the settings in `config` over the environment.

    The app reads the time from `clock` (default: the one `PLACEMENTS_CLOCK` names, the system
    clock unless set) and draws identifiers from `id_source` (default: random, or seeded by
    `PLACEMENTS_ID_SEED`); see docs/time.md.
    """
    configure_logging()
    app = Flask(__name__, static_folder=None)  # the pages serve their own (api/pages/static)
    values = {**os.environ, **(config or {})}
    settings = Settings.from_mapping({k: str(v) for k, v in values.items()})
    app.config.update(
        API_TITLE="Secure accommodation placements",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=64 * 1024,
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    app.extensions["placements"] = Service(
        settings,
        Sessions.for_engine(
            make_engine(settings.database_url, busy_timeout_s=settings.sqlite_busy_timeout_s)
        ),
        clock or clock_from_spec(settings.clock),
        id_source or (RandomIds() if settings.id_seed is None else SeededIds(settings.id_seed)),
    )
    api = PlacementsApi(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_error_handler(PlacementsError, error_for)
    init_request_log(app)
    init_pages(app)  # the pages: HTML, sessions and CSRF instead of JSON and tokens

    @app.before_request
    def draw_ids_from_the_service() -> None:
        g.id_token = ids.activate(service().ids)

    @app.teardown_request
    def stop_drawing_ids(_: BaseException | None) -> None:
        token = g.pop("id_token", None)
        if token is not None:
            ids.deactivate(token)

    @app.before_request
    def authenticate() -> None:
        endpoint = request.endpoint or ""
        if endpoint and not is_public(endpoint):
            actor()

    init_roles(app)  # the caller's role, before any body or query is read (403)

    @app.before_request
    def refuse_what_the_operation_cannot_take() -> None:
        if request.routing_exception is not None or request.method == "OPTIONS":
            return  # no such operation (404 or 405 says so), or Flask's own OPTIONS
        if is_page_request():
            return  # forms, checked by the pages themselves
        # A path id no record can have is unknown (404), on every database alike.
        name = unstorable_path_argument(request.view_args or {})
        if name is not None:
            flask_smorest.abort(404, message=f"not found: {name} holds a NUL or a lone surrogate")
        view = current_app.view_functions.get(request.endpoint or "")
        wrong = body_refusal(
            request.get_data(),
            media_type=request.mimetype,
            takes_json=takes_json_body(view, request.method),
        )
        if wrong is not None:
            headers = {"Accept": "application/json"} if wrong.status == 415 else {}
            flask_smorest.abort(
                wrong.status, message=wrong.message, errors=wrong.errors, headers=headers
            )

    @app.before_request
    def refuse_text_that_cannot_be_stored() -> None:
        if is_page_request():
            return  # the pages refuse it with a page of their own
        found = refusal(request.get_data(), request.query_string)
        if found is not None:
            where, what = found
            message = (
                "Text may not contain the NUL character (\\u0000)."
                if what == NUL
                else f"The request cannot be read: {what}."
            )
            flask_smorest.abort(422, message=message, errors={where: {"_schema": [what]}})

    return app
