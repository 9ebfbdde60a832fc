"""Paged lists: `page` and `page_size` in the query, the `X-Pagination` header in the answer."""

from __future__ import annotations

import json
from typing import Any

from flask_smorest.pagination import PaginationMetadataSchema

from placements.paging import Page

# The response header of a paged list, as documented (the PAGINATION component: a JSON object).
PAGINATION_HEADER_DOC = {"X-Pagination": "PAGINATION"}


def metadata(page: Page[Any]) -> dict[str, int]:
    """The page's place in the list, as flask-smorest's pagination header states it."""
    found: dict[str, int] = {"total": page.total, "total_pages": 0}
    if page.total:
        last = (page.total - 1) // page.page_size + 1
        found.update(total_pages=last, first_page=1, last_page=last)
        if page.page <= last:
            found["page"] = page.page
            if page.page > 1:
                found["previous_page"] = page.page - 1
            if page.page < last:
                found["next_page"] = page.page + 1
    dumped: dict[str, int] = PaginationMetadataSchema().dump(found)
    return dumped


def paged(page: Page[Any]) -> tuple[list[Any], int, dict[str, str]]:
    """A view's answer for one page: its items, 200 and the X-Pagination header."""
    return page.items, 200, {"X-Pagination": json.dumps(metadata(page))}
