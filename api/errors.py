"""Every error as one JSON body (code, status, message, errors), mapped from the service once."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Api
from flask_smorest.error_handler import ErrorSchema
from flask_smorest.pagination import PaginationMetadataSchema
from marshmallow import fields
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from api import openapi
from api.request_log import note_failure
from placements import errors

STATUS_OF: dict[type[errors.PlacementsError], int] = {
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.InvalidInput: 422,
    errors.Busy: 503,
}

KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "Accept")


def _describe(errors_by_place: Any, prefix: str = "") -> list[str]:
    """Flatten nested validation errors into 'place.field: message' lines."""
    if isinstance(errors_by_place, dict):
        lines = []
        for key, value in errors_by_place.items():
            lines += _describe(value, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(errors_by_place, list) and all(isinstance(m, str) for m in errors_by_place):
        return [f"{prefix}: {' '.join(errors_by_place)}"]
    return [f"{prefix}: {errors_by_place}"]


class PlacementsErrorSchema(ErrorSchema):  # type: ignore[misc]
    """An error: status code and name, a message, field errors, and the service's error kind."""

    error = fields.String(metadata={"description": "The service's error kind, e.g. NoBedLeft"})


class PlacementsApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, keeping response headers and always giving a message, with an
    OpenAPI document that declares every status the service can answer (api/openapi.py)."""

    ERROR_SCHEMA = PlacementsErrorSchema

    def _init_spec(self, **options: Any) -> None:
        options["extra_plugins"] = [*options.get("extra_plugins", ()), openapi.ContractPlugin()]
        super()._init_spec(**options)
        openapi.extend(self.spec, self.ma_plugin.converter)

    def _register_pagination_header(self) -> None:
        header = openapi.pagination_header(PaginationMetadataSchema)
        self.spec.components.header("PAGINATION", header, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Render an HTTP error as JSON, keeping Allow and WWW-Authenticate headers (a page's
        error as a page)."""
        from api.pages.errors import http_error_page
        from api.pages.session import is_page_path

        if is_page_path(request.path):
            return http_error_page(error)
        payload, status, headers = super().handle_http_exception(error)
        if status == 413:
            payload["message"] = "the request body is larger than the 64 KiB limit"
        elif "message" not in payload:
            if "errors" in payload:
                payload["message"] = "invalid input: " + "; ".join(_describe(payload["errors"]))
            else:
                payload["message"] = error.description or error.name
        kept = {k: v for k, v in error.get_headers() if k in KEPT_HEADERS}
        return payload, status, {**kept, **dict(headers or {})}


def service_error(error: errors.PlacementsError) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Render a service error with its status, message and field errors."""
    status = next(s for cls, s in STATUS_OF.items() if isinstance(error, cls))
    payload: dict[str, Any] = {
        "code": status,
        "status": HTTP_STATUS_CODES[status],
        "message": error.message,
        "error": type(error).__name__,
    }
    if error.errors:
        payload["errors"] = error.errors
        payload["message"] += ": " + "; ".join(_describe(error.errors))
    headers = {"WWW-Authenticate": 'Bearer realm="placements"'} if status == 401 else {}
    if isinstance(error, errors.Busy):
        headers["Retry-After"] = str(error.retry_after_s)
    if status >= 500:
        note_failure(error)  # its traceback goes in the request's log line
    return payload, status, headers
