"""Checks of raw request input that no schema can make: text the database cannot store."""

from __future__ import annotations

import json
from typing import Any

NUL = "NUL character (\\u0000) in the request"
TOO_DEEP = "JSON nested too deeply"
SURROGATE = "a lone surrogate (\\ud800-\\udfff) in a string: not valid Unicode"


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
