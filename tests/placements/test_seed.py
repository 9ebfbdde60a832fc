"""The seed: 14 homes whose beds match DESIGN.md, loaded idempotently."""

from __future__ import annotations

from sqlalchemy import select

from placements.db import Sessions
from placements.models import AuditEvent, Base, LocalAuthority, Provider, Unit
from placements.seeding import seed
from tests.conftest import NOW

DESIGN_BEDS = {
    "adel-beck": 24,
    "aldine-house": 12,
    "atkinson-unit": 8,
    "aycliffe-secure-centre": 34,
    "barton-moss": 27,
    "clare-lodge": 16,
    "clayfields-house": 20,
    "hillside": 18,
    "kyloe-house": 12,
    "lansdowne": 12,
    "lincolnshire-secure-unit": 12,
    "marydale-lodge": 12,
    "swanwick-lodge": 16,
    "vinney-green": 24,
}


def dump(sessions: Sessions) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table."""
    with sessions.read() as session:
        return {
            table.name: sorted(
                (tuple(str(v) for v in row) for row in session.execute(select(table))),
            )
            for table in Base.metadata.sorted_tables
        }


def test_the_seed_gives_fourteen_homes_with_the_design_bed_counts(seeded: Sessions) -> None:
    with seeded.read() as session:
        beds: dict[str, int] = {}
        for unit in session.scalars(select(Unit)):
            beds[unit.provider_id] = beds.get(unit.provider_id, 0) + unit.approved_beds
            assert 4 <= unit.approved_beds <= 12
        assert beds == DESIGN_BEDS
        assert session.query(LocalAuthority).count() == 14
        assert session.query(Provider).count() == 14


def test_lansdowne_is_paused_with_every_bed_out_of_use(seeded: Sessions) -> None:
    with seeded.read() as session:
        lansdowne = session.get(Provider, "lansdowne")
        assert lansdowne is not None and lansdowne.status == "paused"
        assert all(u.staffed_beds == 0 for u in lansdowne.units)
        assert {u.out_of_use_reason for u in lansdowne.units} == {"no_registered_manager"}


def test_starting_occupancy_is_near_two_thirds(seeded: Sessions) -> None:
    with seeded.read() as session:
        units = session.scalars(select(Unit)).all()
    occupancy = sum(u.occupied_beds for u in units) / sum(u.approved_beds for u in units)
    assert 0.58 <= occupancy <= 0.68


def test_seeding_twice_changes_no_row(seeded: Sessions) -> None:
    before = dump(seeded)
    result = seed(seeded, now=NOW.replace(hour=15))
    assert result.providers_changed == 0 and result.authorities_changed == 0
    assert dump(seeded) == before


def test_the_seed_writes_the_audit_log(seeded: Sessions) -> None:
    with seeded.read() as session:
        actions = {e.action for e in session.scalars(select(AuditEvent))}
    assert {"provider.register", "unit.register", "authority.register"} <= actions
