"""A study: policies x seeds (in parallel processes), the hindsight bound, calibration, report."""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solver
from placements.simulation import report
from placements.simulation.arrivals import Arrival, shortfalls
from placements.simulation.parameters import Parameters, load_parameters
from placements.simulation.policies import POLICIES
from placements.simulation.run import MAX_DAYS, Year, children_of, simulate, unit_id
from placements.simulation.scenario import Scenario
from solver.hindsight import HindsightProblem, Stay, UnitCapacity, hindsight_bound

MAX_SEEDS = 1000


class StudyError(Exception):
    """A study that cannot run as asked; the message is one line."""


@dataclass(frozen=True)
class Study:
    """What to run: policies, seeds, horizon, scenario (and what-if variants), processes."""

    policies: tuple[str, ...]
    first_seed: int
    seeds: int
    days: int
    scenario: Scenario
    jobs: int = 1
    whatif: tuple[Scenario, ...] = ()
    hindsight: bool = True


def check(study: Study) -> None:
    """Refuse a study that cannot run, with one line saying why."""
    for policy in study.policies:
        if policy not in POLICIES:
            raise StudyError(f"--policy: unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    if not 1 <= study.days <= MAX_DAYS:
        raise StudyError(f"--days: must be from 1 to {MAX_DAYS} (5 years), got {study.days}")
    if not 1 <= study.seeds <= MAX_SEEDS:
        raise StudyError(f"--seeds: must be from 1 to {MAX_SEEDS}, got {study.seeds}")
    if study.first_seed < 0:
        raise StudyError(f"--seed: must be 0 or more, got {study.first_seed}")
    if not 1 <= study.jobs <= 64:
        raise StudyError(f"--jobs: must be from 1 to 64, got {study.jobs}")


# ---------------------------------------------------------------- the hindsight bound
def _eligible(child: Arrival, units: list[solver.Unit]) -> tuple[str, ...]:
    """Units whose hard rules admit the child on an empty estate (no declines, no mix)."""
    kid = solver.Child(
        id=child.id,
        age=child.age,
        sex=child.sex,
        legal_basis=child.legal_basis,
        lat=child.home[0],
        lon=child.home[1],
        needs=frozenset(child.needs),
        flags=frozenset(),
        exclusion_zones=tuple(
            solver.ExclusionZone(z.lat, z.lon, z.radius_km) for z in child.exclusion_zones
        ),
    )
    ranking = solver.rank(solver.Problem(units=tuple(units), children=(kid,)), child.id)
    return tuple(sorted(o.unit_id for o in ranking.options))


def hindsight_problem(year: Year) -> HindsightProblem:
    """The year as a planner who knew it all would see it: stays, and beds through the year."""
    units: list[solver.Unit] = []
    capacity: list[UnitCapacity] = []
    approved = {}
    for p in year.scenario.providers:
        for u in p.units:
            uid = unit_id(p.id, u.slug)
            approved[uid] = u.approved_beds
            units.append(
                solver.Unit(
                    id=uid,
                    provider_id=p.id,
                    lat=p.lat,
                    lon=p.lon,
                    free_beds=1,
                    sexes=frozenset(u.sexes),
                    min_age=u.min_age,
                    max_age=u.max_age,
                    designation=u.designation,
                    specialisms=frozenset(u.specialisms),
                )
            )
    lost = shortfalls(year.parameters, sorted(approved.items()), year.days, year.seed)
    closed = {unit_id(o.provider_id, o.unit_slug): o for o in year.scenario.out_of_use}
    for uid, beds in sorted(approved.items()):
        steps: list[tuple[int, int]] = []
        for day in range(year.days):
            hour = day * 24
            out = sum(s.beds for s in lost if s.unit_id == uid and s.from_h <= hour + 7 < s.to_h)
            item = closed.get(uid)
            if item and item.from_day <= day < (item.to_day or year.days):
                out += item.beds
            usable = max(0, beds - out)
            if not steps or steps[-1][1] != usable:
                steps.append((hour, usable))
        capacity.append(UnitCapacity(uid, tuple(steps)))
    stays = tuple(
        Stay(
            c.id,
            int(c.at_h),
            min(math.ceil(c.at_h + c.patience_h), year.days * 24 - 1),
            max(1, int(c.stay_h)),
            _eligible(c, units),
        )
        for c in children_of(year)
    )
    return HindsightProblem(year.days * 24, stays, tuple(capacity))


def _hindsight(year: Year) -> dict[str, Any]:
    bound = hindsight_bound(
        hindsight_problem(year), deterministic_s=year.parameters.hindsight.deterministic_seconds
    )
    return {
        "seed": year.seed,
        "placed_bound": bound.placed_bound,
        "placed_found": bound.placed_found,
        "status": bound.status,
        "stays": len(children_of(year)),
    }


# ---------------------------------------------------------------- calibration
CALIBRATION = (
    (
        "welfare referrals placed",
        "about 60% (527 referred, 319 placed; Oct 2016 - Mar 2018, pub. 2020)",
        "50% to 70%",
        "welfare_placed_share",
        0.5,
        0.7,
    ),
    (
        "welfare children waiting on an average day",
        "about 25 (2021) to about 50 (2022)",
        "25 to 50",
        "welfare_waiting_mean",
        25.0,
        50.0,
    ),
    (
        "homes asked per placed welfare child",
        "about 3 attempts (pub. 2020)",
        "2 to 4",
        "welfare_homes_asked_per_placement",
        2.0,
        4.0,
    ),
)


def calibration_rows(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Today's process (send_all) beside the published figures it was not fitted to."""
    runs = [r for r in results if r["policy"] == "send_all"]
    rows = []
    for figure, published, tolerance, metric, low, high in CALIBRATION:
        values = [r["metrics"][metric] for r in runs if r["metrics"].get(metric) is not None]
        simulated = round(sum(values) / len(values), 4) if values else None
        within = None if simulated is None else low <= simulated <= high
        rows.append(
            {
                "figure": figure,
                "published": published,
                "tolerance": tolerance,
                "simulated": simulated,
                "within": within,
            }
        )
    return rows


# ---------------------------------------------------------------- running
def _years(study: Study, scenario: Scenario, parameters: Parameters) -> list[Year]:
    return [
        Year(policy, seed, study.days, scenario, parameters)
        for policy in study.policies
        for seed in range(study.first_seed, study.first_seed + study.seeds)
    ]


def _run_all(years: list[Year], hindsight: list[Year], jobs: int) -> tuple[list[Any], list[Any]]:
    if jobs == 1:
        return [simulate(y) for y in years], [_hindsight(y) for y in hindsight]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        bounds = [pool.submit(_hindsight, y) for y in hindsight]
        results = list(pool.map(simulate, years))
        return results, [b.result() for b in bounds]


def _runs(
    study: Study, scenario: Scenario, parameters: Parameters
) -> tuple[list[Any], list[Any], dict[str, Any]]:
    years = _years(study, scenario, parameters)
    seeds = sorted({y.seed for y in years})
    hindsight_years = [Year("hindsight", s, study.days, scenario, parameters) for s in seeds]
    results, bounds = _run_all(years, hindsight_years if study.hindsight else [], study.jobs)
    info = {
        "days": study.days,
        "seeds": seeds,
        "policies": list(study.policies),
        "scenario": scenario.name,
        "parameters_file": "seed/simulation.toml",
        "parameters_sha256": parameters.sha256,
        "start": parameters.start.isoformat(),
    }
    return results, bounds or [None] * len(seeds), info


def _summarise(
    results: list[Any],
    bounds: list[Any],
    info: dict[str, Any],
    whatif: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return report.summarise(
        results,
        hindsight=bounds,
        calibration=calibration_rows(results),
        parameters=info,
        whatif=whatif,
    )


@dataclass(frozen=True)
class Outcome:
    """A finished study: its summary and how long each policy-year took (wall seconds)."""

    summary: dict[str, Any]
    seconds: dict[str, list[float]]


def run_study(study: Study, out: Path, *, parameters: Parameters | None = None) -> Outcome:
    """Run the study and write DIR/summary.json and DIR/report.html.

    With what-if variants (a scenario's baseline, a sweep's steps), each variant runs the same
    policies and seeds, and the report compares them with the study's own scenario.
    """
    check(study)
    parameters = parameters or load_parameters()
    results, bounds, info = _runs(study, study.scenario, parameters)
    whatif: list[dict[str, Any]] = []
    if study.whatif:
        for variant in study.whatif:
            variant_study = Study(
                study.policies,
                study.first_seed,
                study.seeds,
                study.days,
                variant,
                study.jobs,
                hindsight=False,
            )
            found = _runs(variant_study, variant, parameters)
            whatif.append({"label": variant.name, "summary": _summarise(*found)})
        whatif.append({"label": study.scenario.name, "summary": _summarise(results, bounds, info)})
    summary = _summarise(results, bounds, info, whatif)
    out.mkdir(parents=True, exist_ok=True)
    report.write_summary(out / "summary.json", summary)
    report.write_report(out, summary, results)
    seconds: dict[str, list[float]] = {}
    for result in results:
        seconds.setdefault(result["policy"], []).append(result["seconds"])
    return Outcome(summary, seconds)
