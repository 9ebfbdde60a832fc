"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from placements.db import Sessions, make_engine
from placements.migrations import alembic_config, check, upgrade
from placements.models import CourtOrder
from placements.seeding import seed
from tests.conftest import NOW, PG_URL, fresh_postgresql_database


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'steps.db'}"
    return fresh_postgresql_database("steps")


def test_orders_held_on_requests_before_0004_become_recorded_orders(fresh_url: str) -> None:
    upgrade(fresh_url, "0003")
    engine = make_engine(fresh_url)
    seed(Sessions.for_engine(engine), now=NOW)
    row = (
        "INSERT INTO placement_request (id, authority_id, case_reference, age, sex, legal_basis,"
        " grounds, needs, flags, home_lat, home_lon, exclusion_zones, order_kind, order_renewal,"
        " order_granted_at, order_expires_at, status, declined_by, created_at, created_by,"
        " updated_at, version) VALUES (:id, 'southwark', :ref, 15, 'F', 'welfare',"
        " '[\"harm_to_self\"]', '[]', '[]', 51.4, -0.1, '[]', :kind, false, :granted, :expires,"
        " 'waiting', '[]', :at, 'dcs', :at, 1)"
    )
    with engine.begin() as connection:
        connection.execute(text(row), {"id": "REQ-ORDER", "ref": "A", "kind": "interim_order",
                                       "granted": NOW - timedelta(days=2),
                                       "expires": NOW + timedelta(days=20), "at": NOW})  # fmt: skip
        connection.execute(text(row), {"id": "REQ-NONE", "ref": "B", "kind": "none",
                                       "granted": None, "expires": None, "at": NOW})  # fmt: skip
    upgrade(fresh_url)
    with Sessions.for_engine(engine).read() as session:
        orders = session.scalars(select(CourtOrder)).all()
        assert [(o.id, o.request_id, o.kind) for o in orders] == [
            ("ORD-REQ-ORDER", "REQ-ORDER", "interim_order")
        ]
        assert orders[0].granted_at == NOW - timedelta(days=2)
        assert orders[0].expires_at == NOW + timedelta(days=20)
    command.downgrade(alembic_config(fresh_url), "0003")
    upgrade(fresh_url)
    check(fresh_url)
    engine.dispose()
