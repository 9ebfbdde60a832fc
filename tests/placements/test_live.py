"""The live state as the matcher reads it per ranking."""

from __future__ import annotations

from sqlalchemy import select

from placements import admissions, offers, requests
from placements.auth import Actor
from placements.db import Sessions
from placements.live import (
    LIVE_UNIT_COLUMNS,
    LiveUnit,
    UnitName,
    live_unit,
    live_unit_names,
    live_units,
)
from placements.models import Provider, Unit
from tests.conftest import NOW
from tests.placements.workflow import SETTINGS, SOUTHWARK, set_free_beds, welfare_facts


def test_a_live_unit_names_the_columns_it_is_read_from_in_their_order() -> None:
    assert LiveUnit._fields == tuple(c.name for c in LIVE_UNIT_COLUMNS.selected_columns)


def test_the_units_read_as_columns_are_the_units_read_as_objects(seeded: Sessions) -> None:
    with seeded.read() as session:
        rows, units = live_units(session)
        names, read = live_unit_names(session)
        objects = session.scalars(
            select(Unit).join(Provider).where(Provider.status != "closed").order_by(Unit.id)
        ).all()
        assert [tuple(getattr(o, f) for f in COLUMNS) for o in objects] == [
            tuple(getattr(r, f) for f in COLUMNS) for r in rows
        ]
        assert [(o.provider.name, o.provider.lat, o.provider.lon, o.provider.nation,
                 o.provider.status) for o in objects] == [
            (r.provider_name, r.lat, r.lon, r.nation, r.provider_status) for r in rows
        ]  # fmt: skip
    assert len(rows) > 10 and read == units
    assert [u.id for u in units] == [r.id for r in rows]
    assert names == {o.id: UnitName(o.name, o.provider.name) for o in objects}


COLUMNS = [f for f in LiveUnit._fields if f not in
           ("provider_name", "lat", "lon", "nation", "provider_status")]  # fmt: skip


def test_one_live_unit_read_alone_is_that_unit_of_the_whole_read(seeded: Sessions) -> None:
    """With a reported resident, a placed child and a reserved one in the same unit."""
    unit_id, home = "clare-lodge/nene", Actor("manager", "provider", provider_id="clare-lodge")
    set_free_beds(seeded, unit_id, 2, now=NOW)
    for n, flags in enumerate([("cse_victim",), ("absconding_risk",)]):
        made = requests.create(seeded, SOUTHWARK, welfare_facts(f"LIVE-{n}", flags=flags), now=NOW)
        offer = offers.create_offers(seeded, SOUTHWARK, made.id,
                                     offers.OfferChoice(unit_ids=(unit_id,)), settings=SETTINGS,
                                     now=NOW)[0]  # fmt: skip
        offers.accept(seeded, home, offer.id, settings=SETTINGS, now=NOW)
        if n == 0:
            admissions.admit(seeded, SOUTHWARK, made.id, NOW, now=NOW)
    with seeded.read() as session:
        _, units = live_unit_names(session)
        alone = [live_unit(session.connection(), u.id) for u in units]
        assert live_unit(session.connection(), "no-such-home/unit") is None
    assert alone == units
    mine = next(u for u in units if u.id == unit_id)
    assert {"cse_victim", "absconding_risk"} <= set().union(*mine.resident_flags)
