"""What a simulated year measured: the summary's figures for one policy and one seed."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select

from placements import statutory
from placements.models import Meeting, Placement

if TYPE_CHECKING:
    from placements.simulation.world import ChildRecord, World

UNPLACED_AT_END = "still_waiting_at_end"


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    array = np.array(values, dtype=np.float64)
    return {"median": _round(np.quantile(array, 0.5)), "p90": _round(np.quantile(array, 0.9))}


def _share(part: int, whole: int) -> float | None:
    return _round(part / whole) if whole else None


Stay = tuple[str, list[str], datetime, datetime | None]


def co_placements(world: World) -> int:
    """Children placed beside a child with a flag they must not meet (see `count_co_placements`)."""
    with world.sessions.read() as session:
        stays = session.execute(
            select(
                Placement.unit_id, Placement.flags, Placement.admitted_at, Placement.discharged_at
            ).order_by(Placement.admitted_at, Placement.id)
        ).all()
    start = world.parameters.start
    residents = [
        (r.unit_id, r.flags, start + timedelta(hours=r.leaves_h)) for r in world.initial_residents
    ]
    found = [(unit, list(flags), admitted, out) for unit, flags, admitted, out in stays]
    return count_co_placements(found, residents, world.true_pairs)


def count_co_placements(
    stays: Sequence[Stay],
    residents: Sequence[tuple[str, frozenset[str], datetime]],
    pairs: Sequence[tuple[str, str]],
) -> int:
    """Admissions into a unit holding, at that moment, a child with a flag the newcomer must not
    meet by the true flag pairs (whatever the policy checked): placed children (unit, flags,
    admitted, discharged) and those there when the year began (unit, flags, leaving)."""
    found = 0
    for unit, flags, admitted, _ in stays:
        present: set[str] = set()
        for other_unit, other_flags, other_in, other_out in stays:
            if (
                other_unit == unit
                and other_in < admitted
                and (other_out is None or other_out > admitted)
            ):
                present.update(other_flags)
        for resident_unit, resident_flags, leaves in residents:
            if resident_unit == unit and leaves > admitted:
                present.update(resident_flags)
        mine = set(flags)
        if any((a in mine and b in present) or (b in mine and a in present) for a, b in pairs):
            found += 1
    return found


def _reviews_on_time(world: World, end: datetime) -> float | None:
    """Of the reviews that fell due in the horizon, the share held by their due date."""
    with world.sessions.read() as session:
        rows = session.execute(
            select(Meeting.due_by, Meeting.held_at, Meeting.status).where(
                Meeting.kind == "review",
                Meeting.due_by.is_not(None),
                Meeting.due_by <= end,
                Meeting.status != "cancelled",
            )
        ).all()
    due = len(rows)
    on_time = sum(1 for due_by, held, _ in rows if held is not None and due_by and held <= due_by)
    return _share(on_time, due)


def _escalation_meetings(world: World) -> int:
    with world.sessions.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Meeting).where(Meeting.kind == "escalation")
            )
            or 0
        )


def _without_order_breaches(records: list[ChildRecord]) -> int:
    breaches = 0
    for r in records:
        if r.child.legal_basis != "welfare" or r.admitted_h is None:
            continue
        until = r.order_h if r.order_h is not None else r.left_h
        if until is None:
            continue
        if statutory.without_order_breach(max(0.0, until - r.admitted_h)):
            breaches += 1
    return breaches


def _occupancy(world: World) -> dict[str, dict[str, float | None]]:
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for sample in world.samples:
        for _, designation, nation, staffed, occupied, _reserved in sample["units"]:
            for key in (("designation", designation), ("nation", nation)):
                sums[key][0] += occupied
                sums[key][1] += staffed
    result: dict[str, dict[str, float | None]] = {"designation": {}, "nation": {}}
    for (kind, name), (occupied, staffed) in sorted(sums.items()):
        result[kind][name] = _round(occupied / staffed) if staffed else None
    return result


def result_of(world: World, policy: str, scenario: str | None) -> dict[str, Any]:
    """One seed's result in the shape docs/simulation.md describes."""
    records = list(world.records.values())
    made = [r for r in records if r.request_id is not None]
    placed = [r for r in made if r.admitted_h is not None]
    welfare = [r for r in made if r.child.legal_basis == "welfare"]
    welfare_placed = [r for r in welfare if r.admitted_h is not None]
    waits = [round(r.admitted_h - r.child.at_h, 4) for r in placed if r.admitted_h is not None]
    distances = [round(r.distance_km, 4) for r in placed if r.distance_km is not None]
    unplaced = Counter(
        r.reason or UNPLACED_AT_END for r in made if r.admitted_h is None and r.status != "reserved"
    )
    end = world.at(world.days * 24.0)
    waiting_series = [s["waiting"] for s in world.samples]
    welfare_series = [s["welfare_waiting"] for s in world.samples]
    metrics = {
        "referrals": len(made),
        "welfare_referrals": len(welfare),
        "placed": len(placed),
        "placed_share": _share(len(placed), len(made)),
        "welfare_placed_share": _share(len(welfare_placed), len(welfare)),
        "wait_hours": _quantiles(waits),
        "hours_without_order_breaches": _without_order_breaches(records),
        "distance_km": _quantiles(distances),
        "co_placements": co_placements(world),
        "declines_per_placement": _share(sum(r.declines for r in made), len(placed)),
        "homes_asked_per_placement": _share(sum(len(r.homes_asked) for r in placed), len(placed)),
        "reviews_on_time_share": _reviews_on_time(world, end),
        "escalation_meetings": _escalation_meetings(world),
        "occupancy": _occupancy(world),
        "unplaced": dict(sorted(unplaced.items())),
        "waiting_mean": _round(float(np.mean(waiting_series))) if waiting_series else 0.0,
        "waiting_peak": max(waiting_series, default=0),
        "welfare_waiting_mean": _round(float(np.mean(welfare_series))) if welfare_series else 0.0,
        "welfare_homes_asked_per_placement": _share(
            sum(len(r.homes_asked) for r in welfare_placed), len(welfare_placed)
        ),
    }
    series = {
        "waiting": waiting_series,
        "welfare_waiting": welfare_series,
        "occupied": [sum(u[4] for u in s["units"]) for s in world.samples],
        "staffed": [sum(u[3] for u in s["units"]) for s in world.samples],
        "free_welfare_beds": [
            sum(max(0, u[3] - u[4] - u[5]) for u in s["units"] if u[1] != "justice")
            for s in world.samples
        ],
    }
    return {
        "policy": policy,
        "seed": world.seed,
        "days": world.days,
        "scenario": scenario,
        "metrics": metrics,
        "series": series,
        "samples": {"wait_hours": waits, "distance_km": distances},
    }
