"""Match every waiting child at once: the most children placed, then the highest total score.

Data first: every eligible (child, unit) pair and its score, found with numpy. Then a min-cost-flow
relaxation (OR-Tools) that is exact except for the mix rule among the children being placed; its
value is a proven upper bound. Units where the mix rule bites are repaired by forbidding one side of
the clash there and solving again. When the repaired answer does not meet the bound and the instance
is small enough, CP-SAT starts from it (a complete hint) and proves what it can in the time left.
The answer always carries proven upper bounds on the placed count and on the score.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from solver.model import Assignment, Problem, Solution, Unplaced
from solver.rules import (
    REASONS,
    BoolArray,
    FloatArray,
    IntArray,
    child_reasons,
    distances_km,
    estate,
    flags_conflict,
)
from solver.score import COMPONENTS, score_rows

CP_SAT_MAX_PAIRS = 250_000  # above this, the repaired flow answer is returned with its bounds
FULL_REPAIR_PAIRS = 200_000  # above this, repairs solve a network of each child's best arcs
REPAIR_ARCS_PER_CHILD = 100
REPAIR_ROUNDS = 30
REPAIR_SHARE = 0.5  # of the time left after the relaxation, spent flipping side decisions


@dataclass(frozen=True)
class Pairs:
    """Every eligible (child, unit) pair, grouped by child, with its score and distance."""

    child: IntArray
    unit: IntArray
    score: IntArray
    distance_km: FloatArray
    carries: dict[str, BoolArray]  # per incompatible flag, per pair: does the child carry it

    def __len__(self) -> int:
        return len(self.child)

    def subset(self, index: IntArray) -> Pairs:
        """Return the pairs at these (ascending) positions."""
        return Pairs(
            child=self.child[index],
            unit=self.unit[index],
            score=self.score[index],
            distance_km=self.distance_km[index],
            carries={flag: carried[index] for flag, carried in self.carries.items()},
        )


@dataclass(frozen=True)
class Bounds:
    """Proven upper bounds on the placed count and on the score of the best answer."""

    placed: int
    score: int
    any_count: bool = False  # the score bound holds whatever the placed count, not only at `placed`


def eligible_pairs(problem: Problem) -> Pairs:
    """Return every eligible (child, unit) pair of the problem with its score."""
    places = estate(problem)
    children, units, scores, distances = [], [], [], []
    for c, child in enumerate(problem.children):
        distance = distances_km(child.lat, child.lon, places)
        eligible = np.flatnonzero(child_reasons(child, places, distance) == 0)
        if len(eligible) == 0:
            continue
        parts = score_rows(child, places, distance, problem.weights)
        scores.append(sum(parts[name][eligible] for name in COMPONENTS))
        units.append(eligible)
        children.append(np.full(len(eligible), c, dtype=np.int64))
        distances.append(distance[eligible])
    child = _joined(children, np.int64)
    flags = sorted({flag for pair in problem.incompatible_flags for flag in pair})
    carries = {
        flag: np.array([flag in c.flags for c in problem.children], dtype=np.bool_)[child]
        for flag in flags
    }
    return Pairs(
        child=child,
        unit=_joined(units, np.int64),
        score=_joined(scores, np.int64),
        distance_km=_joined(distances, np.float64),
        carries=carries,
    )


def _joined(parts: list[Any], dtype: Any) -> Any:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


# The flow relaxation ------------------------------------------------------------------------


class Network:
    """Source -> child (1) -> unit (one arc per eligible pair) -> sink (free beds)."""

    def __init__(self, problem: Problem, pairs: Pairs, *, any_count: bool = False) -> None:
        n, m = len(problem.children), len(problem.units)
        self.flow = min_cost_flow.SimpleMinCostFlow()
        source, sink = 0, n + m + 1
        self.arcs = self.flow.add_arcs_with_capacity_and_unit_cost(
            pairs.child + 1, pairs.unit + n + 1, np.ones(len(pairs), np.int64), -pairs.score
        )
        children = np.arange(1, n + 1, dtype=np.int64)
        self.flow.add_arcs_with_capacity_and_unit_cost(
            np.zeros(n, np.int64), children, np.ones(n, np.int64), np.zeros(n, np.int64)
        )
        beds = np.array([unit.free_beds for unit in problem.units], dtype=np.int64)
        units = np.arange(n + 1, n + m + 1, dtype=np.int64)
        self.flow.add_arcs_with_capacity_and_unit_cost(
            units, np.full(m, sink, np.int64), beds, np.zeros(m, np.int64)
        )
        if any_count:  # a way round every child, so that any number of them may be placed
            self.flow.add_arc_with_capacity_and_unit_cost(source, sink, n, 0)
        self.flow.set_node_supply(source, n)
        self.flow.set_node_supply(sink, -n)
        self.any_count = any_count

    def solve(self) -> tuple[BoolArray, int, int]:
        """Return the chosen pairs, the placed count and the score of an optimal flow."""
        flow = self.flow
        status = flow.solve() if self.any_count else flow.solve_max_flow_with_min_cost()
        if status != self.flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        chosen = self.flow.flows(self.arcs) > 0
        return chosen, int(chosen.sum()), -int(self.flow.optimal_cost())

    def close(self, forbidden: BoolArray) -> None:
        """Close the arcs of the forbidden pairs and open all the others."""
        self.flow.set_arc_capacities(self.arcs, (~forbidden).astype(np.int64))


# Repair of the mix rule ---------------------------------------------------------------------

# A side decision per (unit, incompatible pair): 0 none, 1 keep carriers of A, 2 keep carriers of B.
Sides = npt.NDArray[np.int8]
KEEP_A, KEEP_B = 1, 2


def forbidden_by(problem: Problem, pairs: Pairs, sides: Sides) -> BoolArray:
    """Return the pairs the side decisions forbid: the other side's carriers at each unit."""
    forbidden = np.zeros(len(pairs), dtype=np.bool_)
    for j, (a, b) in enumerate(problem.incompatible_flags):
        side = sides[pairs.unit, j]
        forbidden |= ((side == KEEP_A) & pairs.carries[b]) | ((side == KEEP_B) & pairs.carries[a])
    return forbidden


def decide_clashes(problem: Problem, pairs: Pairs, chosen: BoolArray, sides: Sides) -> bool:
    """Decide a side at each unit where chosen children clash; return whether any clashed.

    The side holding more placements (then more score) stays.
    """
    m = len(problem.units)
    value = pairs.score.astype(np.float64) + 1e7  # a placement outweighs any score
    found = False
    for j, (a, b) in enumerate(problem.incompatible_flags):
        ca, cb = pairs.carries[a], pairs.carries[b]
        count_a = np.bincount(pairs.unit[chosen & ca], minlength=m)
        count_b = np.bincount(pairs.unit[chosen & cb], minlength=m)
        both = np.bincount(pairs.unit[chosen & ca & cb], minlength=m)
        alone = (count_a == 1) & (count_b == 1) & (both == 1)  # one child carrying both flags
        clash = (count_a > 0) & (count_b > 0) & ~alone
        if not clash.any():
            continue
        found = True
        only_a, only_b = chosen & ca & ~cb, chosen & cb & ~ca
        keep_a = np.bincount(pairs.unit[only_a], value[only_a], m)
        keep_b = np.bincount(pairs.unit[only_b], value[only_b], m)
        sides[clash, j] = np.where(keep_a[clash] >= keep_b[clash], KEEP_A, KEEP_B)
    return found


def settle(
    problem: Problem, pairs: Pairs, network: Network, sides: Sides, deadline: float
) -> tuple[BoolArray, Sides]:
    """Solve the flow under the side decisions, deciding new clashes until the mix rule holds.

    Past the deadline (or after too many rounds) the clashing children are simply unplaced.
    """
    sides = sides.copy()
    for round_ in range(REPAIR_ROUNDS):
        if round_ and time.perf_counter() > deadline:
            break
        network.close(forbidden_by(problem, pairs, sides))
        chosen, _, _ = network.solve()
        if not decide_clashes(problem, pairs, chosen, sides):
            return chosen, sides
    return drop_clashes(problem, pairs, chosen), sides


def drop_clashes(problem: Problem, pairs: Pairs, chosen: BoolArray) -> BoolArray:
    """Unplace children until no unit holds both sides of an incompatible pair."""
    chosen = chosen.copy()
    sides = np.zeros((len(problem.units), len(problem.incompatible_flags)), dtype=np.int8)
    while decide_clashes(problem, pairs, chosen, sides):
        chosen &= ~forbidden_by(problem, pairs, sides)
    return chosen


def repair(problem: Problem, pairs: Pairs, relaxed: BoolArray, deadline: float) -> BoolArray:
    """Turn the relaxation's answer into one that keeps the mix rule, as good as time allows.

    Large instances are repaired on a smaller network (the relaxation's arcs and each child's
    best ones); then each side decision is flipped in turn and kept when the answer improves.
    """
    sides = np.zeros((len(problem.units), len(problem.incompatible_flags)), dtype=np.int8)
    if not decide_clashes(problem, pairs, relaxed, sides):
        return relaxed
    keep = relaxed | best_per_child(pairs, REPAIR_ARCS_PER_CHILD)
    local = pairs.subset(np.flatnonzero(keep)) if len(pairs) > FULL_REPAIR_PAIRS else pairs
    network = Network(problem, local)
    chosen, sides = settle(problem, local, network, sides, deadline)
    for u, j in zip(*np.nonzero(sides), strict=True):
        if time.perf_counter() > deadline:
            break
        trial = sides.copy()
        trial[u, j] = KEEP_A + KEEP_B - sides[u, j]
        flipped, flipped_sides = settle(problem, local, network, trial, deadline)
        if _value(local, flipped) > _value(local, chosen):
            chosen, sides = flipped, flipped_sides
    if local is pairs:
        return chosen
    full = np.zeros(len(pairs), dtype=np.bool_)
    full[np.flatnonzero(keep)[chosen]] = True
    return full


def best_per_child(pairs: Pairs, count: int) -> BoolArray:
    """Return each child's `count` best-scoring pairs."""
    order = np.lexsort((-pairs.score, pairs.child))
    starts = np.searchsorted(pairs.child[order], pairs.child[order], side="left")
    best = np.zeros(len(pairs), dtype=np.bool_)
    best[order[np.arange(len(pairs)) - starts < count]] = True
    return best


def fill(problem: Problem, pairs: Pairs, chosen: BoolArray) -> BoolArray:
    """Place any unplaced child in its best eligible unit that still has room and no clash."""
    chosen = chosen.copy()
    free = np.array([unit.free_beds for unit in problem.units], dtype=np.int64)
    load = np.bincount(pairs.unit[chosen], minlength=len(problem.units))
    members: dict[int, list[int]] = {}
    for c, u in zip(pairs.child[chosen].tolist(), pairs.unit[chosen].tolist(), strict=True):
        members.setdefault(u, []).append(c)
    placed = np.zeros(len(problem.children), dtype=np.bool_)
    placed[pairs.child[chosen]] = True
    starts = np.searchsorted(pairs.child, np.arange(len(problem.children) + 1))
    for c in np.flatnonzero(~placed).tolist():
        ks = np.arange(starts[c], starts[c + 1])
        ks = ks[load[pairs.unit[ks]] < free[pairs.unit[ks]]]
        for k in ks[np.argsort(-pairs.score[ks], kind="stable")].tolist():
            u = int(pairs.unit[k])
            flags = problem.children[c].flags
            others = members.get(u, [])
            if any(
                flags_conflict(flags, problem.children[o].flags, problem.incompatible_flags)
                for o in others
            ):
                continue
            chosen[k] = True
            load[u] += 1
            members.setdefault(u, []).append(c)
            break
    return chosen


# CP-SAT -------------------------------------------------------------------------------------


def add_one_unit_per_child(model: cp_model.CpModel, x: list[Any], pairs: Pairs) -> None:
    """Each child is placed at most once."""
    for ks in _groups(pairs.child):
        model.add_at_most_one(x[k] for k in ks)


def add_free_beds(model: cp_model.CpModel, x: list[Any], pairs: Pairs, problem: Problem) -> None:
    """No unit takes more children than it has free beds."""
    for ks in _groups(pairs.unit):
        beds = problem.units[int(pairs.unit[ks[0]])].free_beds
        if len(ks) > beds:
            model.add(cp_model.LinearExpr.sum([x[k] for k in ks]) <= beds)


def add_mix_rule(model: cp_model.CpModel, x: list[Any], pairs: Pairs, problem: Problem) -> None:
    """No unit ends with one child carrying flag A and a different child carrying flag B."""
    for ks in _groups(pairs.unit):
        for a, b in problem.incompatible_flags:
            only_a = [k for k in ks if pairs.carries[a][k] and not pairs.carries[b][k]]
            only_b = [k for k in ks if pairs.carries[b][k] and not pairs.carries[a][k]]
            both = [k for k in ks if pairs.carries[a][k] and pairs.carries[b][k]]
            if only_a and only_b:
                side_a = model.new_bool_var("")  # true: this unit may take A-carriers, not B
                for k in only_a:
                    model.add_implication(x[k], side_a)
                for k in only_b:
                    model.add_implication(x[k], side_a.Not())
            flagged = only_a + only_b + both
            for k in both:  # a child carrying both flags shares the unit with no other carrier
                others = [x[o] for o in flagged if o != k]
                if others:
                    model.add(cp_model.LinearExpr.sum(others) == 0).only_enforce_if(x[k])


def _groups(keys: IntArray) -> list[list[int]]:
    order = np.argsort(keys, kind="stable")
    cuts = np.flatnonzero(np.diff(keys[order])) + 1
    return [group.tolist() for group in np.split(order, cuts)] if len(keys) else []


def solve_cp_sat(
    problem: Problem,
    pairs: Pairs,
    hint: BoolArray,
    bounds: Bounds,
    time_limit_s: float,
    workers: int,
) -> tuple[BoolArray, Bounds]:
    """Improve on the hint with CP-SAT and return the best answer and the tightened bounds."""
    low, high = _score_range(problem, pairs)
    big = high - low + 1  # one more child placed is worth more than any change of score
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{k}") for k in range(len(pairs))]
    add_one_unit_per_child(model, x, pairs)
    add_free_beds(model, x, pairs, problem)
    add_mix_rule(model, x, pairs, problem)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, (big + pairs.score).tolist()))
    for k, v in enumerate(x):
        model.add_hint(v, bool(hint[k]))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return hint, bounds
    found = np.array([solver.boolean_value(v) for v in x], dtype=np.bool_)
    if _value(pairs, found) < _value(pairs, hint):
        found = hint
    ceiling = math.floor(solver.best_objective_bound + 1e-6)
    placed = int(found.sum())
    placed_bound = min(bounds.placed, (ceiling - low) // big)
    score_bound = ceiling - big * placed
    if bounds.any_count or placed == placed_bound == bounds.placed:
        score_bound = min(score_bound, bounds.score)
    return found, Bounds(placed=placed_bound, score=score_bound)


def _score_range(problem: Problem, pairs: Pairs) -> tuple[int, int]:
    """Return the lowest and highest total score any answer can have."""
    n = len(problem.children)
    best = np.zeros(n, dtype=np.int64)
    worst = np.zeros(n, dtype=np.int64)
    np.maximum.at(best, pairs.child, pairs.score)
    np.minimum.at(worst, pairs.child, pairs.score)
    return int(worst.sum()), int(best.sum())


def _value(pairs: Pairs, chosen: BoolArray) -> tuple[int, int]:
    return int(chosen.sum()), int(pairs.score[chosen].sum())


# The answer ---------------------------------------------------------------------------------


def match(problem: Problem, *, time_limit_s: float = 10.0, workers: int = 0) -> Solution:
    """Propose placements for every waiting child: most placed first, then the highest score.

    `workers` is the number of CP-SAT workers (0: one per core). The returned bounds are proven;
    `status` is "optimal" when both the placed count and the score meet them.
    """
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    pairs = eligible_pairs(problem)
    if len(pairs) == 0:
        return _solution(problem, pairs, np.zeros(0, np.bool_), Bounds(0, 0), started)
    relaxed, placed_bound, score_at_bound = Network(problem, pairs).solve()
    left = time_limit_s - (time.perf_counter() - started)
    deadline = time.perf_counter() + REPAIR_SHARE * left
    chosen = fill(problem, pairs, repair(problem, pairs, relaxed, deadline))
    bounds = Bounds(placed=placed_bound, score=score_at_bound)
    if int(chosen.sum()) < placed_bound:
        # Fewer are placed than the relaxation did: bound the score over any number placed.
        _, _, any_count_score = Network(problem, pairs, any_count=True).solve()
        bounds = Bounds(placed=placed_bound, score=any_count_score, any_count=True)
    left = time_limit_s - (time.perf_counter() - started)
    proven = _value(pairs, chosen) == (bounds.placed, bounds.score)
    if not proven and left > 0 and len(pairs) <= CP_SAT_MAX_PAIRS:
        chosen, bounds = solve_cp_sat(problem, pairs, chosen, bounds, left, workers)
    return _solution(problem, pairs, chosen, bounds, started)


def _solution(
    problem: Problem, pairs: Pairs, chosen: BoolArray, bounds: Bounds, started: float
) -> Solution:
    placed, score = _value(pairs, chosen)
    optimal = placed == bounds.placed and score == bounds.score
    assignments = tuple(
        Assignment(child_id=problem.children[c].id, unit_id=problem.units[u].id, score=int(s))
        for c, u, s in zip(
            pairs.child[chosen].tolist(),
            pairs.unit[chosen].tolist(),
            pairs.score[chosen].tolist(),
            strict=True,
        )
    )
    return Solution(
        status="optimal" if optimal else "feasible",
        placed=placed,
        placed_bound=max(bounds.placed, placed),
        score=score,
        score_bound=bounds.score,
        assignments=assignments,
        unplaced=unplaced(problem, pairs, chosen),
        solve_seconds=round(time.perf_counter() - started, 3),
    )


def unplaced(problem: Problem, pairs: Pairs, chosen: BoolArray) -> tuple[Unplaced, ...]:
    """Say why each child left unplaced is: no eligible unit, or every eligible unit taken."""
    placed = np.zeros(len(problem.children), dtype=np.bool_)
    placed[pairs.child[chosen]] = True
    has_pairs = np.zeros(len(problem.children), dtype=np.bool_)
    has_pairs[pairs.child] = True
    free = np.array([unit.free_beds for unit in problem.units], dtype=np.int64)
    load = np.bincount(pairs.unit[chosen], minlength=len(problem.units))
    members: dict[int, list[int]] = {}
    for c, u in zip(pairs.child[chosen].tolist(), pairs.unit[chosen].tolist(), strict=True):
        members.setdefault(u, []).append(c)
    places = estate(problem)
    starts = np.searchsorted(pairs.child, np.arange(len(problem.children) + 1))
    result = []
    for c in np.flatnonzero(~placed).tolist():
        child = problem.children[c]
        if not has_pairs[c]:
            mask = child_reasons(child, places, distances_km(child.lat, child.lon, places))
            counts = {r: int(((mask >> i) & 1).sum()) for i, r in enumerate(REASONS)}
            reasons = {"no_eligible_unit": {r: n for r, n in counts.items() if n}}
        else:
            units = pairs.unit[starts[c] : starts[c + 1]].tolist()
            full = sum(1 for u in units if load[u] >= free[u])
            reasons = {
                "eligible_units_taken": {
                    "eligible": len(units),
                    "full": full,
                    "mix_conflict": len(units) - full,
                }
            }
        result.append(Unplaced(child_id=child.id, reasons=reasons))
    return tuple(result)
