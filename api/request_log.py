"""Structured logging: one JSON line per request, with a request id, via structlog."""

from __future__ import annotations

import logging
import sys
import time
import uuid

import structlog
from flask import Flask, Response, g, request


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


def init_request_log(app: Flask) -> None:
    """Log each request once, with a request id echoed in `X-Request-ID`."""
    log = structlog.get_logger("placements.request")

    @app.before_request
    def start() -> None:
        g.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        actor = g.get("actor")
        log.info(
            "request",
            request_id=g.get("request_id"),
            method=request.method,
            path=request.path,
            status=response.status_code,
            ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            actor=actor.label if actor else None,
        )
        return response
