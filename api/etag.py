"""ETags of units are their version; the database decides whether one is current."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import abort

IF_MATCH_DOC = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": "The ETag from GET /units/{id}; a stale one gets 412, none 428.",
    "schema": {"type": "string"},
}
ETAG_HEADER_DOC = {"ETag": {"description": "The unit's version", "schema": {"type": "string"}}}


def etag_of(version: int) -> str:
    """The ETag header value of a version."""
    return f'"{version}"'


def expected_version() -> int | None:
    """The version If-Match names (None if it names none); 428 when the header is missing.

    If-Match compares strongly (RFC 9110, 13.1.1): a weak tag (`W/"3"`) names no version.
    """
    header = request.headers.get("If-Match")
    if header is None:
        abort(428, message="If-Match is required: send the ETag from GET /units/{id}")
        return None
    value = header.strip().strip('"')
    return int(value) if value.isdigit() and len(value) < 18 else None


def with_etag(body: Any, version: int) -> Any:
    """The body with its ETag, or an empty 304 when If-None-Match already names this version."""
    etag = etag_of(version)
    if request.if_none_match.contains(etag.strip('"')):
        return Response(status=304, headers={"ETag": etag})
    return body, 200, {"ETag": etag}
