"""Providers' availability updates: the invariant, the version check, history, audit and totals."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from placements import availability, units
from placements.auth import Actor
from placements.availability import AvailabilityUpdate
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Forbidden, InvalidInput, NotFound, PreconditionFailed
from placements.models import AuditEvent, Unit
from tests.conftest import NOW

SETTINGS = Settings()
CLARE = Actor("clare-staff", "provider", provider_id="clare-lodge")
ADEL = Actor("adel-staff", "provider", provider_id="adel-beck")


def first_unit(sessions: Sessions, provider_id: str) -> Unit:
    with sessions.read() as session:
        return session.scalars(
            select(Unit).where(Unit.provider_id == provider_id).order_by(Unit.id)
        ).first()  # type: ignore[return-value]


def update(sessions: Sessions, unit: Unit, change: AvailabilityUpdate, actor: Actor = CLARE):
    return availability.update_availability(
        sessions, actor, unit.id, change, expected_version=unit.version, settings=SETTINGS,
        now=NOW + timedelta(hours=1),
    )  # fmt: skip


def test_an_update_replaces_the_counts_and_bumps_the_version(seeded: Sessions) -> None:
    unit = first_unit(seeded, "clare-lodge")
    change = AvailabilityUpdate(unit.approved_beds, 1, None, {"cse_victim": 1})
    view = update(seeded, unit, change)
    assert (view.staffed_beds, view.occupied_beds, view.free_beds) == (
        unit.approved_beds,
        1,
        unit.approved_beds - 1,
    )
    assert view.version == unit.version + 1
    assert view.resident_flags == {"cse_victim": 1}
    assert view.updated_by == "clare-staff" and not view.stale


def test_history_keeps_every_change_newest_first(seeded: Sessions) -> None:
    unit = first_unit(seeded, "clare-lodge")
    update(seeded, unit, AvailabilityUpdate(unit.approved_beds, 2))
    entries = availability.history(seeded, CLARE, unit.id)
    assert [e.cause for e in entries] == ["provider_update", "registered"]
    assert entries[0].occupied_beds == 2


@pytest.mark.parametrize(
    ("staffed", "occupied", "reason", "flags", "field"),
    [
        (-1, 0, "staffing", {}, "staffed_beds"),
        (4, -1, "staffing", {}, "occupied_beds"),
        (4, 5, "staffing", {}, "occupied_beds"),
        (99, 0, None, {}, "staffed_beds"),
        (2, 0, None, {}, "out_of_use_reason"),
        (2, 1, "staffing", {"cse_victim": 2}, "resident_flags"),
    ],
)
def test_a_count_that_breaks_the_invariant_is_refused_and_changes_nothing(
    seeded: Sessions, staffed: int, occupied: int, reason: str | None, flags: dict[str, int],
    field: str,
) -> None:  # fmt: skip
    unit = first_unit(seeded, "clare-lodge")
    with pytest.raises(InvalidInput) as refused:
        update(seeded, unit, AvailabilityUpdate(staffed, occupied, reason, flags))
    assert field in (refused.value.errors or {})
    assert first_unit(seeded, "clare-lodge").version == unit.version


def test_a_stale_version_is_refused(seeded: Sessions) -> None:
    unit = first_unit(seeded, "clare-lodge")
    update(seeded, unit, AvailabilityUpdate(unit.approved_beds, 1))
    with pytest.raises(PreconditionFailed):
        update(seeded, unit, AvailabilityUpdate(unit.approved_beds, 2))


def test_a_provider_may_not_change_another_homes_unit(seeded: Sessions) -> None:
    unit = first_unit(seeded, "clare-lodge")
    with pytest.raises(Forbidden):
        update(seeded, unit, AvailabilityUpdate(unit.approved_beds, 1), actor=ADEL)


def test_an_unknown_unit_is_not_found(seeded: Sessions) -> None:
    with pytest.raises(NotFound):
        availability.update_availability(
            seeded, CLARE, "clare-lodge/none", AvailabilityUpdate(1, 0),
            expected_version=1, settings=SETTINGS, now=NOW,
        )  # fmt: skip


def test_each_change_is_audited_with_before_and_after(seeded: Sessions) -> None:
    unit = first_unit(seeded, "clare-lodge")
    update(seeded, unit, AvailabilityUpdate(unit.approved_beds, 1))
    with seeded.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "availability.update")
        ).one()
    assert event.before["occupied_beds"] == unit.occupied_beds
    assert event.after["occupied_beds"] == 1 and event.actor_label == "clare-staff"


def test_concurrent_updates_with_one_version_let_exactly_one_win(seeded: Sessions) -> None:
    unit = first_unit(seeded, "clare-lodge")
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def racer(occupied: int) -> None:
        barrier.wait()
        try:
            update(seeded, unit, AvailabilityUpdate(unit.approved_beds, occupied % 3))
            outcomes.append("won")
        except PreconditionFailed:
            outcomes.append("stale")

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["stale"] * 9 + ["won"]
    assert first_unit(seeded, "clare-lodge").version == unit.version + 1


def test_units_become_stale_after_the_configured_hours(seeded: Sessions) -> None:
    later = NOW + timedelta(hours=25)
    views = units.list_units(seeded, CLARE, units.UnitFilter(), settings=SETTINGS, now=later)
    assert all(v.stale for v in views)
    summary = availability.summary(seeded, CLARE, settings=SETTINGS, now=later)
    assert "lansdowne" not in {h.id for h in summary.stale_homes}
    assert len(summary.stale_homes) == 13


def test_the_summary_adds_up_by_designation_and_nation(seeded: Sessions) -> None:
    summary = availability.summary(seeded, CLARE, settings=SETTINGS, now=NOW)
    national = summary.national["all"]
    assert national.approved == 247
    assert national.free == national.staffed - national.occupied - national.reserved
    assert sum(summary.nations[n]["all"].approved for n in ("england", "wales")) == 247
    assert summary.nations["wales"]["all"].approved == 18
    assert sum(summary.national[d].approved for d in ("welfare", "justice", "mixed")) == 247


def test_unit_filters_select_by_sex_age_designation_and_free_beds(seeded: Sessions) -> None:
    def ids(**kwargs: object) -> set[str]:
        query = units.UnitFilter(**kwargs)  # type: ignore[arg-type]
        return {v.id for v in units.list_units(seeded, CLARE, query, settings=SETTINGS, now=NOW)}

    girls = ids(sex="F")
    assert not any(u.startswith("barton-moss/") for u in girls)
    assert not ids(age=11) & {u for u in ids() if u.startswith("hillside/")}
    assert all(u.startswith("vinney-green/") is False for u in ids(designation="welfare"))
    assert not any(u.startswith("lansdowne/") for u in ids(has_free_bed=True))
    assert ids(has_free_bed=True) | ids(has_free_bed=False) == ids()
