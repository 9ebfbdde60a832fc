"""Reading the estate: units with their live bed counts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from placements import access
from placements.auth import Actor
from placements.config import Settings
from placements.db import Sessions
from placements.errors import NotFound
from placements.models import Provider, Unit


@dataclass(frozen=True)
class UnitView:
    """A unit and its availability as every role may read it."""

    id: str
    provider_id: str
    provider_name: str
    name: str
    approved_beds: int
    designation: str
    sexes: list[str]
    min_age: int
    max_age: int
    specialisms: list[str]
    staffed_beds: int
    occupied_beds: int
    reserved_beds: int
    free_beds: int
    out_of_use_reason: str | None
    resident_flags: dict[str, int]
    updated_at: datetime
    updated_by: str | None  # who: for the unit's home and admins only (access.sees_who_changed)
    stale: bool
    version: int

    def seen_by(self, actor: Actor) -> UnitView:
        """The unit as the actor may read it: who last changed its counts hidden from others."""
        if access.sees_who_changed(actor, self.provider_id):
            return self
        return replace(self, updated_by=None)

    @classmethod
    def of(cls, unit: Unit, *, now: datetime, stale_hours: float) -> UnitView:
        """Describe a unit row."""
        return cls.of_columns(unit, unit.provider.name, now=now, stale_hours=stale_hours)

    @classmethod
    def of_columns(
        cls, unit: Any, provider_name: str, *, now: datetime, stale_hours: float
    ) -> UnitView:
        """Describe a unit from its columns: a `Unit`, or a row of `UNIT_COLUMNS`."""
        return cls(
            id=unit.id,
            provider_id=unit.provider_id,
            provider_name=provider_name,
            name=unit.name,
            approved_beds=unit.approved_beds,
            designation=unit.designation,
            sexes=sorted(unit.sexes),
            min_age=unit.min_age,
            max_age=unit.max_age,
            specialisms=sorted(unit.specialisms),
            staffed_beds=unit.staffed_beds,
            occupied_beds=unit.occupied_beds,
            reserved_beds=unit.reserved_beds,
            free_beds=unit.staffed_beds - unit.occupied_beds - unit.reserved_beds,
            out_of_use_reason=unit.out_of_use_reason,
            resident_flags=dict(sorted(unit.resident_flags.items())),
            updated_at=unit.updated_at,
            updated_by=unit.updated_by,
            stale=is_stale(unit.updated_at, now=now, stale_hours=stale_hours),
            version=unit.version,
        )


@dataclass(frozen=True)
class UnitFilter:
    """Which units to list."""

    provider_id: str | None = None
    designation: str | None = None
    sex: str | None = None
    age: int | None = None
    has_free_bed: bool | None = None


# One unit and its home's name, read on every GET /units/{id}: built once, columns only.
UNIT_READ = (
    select(*Unit.__table__.columns, Provider.name.label("provider_name"))
    .join(Provider, Provider.id == Unit.provider_id)
    .where(Unit.id == bindparam("unit_id"))
)


def is_stale(updated_at: datetime, *, now: datetime, stale_hours: float) -> bool:
    """True when availability has not been updated for longer than the stale period."""
    return now - updated_at > timedelta(hours=stale_hours)


def load_unit(session: Session, unit_id: str) -> Unit:
    """The unit with this id, or NotFound."""
    unit = session.get(Unit, unit_id, options=[joinedload(Unit.provider)])
    if unit is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    return unit


def _filtered(query: UnitFilter) -> Select[Unit]:
    statement = select(Unit).options(joinedload(Unit.provider)).order_by(Unit.id)
    if query.provider_id is not None:
        statement = statement.where(Unit.provider_id == query.provider_id)
    if query.designation is not None:
        statement = statement.where(Unit.designation == query.designation)
    if query.age is not None:
        statement = statement.where(Unit.min_age <= query.age, Unit.max_age >= query.age)
    if query.has_free_bed is not None:
        free = Unit.staffed_beds - Unit.occupied_beds - Unit.reserved_beds
        statement = statement.where(free > 0 if query.has_free_bed else free <= 0)
    return statement


def list_units(
    sessions: Sessions, actor: Actor, query: UnitFilter, *, settings: Settings, now: datetime
) -> list[UnitView]:
    """List units matching the filter (any authenticated role)."""
    with sessions.read() as session:
        units = session.scalars(_filtered(query)).all()
        views = [
            UnitView.of(u, now=now, stale_hours=settings.stale_hours).seen_by(actor) for u in units
        ]
    if query.sex is not None:
        views = [v for v in views if query.sex in v.sexes]
    return views


def get_unit(
    sessions: Sessions, actor: Actor, unit_id: str, *, settings: Settings, now: datetime
) -> UnitView:
    """One unit with its availability (any authenticated role)."""
    with sessions.read_rows() as connection:
        row = connection.execute(UNIT_READ, {"unit_id": unit_id}).first()
    if row is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    view = UnitView.of_columns(row, row.provider_name, now=now, stale_hours=settings.stale_hours)
    return view.seen_by(actor)
