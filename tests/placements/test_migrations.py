"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from placements.acceptance import Tally, load_history, recount
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


def test_answers_given_before_0007_fill_the_acceptance_tallies(fresh_url: str) -> None:
    upgrade(fresh_url, "0006")
    engine = make_engine(fresh_url)
    seed(Sessions.for_engine(engine), now=NOW)
    request = (
        "INSERT INTO placement_request (id, authority_id, case_reference, age, sex, legal_basis,"
        " grounds, needs, flags, home_lat, home_lon, exclusion_zones, order_kind, order_renewal,"
        " status, declined_by, created_at, created_by, updated_at, version) VALUES (:id,"
        " 'southwark', :id, :age, 'F', 'welfare', '[\"harm_to_self\"]', '[]', :flags, 51.4,"
        " -0.1, '[]', 'none', false, 'waiting', '[]', :at, 'dcs', :at, 1)"
    )
    offer = (
        "INSERT INTO offer (id, request_id, unit_id, provider_id, status, created_at, created_by,"
        " expires_at) VALUES (:id, :request, 'clare-lodge/nene', 'clare-lodge', :status, :at,"
        " 'dcs', :at)"
    )
    answers = [("A", 15, '["cse_victim", "absconding_risk"]', "accepted"),
               ("B", 16, '["absconding_risk", "cse_victim"]', "declined"),
               ("C", 17, '["cse_victim", "absconding_risk"]', "released"),
               ("D", 13, "[]", "accepted"), ("E", 13, "[]", "pending"),
               ("F", 14, "[]", "cancelled")]  # fmt: skip
    with engine.begin() as connection:
        for name, age, flags, status in answers:
            connection.execute(text(request), {"id": f"REQ-{name}", "age": age, "flags": flags,
                                               "at": NOW})  # fmt: skip
            connection.execute(text(offer), {"id": f"OFF-{name}", "request": f"REQ-{name}",
                                             "status": status, "at": NOW})  # fmt: skip
    upgrade(fresh_url)
    with Sessions.for_engine(engine).read() as session:
        kept = load_history(session)
        assert kept == recount(session)
    assert kept.by_segment == {
        ("clare-lodge", ("welfare", "F", "15-17", ("absconding_risk", "cse_victim"))): Tally(1, 2),
        ("clare-lodge", ("welfare", "F", "13-14", ())): Tally(1, 0),
    }
    # And 0008 sums them into the home's total.
    assert kept.by_provider == {"clare-lodge": Tally(2, 2)}
    command.downgrade(alembic_config(fresh_url), "0006")
    upgrade(fresh_url)
    check(fresh_url)
    engine.dispose()
