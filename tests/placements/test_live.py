"""The live state as the matcher reads it per ranking."""

from __future__ import annotations

from placements.db import Sessions
from placements.live import LIVE_UNIT_COLUMNS, LiveUnit, UnitName, live_unit_names, live_units


def test_a_live_unit_names_the_columns_it_is_read_from_in_their_order() -> None:
    assert LiveUnit._fields == tuple(c.name for c in LIVE_UNIT_COLUMNS.selected_columns)


def test_the_units_read_as_columns_are_the_units_read_as_objects(seeded: Sessions) -> None:
    with seeded.read() as session:
        rows, units = live_units(session)
        names, read = live_unit_names(session)
    assert read == units
    assert names == {u.id: UnitName(u.name, u.provider.name) for u in rows}
