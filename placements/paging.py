"""One page of a list: its items and how many there are in all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the number of items in the whole list."""

    items: list[T]
    total: int
    page: int
    page_size: int


def window(
    session: Session, statement: Select[*tuple[Any, ...]], *, page: int, page_size: int
) -> tuple[list[Any], int]:
    """The rows of one page (from 1) of an ordered statement, and the count of all its rows."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.execute(statement.offset((page - 1) * page_size).limit(page_size)).all()
    return list(rows), int(total or 0)
