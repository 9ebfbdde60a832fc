"""Structured logging: one JSON line per request, with a request id, via structlog.

A request answered with a 5xx is logged at level error with the request id and the traceback of
what failed (`exception`, as text); any other line logged while serving it (Flask's own report of
an unhandled exception, say) carries the request id too.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid

import structlog
from flask import Flask, Response, g, got_request_exception, request


def configure_logging(level: int = logging.INFO) -> None:
    """Send structlog and the standard library's loggers to stderr as JSON lines."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # An error's traceback as text in the JSON line (not the repr of a traceback object).
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared, processor=structlog.processors.JSONRenderer()
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def note_failure(error: BaseException) -> None:
    """Keep the error behind this request's 5xx answer, for its log line's traceback."""
    g.failure = error


def _note_unhandled(_sender: Flask, exception: BaseException, **_: object) -> None:
    note_failure(exception)


def init_request_log(app: Flask) -> None:
    """Log each request once, with a request id echoed in `X-Request-ID`."""
    log = structlog.get_logger("placements.request")
    got_request_exception.connect(_note_unhandled, app)

    @app.before_request
    def start() -> None:
        g.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        g.started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        actor = g.get("actor")
        failure = g.pop("failure", None) if response.status_code >= 500 else None
        (log.error if response.status_code >= 500 else log.info)(
            "request",
            request_id=g.get("request_id"),
            method=request.method,
            path=request.path,
            status=response.status_code,
            ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            actor=actor.label if actor else None,
            exc_info=failure,
        )
        return response

    @app.teardown_request
    def forget(_: BaseException | None) -> None:
        structlog.contextvars.unbind_contextvars("request_id")
