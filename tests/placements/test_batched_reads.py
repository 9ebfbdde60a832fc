"""Use cases that do in one transaction what would otherwise take one per unit or request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from placements import matching, orders, requests
from placements.auth import Actor
from placements.availability import AvailabilityUpdate, report_home
from placements.db import Sessions
from placements.errors import Forbidden, InvalidInput, NotFound
from placements.models import CourtOrder, Placement, PlacementRequest
from placements.units import UnitView
from tests.conftest import NOW
from tests.placements.workflow import (
    ADMIN,
    SETTINGS,
    SOUTHWARK,
    counts,
    set_free_beds,
    welfare_facts,
)

CLARE = Actor("manager-clare", "provider", provider_id="clare-lodge")


def _views(sessions: Sessions, provider_id: str) -> list[UnitView]:
    from placements.units import UnitFilter, list_units

    return list(
        list_units(sessions, ADMIN, UnitFilter(provider_id=provider_id), settings=SETTINGS, now=NOW)
    )


def _units(sessions: Sessions, provider_id: str) -> list[str]:
    return [u.id for u in _views(sessions, provider_id)]


def test_a_home_reports_several_units_at_once(seeded: Sessions) -> None:
    units = _units(seeded, "clare-lodge")
    for unit_id in units:
        set_free_beds(seeded, unit_id, 2, now=NOW)
    changes = {u: AvailabilityUpdate(sum(counts(seeded, u)), 1) for u in units}
    views = report_home(seeded, CLARE, changes, settings=SETTINGS, now=NOW)
    assert [v.id for v in views] == sorted(units)
    for unit_id in units:
        occupied, reserved, free = counts(seeded, unit_id)
        assert (occupied, reserved) == (1, 0)
        assert free == changes[unit_id].staffed_beds - 1
    # Each unit's history and audit log hold the report, as a single unit's update writes them.
    from placements.models import AuditEvent, AvailabilityChange

    with seeded.read() as session:
        for view in views:
            change = session.scalars(
                select(AvailabilityChange)
                .where(AvailabilityChange.unit_id == view.id)
                .order_by(AvailabilityChange.id.desc())
            ).first()
            assert change is not None
            assert (change.cause, change.by, change.at, change.version) == (
                "provider_update",
                CLARE.label,
                NOW,
                view.version,
            )
            event = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.object_id == view.id, AuditEvent.action == "availability.update")
                .order_by(AuditEvent.id.desc())
            ).first()
            assert event is not None
            assert (event.actor_label, event.at) == (CLARE.label, NOW)
            assert event.after["occupied_beds"] == 1 and event.after["version"] == view.version
            assert event.before["version"] == view.version - 1


def test_a_home_report_naming_no_unit_changes_none(seeded: Sessions) -> None:
    units = _units(seeded, "clare-lodge")
    before = [counts(seeded, u) for u in units]
    valid = AvailabilityUpdate(sum(counts(seeded, units[0])), 0)
    changes = {units[0]: valid, "clare-lodge/zzz": AvailabilityUpdate(2, 1)}
    versions = [v.version for v in _views(seeded, "clare-lodge")]
    with pytest.raises(NotFound):
        report_home(seeded, CLARE, changes, settings=SETTINGS, now=NOW)
    assert [counts(seeded, u) for u in units] == before
    assert [v.version for v in _views(seeded, "clare-lodge")] == versions


def test_a_home_report_with_one_bad_unit_changes_none(seeded: Sessions) -> None:
    units = _units(seeded, "clare-lodge")
    before = [counts(seeded, u) for u in units]
    changes = {units[0]: AvailabilityUpdate(4, 1), units[-1]: AvailabilityUpdate(2, 5)}
    with pytest.raises(InvalidInput):
        report_home(seeded, CLARE, changes, settings=SETTINGS, now=NOW)
    assert [counts(seeded, u) for u in units] == before


def test_a_home_cannot_report_another_homes_units(seeded: Sessions) -> None:
    other = _units(seeded, "adel-beck")[0]
    with pytest.raises(Forbidden):
        report_home(seeded, CLARE, {other: AvailabilityUpdate(4, 1)}, settings=SETTINGS, now=NOW)


def test_waiting_with_options_names_the_requests_a_unit_could_take(seeded: Sessions) -> None:
    girl = requests.create(seeded, SOUTHWARK, welfare_facts("BR-1"), now=NOW)
    too_young = requests.create(
        seeded, SOUTHWARK, welfare_facts("BR-2", age=9, under_13_approval="SoS-1"), now=NOW
    )
    found = matching.waiting_with_options(seeded, ADMIN, settings=SETTINGS, now=NOW)
    assert girl.id in found
    assert too_young.id not in found
    for request_id in found:
        options = matching.options(seeded, ADMIN, request_id, settings=SETTINGS, now=NOW)
        assert options.options


def test_waiting_with_options_is_for_the_coordinator(seeded: Sessions) -> None:
    with pytest.raises(Forbidden):
        matching.waiting_with_options(seeded, SOUTHWARK, settings=SETTINGS, now=NOW)


def test_many_childrens_hours_without_order_match_each_ones_clock(seeded: Sessions) -> None:
    from tests.placements import casework

    came = NOW - timedelta(hours=50)
    casework.admit(seeded, authority_id="southwark", admitted_at=came)  # with an order
    without = casework.admit(seeded, authority_id="surrey", admitted_at=came)
    with seeded.begin() as session:
        placement = session.get(Placement, without)
        assert placement is not None
        session.execute(delete(CourtOrder).where(CourtOrder.request_id == placement.request_id))
    with seeded.read() as session:
        rows = session.query(PlacementRequest).all()
        children = [(r.authority_id, r.case_reference) for r in rows]
        many = orders.child_hours_without_order(session, children, now=NOW)
        one = {c: orders.child_clock(session, *c, now=NOW).hours for c in children}
    assert many == {c: h for c, h in one.items() if c in many}
    assert sorted(many.values()) == [0.0, pytest.approx(50.0)]
    assert all(h == 0 for c, h in one.items() if c not in many)


def test_only_stays_reaching_into_the_28_day_window_count(seeded: Sessions) -> None:
    from tests.placements import casework

    came = NOW - timedelta(days=40)
    long_gone = casework.admit(seeded, authority_id="southwark", admitted_at=came)
    lately_gone = casework.admit(seeded, authority_id="surrey", admitted_at=came)
    with seeded.begin() as session:
        for placement_id in (long_gone, lately_gone):
            placement = session.get(Placement, placement_id)
            assert placement is not None
            session.execute(delete(CourtOrder).where(CourtOrder.request_id == placement.request_id))
    casework.discharge(seeded, long_gone, NOW - timedelta(days=29))
    casework.discharge(seeded, lately_gone, NOW - timedelta(days=10))
    with seeded.read() as session:
        rows = session.query(PlacementRequest).all()
        children = [(r.authority_id, r.case_reference) for r in rows]
        many = orders.child_hours_without_order(session, children, now=NOW)
        one = {c: orders.child_clock(session, *c, now=NOW).hours for c in children}
    # The stay that ended 29 days ago is outside the window; the other counts its last 18 days.
    assert list(many.values()) == [pytest.approx(18 * 24)]
    assert many == {c: h for c, h in one.items() if h}


def test_offers_for_several_requests_refuse_one_without_touching_the_others(
    seeded: Sessions,
) -> None:
    from placements import offers
    from placements.errors import InvalidTransition
    from placements.models import AuditEvent, Offer

    good = requests.create(seeded, SOUTHWARK, welfare_facts("BR-3"), now=NOW)
    gone = requests.create(seeded, SOUTHWARK, welfare_facts("BR-4"), now=NOW)
    requests.withdraw(seeded, SOUTHWARK, gone.id, now=NOW)
    # No unit takes a 9-year-old: refused before its read is audited, so nothing is written.
    young = requests.create(
        seeded, SOUTHWARK, welfare_facts("BR-6", age=9, under_13_approval="SoS-2"), now=NOW
    )
    with seeded.read() as session:
        events = session.query(AuditEvent).count()
    made = offers.create_offers_many(
        seeded, ADMIN, [(gone.id, offers.OfferChoice(top=2)), (young.id, offers.OfferChoice(top=2)),
         (good.id, offers.OfferChoice(top=2)), ("REQ-NONE", offers.OfferChoice(top=2))],
        settings=SETTINGS, now=NOW,
    )  # fmt: skip
    with seeded.read() as session:
        # The good request's read (outside the admin's authority) and its two offers; nothing
        # of the refused ones is left.
        assert session.query(AuditEvent).count() - events == 1 + 2
    assert isinstance(made[0], InvalidTransition)
    assert isinstance(made[1], InvalidInput)
    assert isinstance(made[2], list) and len(made[2]) == 2
    assert isinstance(made[3], NotFound)
    # A request named twice: the second sees the first's offers as pending.
    twice = requests.create(seeded, SOUTHWARK, welfare_facts("BR-7"), now=NOW)
    first, again = offers.create_offers_many(
        seeded, ADMIN, [(twice.id, offers.OfferChoice(top=1)),
         (twice.id, offers.OfferChoice(unit_ids=(made[2][0].unit_id, made[2][1].unit_id)))],
        settings=SETTINGS, now=NOW,
    )  # fmt: skip
    assert isinstance(first, list) and len(first) == 1
    assert isinstance(again, InvalidInput)
    assert again.errors == {first[0].unit_id: ["already_offered"]}
    alone = offers.create_offers(
        seeded, ADMIN, requests.create(seeded, SOUTHWARK, welfare_facts("BR-5"), now=NOW).id,
        offers.OfferChoice(top=2), settings=SETTINGS, now=NOW,
    )  # fmt: skip
    assert [o.unit_id for o in made[2]] == [o.unit_id for o in alone]
    with seeded.read() as session:
        assert session.query(Offer).filter(Offer.request_id == gone.id).count() == 0


def test_timestamps_read_back_as_aware_utc_whatever_offset_they_were_written_with(
    sessions: Sessions,
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import text

    from placements import audit
    from placements.models import AuditEvent

    written = datetime(2027, 3, 28, 0, 30, 15, 250000, tzinfo=UTC)  # the clocks change that night
    with sessions.begin() as session:
        events = [audit.event(ADMIN, "test", "unit", key, at=written) for key in ("a", "b")]
        audit.record_all(session, events)
        # A value written by hand with an offset, as a migration or an operator might.
        session.execute(
            text("UPDATE audit_event SET at = '2027-03-28 02:30:15+01:00' WHERE object_id = 'b'")
        )
        events = [audit.event(ADMIN, "test", "unit", "c", at=written)]
        audit.record_all(session, events)
        session.execute(text("UPDATE audit_event SET at = '2027-03-28' WHERE object_id = 'c'"))
    with sessions.read() as session:
        read = dict(session.execute(select(AuditEvent.object_id, AuditEvent.at)).all())
    assert read["a"] == written and read["a"].utcoffset() == timedelta(0)
    assert read["b"] == datetime(2027, 3, 28, 1, 30, 15, tzinfo=UTC)
    assert read["b"].tzinfo is UTC
    assert read["c"] == datetime(2027, 3, 28, tzinfo=UTC)
