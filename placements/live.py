"""The live state as the matcher sees it: units with free beds and residents, children waiting."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

import solver
from placements.acceptance import History, likelihoods, load_history
from placements.config import Settings
from placements.models import Offer, Placement, PlacementRequest, Provider, Unit

JUSTICE_BASES = ("remand", "sentence")


def live_units(session: Session) -> tuple[list[Unit], list[solver.Unit]]:
    """Every unit of an open home, with its residents' flags (reported and placed)."""
    rows = session.scalars(
        select(Unit)
        .join(Provider)
        .where(Provider.status != "closed")
        .options(joinedload(Unit.provider))
        .order_by(Unit.id)
    ).all()
    children: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for placement in session.scalars(select(Placement).where(Placement.status == "active")):
        children[placement.unit_id].append((placement.legal_basis, placement.flags))
    reserved = session.execute(
        select(Offer.unit_id, PlacementRequest.legal_basis, PlacementRequest.flags)
        .join(PlacementRequest, PlacementRequest.id == Offer.request_id)
        .where(Offer.status == "accepted", PlacementRequest.status == "reserved")
    )
    for unit_id, legal_basis, flags in reserved:
        children[unit_id].append((legal_basis, flags))
    return list(rows), [_solver_unit(u, children[u.id]) for u in rows]


def _solver_unit(unit: Unit, children: Sequence[tuple[str, list[str]]]) -> solver.Unit:
    """A unit with its residents: those reported by the home, placed and reserved children."""
    reported = [frozenset({flag}) for flag, n in unit.resident_flags.items() for _ in range(n)]
    residents = reported + [frozenset(flags) for _, flags in children if flags]
    return solver.Unit(
        id=unit.id,
        provider_id=unit.provider_id,
        lat=unit.provider.lat,
        lon=unit.provider.lon,
        free_beds=max(0, unit.staffed_beds - unit.occupied_beds - unit.reserved_beds),
        sexes=frozenset(unit.sexes),
        min_age=unit.min_age,
        max_age=unit.max_age,
        designation=unit.designation,
        specialisms=frozenset(unit.specialisms),
        resident_flags=tuple(residents),
        justice_residents=sum(basis in JUSTICE_BASES for basis, _ in children),
    )


def child_of(
    request: PlacementRequest, history: History, providers: Sequence[str], *, now: datetime
) -> solver.Child:
    """A waiting request as the matcher's child."""
    return solver.Child(
        id=request.id,
        age=request.age,
        sex=request.sex,
        legal_basis=request.legal_basis,
        lat=request.home_lat,
        lon=request.home_lon,
        needs=frozenset(request.needs),
        flags=frozenset(request.flags),
        days_waiting=max(0, (now - request.created_at).days),
        max_distance_km=request.max_distance_km,
        exclusion_zones=tuple(solver.ExclusionZone(**z) for z in request.exclusion_zones),
        declined_by=frozenset(request.declined_by),
        acceptance=likelihoods(history, providers, request),
    )


def problem(
    units: Sequence[solver.Unit],
    children: Sequence[solver.Child],
    settings: Settings,
) -> solver.Problem:
    """The matcher's problem for these units and children under the configured flag pairs."""
    return solver.Problem(
        units=tuple(units),
        children=tuple(children),
        incompatible_flags=settings.incompatible_flags,
    )


def rank_request(session: Session, request: PlacementRequest, settings: Settings,
                 now: datetime) -> tuple[dict[str, Unit], solver.Ranking]:  # fmt: skip
    """Rank every unit for a request on the live state."""
    rows, units = live_units(session)
    providers = sorted({u.provider_id for u in units})
    child = child_of(request, load_history(session), providers, now=now)
    ranking = solver.rank(problem(units, [child], settings), request.id)
    return {u.id: u for u in rows}, ranking
