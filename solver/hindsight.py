"""The hindsight bound: how many children a planner who knew the whole year in advance could place.

A stay admitted at hour s (arrival_h <= s <= min(latest_start_h, horizon_h - 1)) to one of its units
holds a bed there over [s, min(s + length_h, horizon_h)). At no hour may a unit hold more admitted
children than its usable beds less the residents still there (none, if residents alone fill it).
Every other rule (mixing, declines) is dropped, which can only raise the optimum: the result is an
upper bound on what any policy could place. Unit ids in a stay that name no unit are ignored.

Time is counted in days and the problem solved twice by CP-SAT, on one worker with a deterministic
time limit, so the same problem always gives the same answer (the seconds taken aside):

- The bound relaxes. Day k is checked at one hour, its last (the horizon's last for a short final
  day), against the beds free at that hour; a stay started on day d counts on day k only if it
  holds a bed at that hour whatever its hour of admission on day d (from the earliest allowed).
  Any hourly plan, each start rounded down to its day, is thus a plan of this model, so its
  optimum, and CP-SAT's proven bound on it (floored; never the incumbent), is >= the hourly one.
- The plan restricts. A stay started on day d is admitted at its earliest allowed hour that day,
  counts on every day it touches, and a day offers the fewest beds free at any of its hours: every
  plan of this model is feasible hour by hour (`plan_violations` checks it). It starts from the
  bound's plan less the stays that do not fit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

DAY_H = 24
BOUND_SHARE = 2 / 3  # of the deterministic time, at most, for the bound; the plan has the rest
MIN_PLAN_S = 0.05  # below this much deterministic time the plan is the repaired bound's plan


@dataclass(frozen=True)
class Stay:
    """A child of the year, known in advance."""

    id: str
    arrival_h: int  # hours from the start of the horizon when the request is made
    latest_start_h: int  # the last hour at which an admission still counts, >= arrival_h
    length_h: int  # hours the child stays once admitted (>= 1)
    units: tuple[str, ...]  # units eligible for the child (every other rule already applied)


@dataclass(frozen=True)
class UnitCapacity:
    """A unit's beds through the horizon, as steps."""

    unit_id: str
    steps: tuple[tuple[int, int], ...]  # (from_hour, beds usable from then on), first from hour 0
    residents_until: tuple[int, ...] = ()  # beds held at the start: the hour each resident leaves


@dataclass(frozen=True)
class HindsightProblem:
    """A year known in advance: the horizon, the children's stays and the units' beds."""

    horizon_h: int
    stays: tuple[Stay, ...]
    units: tuple[UnitCapacity, ...]


@dataclass(frozen=True)
class HindsightBound:
    """A proven upper bound on the stays admitted and the best plan found under it."""

    placed_bound: int
    placed_found: int  # <= placed_bound
    status: str  # "optimal" | "feasible" | "bound_only" (no plan was found)
    solve_seconds: float


@dataclass(frozen=True)
class Admission:
    """One stay of a plan: admitted to a unit at an hour."""

    stay_id: str
    unit_id: str
    start_h: int


@dataclass(frozen=True)
class Start:
    """A stay started on a day at a unit: it counts on days [day, until_day)."""

    stay: int
    unit: int
    day: int
    hour: int  # the earliest hour the stay may be admitted on that day
    until_day: int


@dataclass(frozen=True)
class DayModel:
    """The starts on offer and each unit's beds on each day."""

    starts: tuple[Start, ...]
    beds: tuple[tuple[int, ...], ...]


def validate(problem: HindsightProblem) -> None:
    """Raise ValueError naming the first malformed part of the problem."""
    if problem.horizon_h < 1:
        raise ValueError(f"horizon_h must be >= 1, not {problem.horizon_h}")
    for ids, kind in (
        ([s.id for s in problem.stays], "stay"),
        ([u.unit_id for u in problem.units], "unit"),
    ):
        if len(set(ids)) < len(ids):
            raise ValueError(f"{kind} ids must be unique")
    for s in problem.stays:
        if s.arrival_h < 0 or s.latest_start_h < s.arrival_h or s.length_h < 1:
            raise ValueError(
                f"stay {s.id}: need 0 <= arrival_h <= latest_start_h and length_h >= 1"
            )
    for u in problem.units:
        hours = [h for h, _ in u.steps]
        if not hours or hours[0] != 0 or hours != sorted(set(hours)):
            raise ValueError(f"unit {u.unit_id}: steps must start at hour 0, in increasing hours")
        if any(beds < 0 for _, beds in u.steps) or any(h < 0 for h in u.residents_until):
            raise ValueError(f"unit {u.unit_id}: beds and residents' hours must be >= 0")


def free_by_hour(unit: UnitCapacity, horizon_h: int) -> list[int]:
    """Beds free for admissions at each hour: usable beds less residents still there, at least 0."""
    beds = [0] * horizon_h
    ends = [h for h, _ in unit.steps[1:]] + [horizon_h]
    for (start, count), end in zip(unit.steps, ends, strict=True):
        beds[start:end] = [count] * max(0, min(end, horizon_h) - start)
    leaving = [0] * (horizon_h + 1)
    for until in unit.residents_until:
        leaving[min(until, horizon_h)] += 1
    held = len(unit.residents_until)
    for t in range(horizon_h):
        held -= leaving[t]
        beds[t] = max(0, beds[t] - held)
    return beds


def day_model(problem: HindsightProblem, *, relaxed: bool) -> DayModel:
    """The days' starts and beds: a relaxation of the hourly problem, or a restriction of it."""
    horizon, days = problem.horizon_h, -(-problem.horizon_h // DAY_H)
    index = {u.unit_id: k for k, u in enumerate(problem.units)}
    starts = []
    for i, stay in enumerate(problem.stays):
        last = min(stay.latest_start_h, horizon - 1)
        units = sorted({index[u] for u in stay.units if u in index})
        for d in (
            range(stay.arrival_h // DAY_H, last // DAY_H + 1) if stay.arrival_h <= last else ()
        ):
            hour = max(stay.arrival_h, d * DAY_H)
            end = hour + stay.length_h
            if relaxed:  # the days whose last hour it surely covers
                until = days if end >= horizon else end // DAY_H
            else:  # every day it touches
                until = -(-min(end, horizon) // DAY_H)
            starts += [Start(i, u, d, hour, until) for u in units]
    beds = []
    for unit in problem.units:
        free = free_by_hour(unit, horizon)
        if relaxed:
            beds.append(tuple(free[min(k * DAY_H + DAY_H, horizon) - 1] for k in range(days)))
        else:
            beds.append(tuple(min(free[k * DAY_H : (k + 1) * DAY_H]) for k in range(days)))
    return DayModel(tuple(starts), tuple(beds))


def add_one_admission_per_stay(model: cp_model.CpModel, x: list[Any], days: DayModel) -> None:
    """Each stay is admitted at most once, on one day to one unit."""
    by_stay: dict[int, list[Any]] = {}
    for k, start in enumerate(days.starts):
        by_stay.setdefault(start.stay, []).append(x[k])
    for chosen in by_stay.values():
        model.add_at_most_one(chosen)


def add_beds_per_day(model: cp_model.CpModel, x: list[Any], days: DayModel) -> None:
    """No unit holds more stays on a day than the beds it offers that day."""
    for u, beds in enumerate(days.beds):
        change: list[list[tuple[Any, int]]] = [[] for _ in beds]  # (start, +1 in / -1 out) by day
        for k, start in enumerate(days.starts):
            if start.unit == u and start.until_day > start.day:
                change[start.day].append((x[k], 1))
                if start.until_day < len(beds):
                    change[start.until_day].append((x[k], -1))
        held: Any = 0  # occupancy carried day to day, so each start sits in two rows, not many
        for day, moves in enumerate(change):
            if moves:
                now = model.new_int_var(0, beds[day], "")
                variables, signs = zip(*moves, strict=True)
                model.add(now == held + cp_model.LinearExpr.weighted_sum(variables, signs))
                held = now
            elif not isinstance(held, int):
                model.add(held <= beds[day])


def solve(days: DayModel, budget_s: float, hint: list[int]) -> tuple[list[int] | None, int, float]:
    """Maximise the stays admitted: (the chosen starts or None, the proven bound, time used)."""
    model = cp_model.CpModel()
    x = [model.new_bool_var("") for _ in days.starts]
    add_one_admission_per_stay(model, x, days)
    add_beds_per_day(model, x, days)
    model.maximize(sum(x))
    on = set(hint)
    model.proto.solution_hint.vars.extend(v.index for v in x)
    model.proto.solution_hint.values.extend(int(k in on) for k in range(len(x)))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # one worker and deterministic time: reproducible answers
    solver.parameters.max_deterministic_time = budget_s
    status = solver.solve(model)
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"hindsight model invalid: {model.validate()}")
    stays = len({s.stay for s in days.starts})
    bound = min(stays, math.floor(solver.best_objective_bound + 1e-6))
    used = solver.response_proto.deterministic_time
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, bound, used
    return [k for k, v in enumerate(x) if solver.boolean_value(v)], bound, used


def fit(days: DayModel, chosen: list[int]) -> list[int]:
    """Keep the chosen starts, earliest day first, that still fit in the days' beds."""
    held = [[0] * len(beds) for beds in days.beds]
    kept = []
    for k in sorted(chosen, key=lambda k: (days.starts[k].day, k)):
        s = days.starts[k]
        span = range(s.day, s.until_day)
        if all(held[s.unit][d] < days.beds[s.unit][d] for d in span):
            for d in span:
                held[s.unit][d] += 1
            kept.append(k)
    return kept


def hindsight_plan(
    problem: HindsightProblem, *, deterministic_s: float = 60.0
) -> tuple[HindsightBound, tuple[Admission, ...]]:
    """Return the hindsight bound and the plan found under it (feasible hour by hour)."""
    validate(problem)
    if deterministic_s <= 0:
        raise ValueError(f"deterministic_s must be > 0, not {deterministic_s}")
    began = time.perf_counter()
    relaxed, restricted = day_model(problem, relaxed=True), day_model(problem, relaxed=False)
    chosen, bound, used = solve(relaxed, deterministic_s * BOUND_SHARE, [])
    # The two models list the same (stay, unit, day) starts in the same order.
    plan = fit(restricted, chosen or [])
    searched = chosen is not None
    if len(plan) < bound and deterministic_s - used >= MIN_PLAN_S:
        better, _, _ = solve(restricted, deterministic_s - used, plan)
        searched = searched or better is not None
        plan = better if better is not None and len(better) > len(plan) else plan
    found = len(plan)
    status = "optimal" if found == bound else "feasible" if searched else "bound_only"
    admissions = tuple(
        Admission(problem.stays[s.stay].id, problem.units[s.unit].unit_id, s.hour)
        for s in (restricted.starts[k] for k in sorted(plan))
    )
    return HindsightBound(bound, found, status, time.perf_counter() - began), admissions


def hindsight_bound(problem: HindsightProblem, *, deterministic_s: float = 60.0) -> HindsightBound:
    """Return a proven upper bound on the stays a planner knowing the year could admit."""
    return hindsight_plan(problem, deterministic_s=deterministic_s)[0]


def plan_violations(problem: HindsightProblem, plan: tuple[Admission, ...]) -> list[str]:
    """Return every way the plan breaks the hourly rules, in words; empty when it is feasible."""
    stays = {s.id: s for s in problem.stays}
    units = {u.unit_id: u for u in problem.units}
    found: list[str] = []
    held = {u: [0] * problem.horizon_h for u in units}
    for a in plan:
        stay = stays.get(a.stay_id)
        if stay is None or a.unit_id not in units or a.unit_id not in stay.units:
            found.append(f"{a.stay_id} at {a.unit_id}: unknown stay or unit not eligible")
            continue
        if not stay.arrival_h <= a.start_h <= min(stay.latest_start_h, problem.horizon_h - 1):
            found.append(f"{a.stay_id} admitted at hour {a.start_h}, outside its window")
            continue
        for t in range(a.start_h, min(a.start_h + stay.length_h, problem.horizon_h)):
            held[a.unit_id][t] += 1
    if len({a.stay_id for a in plan}) < len(plan):
        found.append("a stay is admitted more than once")
    for unit_id, counts in held.items():
        free = free_by_hour(units[unit_id], problem.horizon_h)
        over = [t for t, n in enumerate(counts) if n > free[t]]
        found += [f"{unit_id} over its free beds from hour {over[0]}"] if over else []
    return found
