"""The live state as the matcher sees it: units with free beds and residents, children waiting."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select, union_all
from sqlalchemy.orm import Session

import solver
from placements.acceptance import (
    History,
    Segment,
    likelihoods,
    load_history,
    segment_of,
    segment_tallies,
)
from placements.config import Settings
from placements.models import Offer, Placement, PlacementRequest, Provider, Unit

JUSTICE_BASES = ("remand", "sentence")


def live_units(session: Session) -> tuple[list[LiveUnit], list[solver.Unit]]:
    """Every unit of an open home as read (its columns), and as the matcher sees it: with its
    residents' flags (reported, placed and reserved)."""
    rows = [LiveUnit._make(r) for r in session.connection().execute(LIVE_UNIT_COLUMNS).all()]
    children = _children_by_unit(session)
    return rows, [_solver_unit(r, children[r.id]) for r in rows]


@dataclass(frozen=True)
class UnitName:
    """What a ranking shows of a unit beside its id: its name and its home's."""

    name: str
    provider_name: str


# The units of open homes as the matcher needs them: only the columns it reads, no ORM objects.
LIVE_UNIT_COLUMNS = (
    select(
        Unit.id,
        Unit.provider_id,
        Unit.name,
        Unit.staffed_beds,
        Unit.occupied_beds,
        Unit.reserved_beds,
        Unit.sexes,
        Unit.min_age,
        Unit.max_age,
        Unit.designation,
        Unit.specialisms,
        Unit.resident_flags,
        Unit.version,
        Unit.updated_at,
        Provider.name.label("provider_name"),
        Provider.lat,
        Provider.lon,
        Provider.nation,
        Provider.status.label("provider_status"),
    )
    .join(Provider, Provider.id == Unit.provider_id)
    .where(Provider.status != "closed")
    .order_by(Unit.id)
)

# Each unit's children, placed (active placements) and reserved (accepted offers of reserved
# requests), as (unit, legal basis, flags), in one statement.
CHILDREN_BY_UNIT = union_all(
    select(Placement.unit_id, Placement.legal_basis, Placement.flags).where(
        Placement.status == "active"
    ),
    select(Offer.unit_id, PlacementRequest.legal_basis, PlacementRequest.flags)
    .join(PlacementRequest, PlacementRequest.id == Offer.request_id)
    # Reserved requests are few and accepted offers many: `|| ''` keeps SQLite (with no table
    # statistics) from starting at the offers' status index; it starts at the requests'.
    .where(Offer.status.op("||")("") == "accepted", PlacementRequest.status == "reserved"),
)


class LiveUnit(NamedTuple):
    """A row of `LIVE_UNIT_COLUMNS` (a plain tuple: its fields read faster than a row's)."""

    id: str
    provider_id: str
    name: str
    staffed_beds: int
    occupied_beds: int
    reserved_beds: int
    sexes: list[str]
    min_age: int
    max_age: int
    designation: str
    specialisms: list[str]
    resident_flags: dict[str, int]
    version: int
    updated_at: datetime
    provider_name: str
    lat: float
    lon: float
    nation: str
    provider_status: str


def live_unit_names(session: Session) -> tuple[dict[str, UnitName], list[solver.Unit]]:
    """Like `live_units`, with only the units' names beside them."""
    rows, units = live_units(session)
    return {r.id: UnitName(r.name, r.provider_name) for r in rows}, units


def live_unit(connection: Connection, unit_id: str) -> solver.Unit | None:
    """One unit of an open home as the matcher sees it (None if there is none): what
    `live_unit_names` gives for it, read for that unit alone (on a session's connection or a
    bare one, `Sessions.read_rows`)."""
    row = connection.execute(LIVE_UNIT, {"unit_id": unit_id}).first()
    if row is None:
        return None
    placed = connection.execute(CHILDREN_OF_UNIT, {"unit_id": unit_id})
    return _solver_unit(LiveUnit._make(row), [(b, f) for b, f in placed])


LIVE_UNIT = LIVE_UNIT_COLUMNS.where(Unit.id == bindparam("unit_id"))
_CHILDREN = CHILDREN_BY_UNIT.subquery()
CHILDREN_OF_UNIT = select(_CHILDREN.c.legal_basis, _CHILDREN.c.flags).where(
    _CHILDREN.c.unit_id == bindparam("unit_id")
)


def _children_by_unit(session: Session) -> dict[str, list[tuple[str, list[str]]]]:
    """Each unit's placed and reserved children: (legal basis, flags)."""
    children: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for unit_id, legal_basis, flags in session.connection().execute(CHILDREN_BY_UNIT).all():
        children[unit_id].append((legal_basis, flags))
    return children


def _solver_unit(unit: LiveUnit, children: Sequence[tuple[str, list[str]]]) -> solver.Unit:
    """A unit's columns with its residents: those reported by the home, placed and reserved
    children."""
    reported = [frozenset({flag}) for flag, n in unit.resident_flags.items() for _ in range(n)]
    residents = reported + [frozenset(flags) for _, flags in children if flags]
    return solver.Unit(
        id=unit.id,
        provider_id=unit.provider_id,
        lat=unit.lat,
        lon=unit.lon,
        free_beds=max(0, unit.staffed_beds - unit.occupied_beds - unit.reserved_beds),
        sexes=frozenset(unit.sexes),
        min_age=unit.min_age,
        max_age=unit.max_age,
        designation=unit.designation,
        specialisms=frozenset(unit.specialisms),
        resident_flags=tuple(residents),
        justice_residents=sum(basis in JUSTICE_BASES for basis, _ in children),
    )


class MatchingFacts(NamedTuple):
    """A request's facts as matching reads them (a row of `MATCHING_FACTS`, no ORM object)."""

    id: str
    age: int
    sex: str
    legal_basis: str
    home_lat: float
    home_lon: float
    needs: list[str]
    flags: list[str]
    created_at: datetime
    updated_at: datetime
    max_distance_km: float | None
    exclusion_zones: list[dict[str, float]]
    declined_by: list[str]


# Requests' facts for matching, oldest first; the waiting ones, and those with given ids.
MATCHING_FACTS = select(
    *(getattr(PlacementRequest, name) for name in MatchingFacts._fields)
).order_by(PlacementRequest.created_at, PlacementRequest.id)
WAITING_FACTS = MATCHING_FACTS.where(PlacementRequest.status == "waiting")
FACTS_BY_ID = MATCHING_FACTS.where(PlacementRequest.id.in_(bindparam("ids", expanding=True)))


def matching_facts(session: Session, statement: Any, **params: Any) -> list[MatchingFacts]:
    """The facts of the requests a statement of `MATCHING_FACTS` selects."""
    return [MatchingFacts._make(r) for r in session.connection().execute(statement, params)]


def child_of(
    request: PlacementRequest | MatchingFacts,
    history: History,
    providers: Sequence[str],
    *,
    now: datetime,
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
        weights=settings.weights,
    )


# What a ranking reads: the units' names, the units, the acceptance history and the homes.
LiveState = tuple[dict[str, UnitName], list[solver.Unit], History, list[str]]


class Ranker:
    """Ranks requests on one read of the live units and the acceptance totals (taken on first
    use), so that several requests ranked in one transaction read the state once; each kind of
    request's acceptance tallies are read when a request of that kind is first ranked."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        now: datetime,
        state: LiveState | None = None,
        kinds: set[Segment] | None = None,
    ) -> None:
        """Rank on the live state read through `session`, or on a `state` already read (whose
        history holds the tallies of `kinds`)."""
        self.session, self.settings, self.now = session, settings, now
        self._state = state
        self._kinds: set[Segment] = set(kinds or ())

    def _read(self) -> LiveState:
        if self._state is None:
            names, units = live_unit_names(self.session)
            providers = sorted({u.provider_id for u in units})
            self._state = names, units, load_history(self.session, ()), providers
        return self._state

    @property
    def names(self) -> dict[str, UnitName]:
        """The live units' names, by id."""
        return self._read()[0]

    def rank(self, request: PlacementRequest) -> solver.Ranking:
        """The request's ranking on the live state."""
        _, units, history, providers = self._read()
        kind = segment_of(request)
        if kind not in self._kinds:
            history.add_tallies(segment_tallies(self.session, [kind]))
            self._kinds.add(kind)
        child = child_of(request, history, providers, now=self.now)
        return solver.rank(problem(units, [child], self.settings), request.id)


def rank_request(session: Session, request: PlacementRequest, settings: Settings,
                 now: datetime) -> tuple[dict[str, UnitName], solver.Ranking]:  # fmt: skip
    """Rank every unit for a request on the live state; the units' names beside it."""
    ranker = Ranker(session, settings, now)
    return ranker.names, ranker.rank(request)
