"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from placements.migrations import check


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)
