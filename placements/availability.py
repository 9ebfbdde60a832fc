"""Live bed counts: a provider's update (version-checked by the database), history and summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Final, Literal

from sqlalchemy import RowMapping, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from placements import access, audit
from placements.auth import Actor
from placements.beds import count_errors
from placements.config import Settings
from placements.db import Sessions
from placements.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from placements.models import AvailabilityChange, Provider, Unit
from placements.units import UnitView, is_stale, load_unit

AnyVersion = Literal["*"]
ANY_VERSION: Final[AnyVersion] = "*"  # If-Match: * (any current version)


@dataclass(frozen=True)
class AvailabilityUpdate:
    """What a provider reports for a unit; reserved beds are the service's own."""

    staffed_beds: int
    occupied_beds: int
    out_of_use_reason: str | None = None
    resident_flags: dict[str, int] = field(default_factory=dict)
    # Fields the client left out (out_of_use_reason, resident_flags): the unit keeps its own.
    kept: frozenset[str] = frozenset()

    def over(self, unit: Any) -> AvailabilityUpdate:
        """This update with the fields it keeps filled in from the unit."""
        return AvailabilityUpdate(
            self.staffed_beds,
            self.occupied_beds,
            unit.out_of_use_reason if "out_of_use_reason" in self.kept else self.out_of_use_reason,
            dict(unit.resident_flags) if "resident_flags" in self.kept else self.resident_flags,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """A unit's counts after one change; `by` (who) only for the unit's home and admins."""

    at: datetime
    by: str | None
    cause: str
    staffed_beds: int
    occupied_beds: int
    reserved_beds: int
    free_beds: int
    out_of_use_reason: str | None
    resident_flags: dict[str, int]
    version: int


@dataclass(frozen=True)
class Totals:
    """Bed totals for one slice of the estate."""

    approved: int = 0
    staffed: int = 0
    occupied: int = 0
    reserved: int = 0
    free: int = 0

    def plus(self, unit: Unit) -> Totals:
        """These totals with one more unit counted."""
        return Totals(
            self.approved + unit.approved_beds,
            self.staffed + unit.staffed_beds,
            self.occupied + unit.occupied_beds,
            self.reserved + unit.reserved_beds,
            self.free + unit.staffed_beds - unit.occupied_beds - unit.reserved_beds,
        )


@dataclass(frozen=True)
class StaleHome:
    """An active home with at least one unit not updated within the stale period."""

    id: str
    name: str
    oldest_update: datetime


@dataclass(frozen=True)
class Summary:
    """National and per-nation totals by designation, and the stale homes."""

    national: dict[str, Totals]
    nations: dict[str, dict[str, Totals]]
    stale_homes: list[StaleHome]


def snapshot(unit: Any) -> dict[str, Any]:
    """The availability part of a unit, as the audit log keeps it."""
    return {
        "staffed_beds": unit.staffed_beds,
        "occupied_beds": unit.occupied_beds,
        "reserved_beds": unit.reserved_beds,
        "out_of_use_reason": unit.out_of_use_reason,
        "resident_flags": dict(unit.resident_flags),
        "version": unit.version,
    }


def record_change(session: Session, unit: Unit, *, by: str, cause: str, at: datetime) -> None:
    """Append the unit's current counts to its history."""
    session.add(AvailabilityChange(**_change_row(unit, by=by, cause=cause, at=at)))


def _change_row(unit: Any, *, by: str, cause: str, at: datetime) -> dict[str, Any]:
    """A unit's current counts as a row of its history."""
    return {"unit_id": unit.id, "at": at, "by": by, "cause": cause,
            "staffed_beds": unit.staffed_beds, "occupied_beds": unit.occupied_beds,
            "reserved_beds": unit.reserved_beds, "out_of_use_reason": unit.out_of_use_reason,
            "resident_flags": dict(unit.resident_flags), "version": unit.version}  # fmt: skip


def move_beds(
    session: Session,
    unit_id: str,
    *,
    reserved: int = 0,
    occupied: int = 0,
    by: str,
    cause: str,
    now: datetime,
) -> bool:
    """Shift a unit's service-managed counts by one conditional update; False if it would break.

    Reserving needs a free bed (`occupied + reserved < staffed` before the change), and no count
    may go below zero; the row lock this takes serialises every other change to the unit.
    """
    statement = update(Unit).where(
        Unit.id == unit_id,
        Unit.reserved_beds + reserved >= 0,
        Unit.occupied_beds + occupied >= 0,
        Unit.occupied_beds + occupied + Unit.reserved_beds + reserved <= Unit.staffed_beds,
    )
    moved = session.execute(
        statement.values(
            reserved_beds=Unit.reserved_beds + reserved,
            occupied_beds=Unit.occupied_beds + occupied,
            version=Unit.version + 1,
        )
        .returning(Unit.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if moved is None:
        return False
    unit = session.get(Unit, unit_id, populate_existing=True)
    assert unit is not None
    record_change(session, unit, by=by, cause=cause, at=now)
    return True


def release_reservation(session: Session, unit_id: str, *, by: str, cause: str,
                        now: datetime) -> None:  # fmt: skip
    """Give a reserved bed back by the conditional update that took it; Conflict if none is held."""
    if not move_beds(session, unit_id, reserved=-1, by=by, cause=cause, now=now):
        raise Conflict(f"unit {unit_id} holds no reservation to release")


def _accepted_versions(expected: int | frozenset[int] | AnyVersion) -> frozenset[int] | None:
    """The versions an update may replace; None for any."""
    if isinstance(expected, str):
        return None
    return frozenset({expected}) if isinstance(expected, int) else expected


def update_availability(
    sessions: Sessions,
    actor: Actor,
    unit_id: str,
    change: AvailabilityUpdate,
    *,
    expected_version: int | frozenset[int] | AnyVersion,
    settings: Settings,
    now: datetime,
) -> UnitView:
    """Replace a unit's reported counts if a version the client names (or any) is still current."""
    with sessions.begin() as session:
        return _update_unit(session, actor, unit_id, change, expected_version, settings, now)


def report_home(
    sessions: Sessions,
    actor: Actor,
    changes: dict[str, AvailabilityUpdate],
    *,
    settings: Settings,
    now: datetime,
) -> list[UnitView]:
    """A home's report on several of its units at once, in one transaction: all or none.

    Each unit is checked and written as by `update_availability` with any current version; the
    units are read as columns, and their history and audit events written at once.
    """
    with sessions.begin() as session:
        connection = session.connection()
        units = {r.id: r for r in connection.execute(REPORTED_UNITS, {"ids": sorted(changes)})}
        views, history, events = [], [], []
        for unit_id, change in sorted(changes.items()):
            unit = units.get(unit_id)
            if unit is None:
                raise NotFound(f"unit {unit_id!r} does not exist")
            actor.require_provider(unit.provider_id)
            values, before = _checked(unit, actor, change, now)
            won = _write(session, unit_id, values, None)
            written = SimpleNamespace(**{**unit._mapping, **won})
            history.append(_change_row(written, by=actor.label, cause="provider_update", at=now))
            events.append(audit.event(actor, "availability.update", "unit", unit_id, at=now,
                                      before=before, after=snapshot(written)))  # fmt: skip
            views.append(UnitView.of_columns(written, unit.provider_name, now=now,
                                             stale_hours=settings.stale_hours))  # fmt: skip
        if history:
            connection.execute(insert(AvailabilityChange), history)
        audit.record_all(session, events)
        return views


# The units a home reports on, as columns, with their home's name.
REPORTED_UNITS = (
    select(*Unit.__table__.c, Provider.name.label("provider_name"))
    .join(Provider, Provider.id == Unit.provider_id)
    .where(Unit.id.in_(bindparam("ids", expanding=True)))
)


def _checked(unit: Any, actor: Actor, change: AvailabilityUpdate,
             now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """The values of `UPDATE_UNIT` for a valid change of the unit (InvalidInput for an invalid
    one), and the unit's availability before it."""
    change = change.over(unit)
    reason = change.out_of_use_reason if change.staffed_beds < unit.approved_beds else None
    errors = count_errors(
        approved=unit.approved_beds,
        staffed=change.staffed_beds,
        occupied=change.occupied_beds,
        reserved=unit.reserved_beds,
        reason=change.out_of_use_reason,
        resident_flags=change.resident_flags,
    )
    if errors:
        raise InvalidInput(f"invalid availability for unit {unit.id}", errors=errors)
    values = {
        "unit_id": unit.id,
        "new_staffed": change.staffed_beds,
        "new_occupied": change.occupied_beds,
        "new_reason": reason,
        "new_flags": dict(change.resident_flags),
        "new_at": now,
        "new_by": actor.label,
    }
    return values, snapshot(unit)


# A provider's update of a unit's counts, in one prebuilt statement: it is written only while the
# unit's reserved beds still fit (and, in the second form, while its version is one of `versions`);
# the row as written comes back.
_WRITTEN = (
    Unit.staffed_beds,
    Unit.occupied_beds,
    Unit.reserved_beds,
    Unit.out_of_use_reason,
    Unit.resident_flags,
    Unit.updated_at,
    Unit.updated_by,
    Unit.version,
)
UPDATE_UNIT = (
    update(Unit)
    .where(
        Unit.id == bindparam("unit_id"),
        Unit.reserved_beds + bindparam("new_occupied") <= bindparam("new_staffed"),
    )
    .values(
        staffed_beds=bindparam("new_staffed"),
        occupied_beds=bindparam("new_occupied"),
        out_of_use_reason=bindparam("new_reason"),
        resident_flags=bindparam("new_flags", type_=Unit.__table__.c.resident_flags.type),
        updated_at=bindparam("new_at", type_=Unit.__table__.c.updated_at.type),
        updated_by=bindparam("new_by"),
        version=Unit.version + 1,
    )
    .returning(*_WRITTEN)
)
UPDATE_UNIT_AT_VERSION = UPDATE_UNIT.where(Unit.version.in_(bindparam("versions", expanding=True)))


def _write(session: Session, unit_id: str, values: dict[str, Any],
           accepted: frozenset[int] | None) -> RowMapping:  # fmt: skip
    """Run `UPDATE_UNIT` (at one of the `accepted` versions, if given) and return the columns
    written; Conflict if the counts break the table's check, PreconditionFailed if the unit
    changed first."""
    statement = UPDATE_UNIT
    if accepted is not None:
        statement, values = UPDATE_UNIT_AT_VERSION, {**values, "versions": sorted(accepted)}
    try:
        won = session.connection().execute(statement, values).one_or_none()
    except IntegrityError as error:
        raise Conflict(f"unit {unit_id}: the counts break the bed invariant") from error
    if won is None:
        raise PreconditionFailed(f"unit {unit_id} was changed by someone else; fetch and retry")
    return won._mapping


def _update_unit(
    session: Session,
    actor: Actor,
    unit_id: str,
    change: AvailabilityUpdate,
    expected_version: int | frozenset[int] | AnyVersion,
    settings: Settings,
    now: datetime,
) -> UnitView:
    accepted = _accepted_versions(expected_version)
    unit = load_unit(session, unit_id)
    actor.require_provider(unit.provider_id)
    # Preconditions before the content (RFC 9110, 13.2.1): a stale tag is 412 whatever it says.
    if accepted is not None and unit.version not in accepted:
        raise PreconditionFailed(
            f"unit {unit_id} has changed (version {unit.version}); fetch it and retry"
        )
    values, before = _checked(unit, actor, change, now)
    won = _write(session, unit_id, values, accepted)
    # The row as written refreshes the unit held in the session (as loaded, not as a change).
    for key, value in won.items():
        set_committed_value(unit, key, value)
    record_change(session, unit, by=actor.label, cause="provider_update", at=now)
    audit.record(
        session,
        actor,
        "availability.update",
        "unit",
        unit_id,
        at=now,
        before=before,
        after=snapshot(unit),
    )
    return UnitView.of(unit, now=now, stale_hours=settings.stale_hours)


def history(
    sessions: Sessions, actor: Actor, unit_id: str, *, page: int = 1, page_size: int = 50
) -> list[HistoryEntry]:
    """A unit's availability changes, newest first; who made each is shown to its home and
    admins only (others see the cause)."""
    access.require(actor, "units.history")
    with sessions.read() as session:
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id!r} does not exist")
        shown = access.sees_who_changed(actor, unit.provider_id)
        rows = session.scalars(
            select(AvailabilityChange)
            .where(AvailabilityChange.unit_id == unit_id)
            .order_by(AvailabilityChange.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        return [
            HistoryEntry(
                r.at,
                r.by if shown else None,
                r.cause,
                r.staffed_beds,
                r.occupied_beds,
                r.reserved_beds,
                r.staffed_beds - r.occupied_beds - r.reserved_beds,
                r.out_of_use_reason,
                dict(r.resident_flags),
                r.version,
            )
            for r in rows
        ]


def summary(sessions: Sessions, actor: Actor, *, settings: Settings, now: datetime) -> Summary:
    """Totals by designation, nationally and per nation, and the homes whose counts are stale."""
    national: dict[str, Totals] = {}
    nations: dict[str, dict[str, Totals]] = {}
    stale: list[StaleHome] = []
    with sessions.read() as session:
        providers = session.scalars(
            select(Provider).options(joinedload(Provider.units)).order_by(Provider.id)
        ).unique()
        for provider in providers:
            per_nation = nations.setdefault(provider.nation, {})
            for unit in provider.units:
                for totals in (national, per_nation):
                    for key in (unit.designation, "all"):
                        totals[key] = totals.get(key, Totals()).plus(unit)
            oldest = min((u.updated_at for u in provider.units), default=None)
            if (
                provider.status == "active"
                and oldest is not None
                and is_stale(oldest, now=now, stale_hours=settings.stale_hours)
            ):
                stale.append(StaleHome(provider.id, provider.name, oldest))
    return Summary(national, nations, stale)
