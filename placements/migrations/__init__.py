"""Alembic migrations of the service's schema, run by `placements db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    """An alembic configuration for the database at `url`, without any ini file."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`."""
    command.upgrade(alembic_config(url), revision)


def check(url: str) -> None:
    """Fail if the models and the migrations disagree (the database must be at head)."""
    command.check(alembic_config(url))
