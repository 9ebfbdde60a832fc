"""Alembic environment: batch mode for SQLite, the models' metadata as the target."""

from __future__ import annotations

from alembic import context

from placements.db import make_engine
from placements.models import Base

config = context.config


def run_migrations() -> None:
    """Run migrations online against the configured URL."""
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
