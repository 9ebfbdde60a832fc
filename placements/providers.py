"""Homes and their units: registering them (admin, and the seed) and reading them (everyone)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from placements import access, audit
from placements.auth import Actor
from placements.availability import record_change, snapshot
from placements.beds import count_errors
from placements.config import Settings
from placements.db import Sessions
from placements.errors import InvalidInput, NotFound
from placements.ids import check_slug
from placements.models import Provider, Unit
from placements.units import UnitFilter, UnitView, list_units


@dataclass(frozen=True)
class StartingAvailability:
    """The counts a new unit starts with."""

    staffed_beds: int
    occupied_beds: int = 0
    out_of_use_reason: str | None = None
    resident_flags: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UnitSpec:
    """A unit as registered: its slug within the home and what it is approved for."""

    slug: str
    name: str
    approved_beds: int
    designation: str
    sexes: list[str]
    min_age: int
    max_age: int
    specialisms: list[str] = field(default_factory=list)
    availability: StartingAvailability | None = None


@dataclass(frozen=True)
class ProviderSpec:
    """A home as registered, with its units."""

    id: str
    name: str
    operator: str
    town: str
    nation: str
    lat: float
    lon: float
    status: str = "active"
    units: list[UnitSpec] = field(default_factory=list)


@dataclass(frozen=True)
class ProviderView:
    """A home as every role may read it."""

    id: str
    name: str
    operator: str
    town: str
    nation: str
    lat: float
    lon: float
    status: str
    unit_ids: list[str]
    approved_beds: int


@dataclass(frozen=True)
class Registered:
    """The outcome of registering a home: the home and whether anything changed."""

    provider: ProviderView
    changed: bool


def _view(provider: Provider) -> ProviderView:
    return ProviderView(
        provider.id,
        provider.name,
        provider.operator,
        provider.town,
        provider.nation,
        provider.lat,
        provider.lon,
        provider.status,
        [u.id for u in provider.units],
        sum(u.approved_beds for u in provider.units),
    )


def _describe_provider(provider: Provider) -> dict[str, Any]:
    return {
        k: getattr(provider, k)
        for k in ("name", "operator", "town", "nation", "lat", "lon", "status")
    }


def _describe_unit(unit: Unit) -> dict[str, Any]:
    return {
        "name": unit.name,
        "approved_beds": unit.approved_beds,
        "designation": unit.designation,
        "sexes": sorted(unit.sexes),
        "min_age": unit.min_age,
        "max_age": unit.max_age,
        "specialisms": sorted(unit.specialisms),
    }


def _unit_fields(spec: UnitSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "approved_beds": spec.approved_beds,
        "designation": spec.designation,
        "sexes": sorted(set(spec.sexes)),
        "min_age": spec.min_age,
        "max_age": spec.max_age,
        "specialisms": sorted(set(spec.specialisms)),
    }


def _check_unit(spec: UnitSpec, index: int, counts: StartingAvailability, reserved: int) -> None:
    errors = count_errors(
        approved=spec.approved_beds,
        staffed=counts.staffed_beds,
        occupied=counts.occupied_beds,
        reserved=reserved,
        reason=counts.out_of_use_reason,
        resident_flags=counts.resident_flags,
    )
    if spec.min_age > spec.max_age:
        errors.setdefault("min_age", []).append("must not be above max_age")
    if errors:
        raise InvalidInput(
            f"invalid unit {spec.slug!r}",
            errors={f"units.{index}.{k}": v for k, v in errors.items()},
        )


def _register_unit(
    session: Session, actor: Actor, provider: Provider, spec: UnitSpec, index: int, now: datetime
) -> bool:
    unit_id = f"{provider.id}/{spec.slug}"
    unit = session.get(Unit, unit_id)
    fields = _unit_fields(spec)
    if unit is None:
        start = spec.availability or StartingAvailability(staffed_beds=spec.approved_beds)
        _check_unit(spec, index, start, 0)
        unit = Unit(
            id=unit_id,
            provider=provider,
            staffed_beds=start.staffed_beds,
            occupied_beds=start.occupied_beds,
            reserved_beds=0,
            out_of_use_reason=(
                start.out_of_use_reason if start.staffed_beds < spec.approved_beds else None
            ),
            resident_flags=dict(start.resident_flags),
            updated_at=now,
            updated_by=actor.label,
            version=1,
            **fields,
        )
        session.add(unit)
        session.flush()
        record_change(session, unit, by=actor.label, cause="registered", at=now)
        after = {**_describe_unit(unit), **snapshot(unit)}
        audit.record(session, actor, "unit.register", "unit", unit_id, at=now, after=after)
        return True
    before = _describe_unit(unit)
    if before == fields:
        return False
    current = StartingAvailability(
        unit.staffed_beds, unit.occupied_beds, unit.out_of_use_reason, dict(unit.resident_flags)
    )
    _check_unit(spec, index, current, unit.reserved_beds)
    for key, value in fields.items():
        setattr(unit, key, value)
    unit.version += 1
    audit.record(
        session, actor, "unit.update", "unit", unit_id, at=now, before=before, after=fields
    )
    return True


def register(sessions: Sessions, actor: Actor, spec: ProviderSpec, *, now: datetime) -> Registered:
    """Create or update a home and its units; an identical registration changes nothing."""
    access.require(actor, "providers.register")
    check_slug(spec.id)
    slugs = [u.slug for u in spec.units]
    if len(set(slugs)) != len(slugs):
        raise InvalidInput("unit slugs repeat", errors={"units": ["each slug must be unique"]})
    with sessions.begin() as session:
        provider = session.get(Provider, spec.id, options=[selectinload(Provider.units)])
        wanted = {k: v for k, v in asdict(spec).items() if k not in ("id", "units")}
        changed = False
        if provider is None:
            provider = Provider(id=spec.id, **wanted)
            session.add(provider)
            session.flush()
            audit.record(session, actor, "provider.register", "provider", spec.id, at=now,
                         after=wanted)  # fmt: skip
            changed = True
        elif _describe_provider(provider) != wanted:
            before = _describe_provider(provider)
            for key, value in wanted.items():
                setattr(provider, key, value)
            audit.record(session, actor, "provider.update", "provider", spec.id, at=now,
                         before=before, after=wanted)  # fmt: skip
            changed = True
        for index, unit_spec in enumerate(spec.units):
            changed = _register_unit(session, actor, provider, unit_spec, index, now) or changed
        session.flush()
        session.refresh(provider)
        return Registered(_view(provider), changed)


def list_providers(sessions: Sessions, actor: Actor) -> list[ProviderView]:
    """Every home, by id (any authenticated role)."""
    with sessions.read() as session:
        rows = session.scalars(
            select(Provider).options(selectinload(Provider.units)).order_by(Provider.id)
        )
        return [_view(p) for p in rows]


def get_provider(sessions: Sessions, actor: Actor, provider_id: str) -> ProviderView:
    """One home (any authenticated role)."""
    with sessions.read() as session:
        provider = session.get(Provider, provider_id, options=[selectinload(Provider.units)])
        if provider is None:
            raise NotFound(f"provider {provider_id!r} does not exist")
        return _view(provider)


def provider_units(
    sessions: Sessions, actor: Actor, provider_id: str, *, settings: Settings, now: datetime
) -> list[UnitView]:
    """A home's units with their availability."""
    get_provider(sessions, actor, provider_id)
    return list_units(
        sessions, actor, UnitFilter(provider_id=provider_id), settings=settings, now=now
    )
