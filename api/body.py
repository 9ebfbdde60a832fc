"""Checks of raw request input that no schema can make: the media type, JSON syntax, a body where
none is taken, and text the database cannot store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

NUL = "NUL character (\\u0000) in the request"
TOO_DEEP = "JSON nested too deeply"
SURROGATE = "a lone surrogate (\\ud800-\\udfff) in a string: not valid Unicode"
MEDIA_TYPE = "the body must be JSON, sent with Content-Type: application/json"
NO_BODY = "this operation takes no body: send none, or {}"


@dataclass(frozen=True)
class BodyRefusal:
    """Why a body is refused: the status, a message, and the field errors naming where."""

    status: int
    message: str
    errors: dict[str, Any]


def refusal(body: bytes, query: bytes) -> tuple[str, str] | None:
    """Return (where, what) when the input holds text that cannot be parsed or stored, else None.

    NUL: PostgreSQL text cannot hold it. Nesting deeper than Python's JSON parser goes, and lone
    surrogates, which cannot be encoded as UTF-8 for any database.
    """
    if b"\\u0000" in body:
        return "json", NUL
    if b"%00" in query:
        return "query", NUL
    if b"\\u" not in body and body.count(b"[") + body.count(b"{") < 100:
        return None  # nothing escaped, not deep: nothing more to look for
    try:
        data = json.loads(body)
    except RecursionError:
        return "json", TOO_DEEP
    except ValueError:
        return None  # not JSON: the schema reports it
    return ("json", SURROGATE) if _holds_surrogate(data) else None


def _holds_surrogate(data: Any) -> bool:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def takes_json_body(view: Any, method: str) -> bool:
    """Whether the view's method reads a JSON body (declared with `blp.arguments`)."""
    handler = getattr(getattr(view, "view_class", None), method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(getattr(view, "view_class", None), "get", None)
    arguments = getattr(handler, "_apidoc", {}).get("arguments", {})
    return any(p.get("in") == "json" for p in arguments.get("parameters", ()))


def body_refusal(data: bytes, *, media_type: str, takes_json: bool) -> BodyRefusal | None:
    """Why a request body cannot be taken (status, message, field errors), or None.

    No body at all is left to the schema. A body labelled other than JSON is 415 (RFC 9110,
    15.5.16); JSON that does not parse is 400, malformed syntax (15.5.1); a body sent to an
    operation that takes none must be `{}` or is 422, like an unknown field of any schema.
    """
    if not data:
        return None
    if not is_json(media_type):
        what = f"{MEDIA_TYPE} (got {media_type or 'no Content-Type'})"
        return BodyRefusal(415, what, {"headers": {"Content-Type": [MEDIA_TYPE]}})
    try:
        parsed = json.loads(data)
    except RecursionError:
        return None  # too deep: refusal() names it
    except ValueError as error:
        what = f"the body is not valid JSON: {error}"
        return BodyRefusal(400, what, {"json": {"_schema": [what]}})
    if takes_json or parsed == {}:
        return None
    if isinstance(parsed, dict):
        unknown = {str(key): ["Unknown field."] for key in parsed}
        return BodyRefusal(422, NO_BODY, {"json": unknown})
    return BodyRefusal(422, NO_BODY, {"json": {"_schema": [NO_BODY]}})


def is_json(media_type: str) -> bool:
    """Whether a media type (no parameters, lower case) is JSON: application/json or */*+json."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def unstorable_path_argument(arguments: dict[str, Any]) -> str | None:
    """The name of a path argument holding text no record can have (NUL, a lone surrogate)."""
    for name, value in arguments.items():
        if isinstance(value, str) and ("\x00" in value or not _encodable(value)):
            return name
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
