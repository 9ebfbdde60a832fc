"""ETags of units are their version; the database decides whether one is current."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request
from flask_smorest import abort

from placements.availability import ANY_VERSION, AnyVersion

# RFC 9110, 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list.
ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*')
ENTITY_TAGS = re.compile(rf"(?:{ENTITY_TAG.pattern},)*{ENTITY_TAG.pattern}")
VERSION = re.compile(r"[1-9][0-9]{0,17}")

IF_MATCH_DOC = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": (
        'The ETag from GET /units/{id} (`"3"`), a list of them, or `*` for any current version;'
        " a stale, weak or unquoted tag gets 412, none 428."
    ),
    "schema": {"type": "string"},
}
ETAG_HEADER_DOC = {"ETag": {"description": "The unit's version", "schema": {"type": "string"}}}


def etag_of(version: int) -> str:
    """The ETag header value of a version."""
    return f'"{version}"'


def expected_version() -> int | frozenset[int] | AnyVersion:
    """The versions If-Match accepts (`*`: any current one); 428 when the header is missing.

    RFC 9110, 13.1.1: `*` matches any current version; a list matches if one of its tags does,
    compared strongly, so a weak tag (`W/"3"`) names no version; a field that is not a list of
    quoted tags (`If-Match: 3`) names none either. Naming none gets 412 from the update.
    """
    if "If-Match" not in request.headers:
        abort(428, message="If-Match is required: send the ETag from GET /units/{id}")
    header = request.headers.get("If-Match", "")
    if header.strip() == "*":
        return ANY_VERSION
    tags = ENTITY_TAGS.fullmatch(header)
    if tags is None:
        return frozenset()
    return frozenset(
        int(opaque)
        for weak, opaque in ENTITY_TAG.findall(header)
        if not weak and VERSION.fullmatch(opaque)  # compared octet by octet: "03" is not "3"
    )


def with_etag(body: Any, version: int) -> Any:
    """The body with its ETag, or an empty 304 when If-None-Match already names this version."""
    etag = etag_of(version)
    if request.if_none_match.contains_weak(etag.strip('"')):  # weak comparison: RFC 9110 13.1.2
        return Response(status=304, headers={"ETag": etag})
    return body, 200, {"ETag": etag}
