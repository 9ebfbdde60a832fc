"""Match every waiting child at once: the most children placed, then the highest total score.

Data first: every eligible (child, unit) pair and its score, found with numpy by blocks of children
(`solver.pairs`). Then a min-cost-flow relaxation (OR-Tools) that is exact except for the mix rule
among the children being placed; its value is a proven upper bound. Units where the mix rule bites
get a side decision (keep the A-carriers, keep the B-carriers, or keep at most one carrier, which
houses a child carrying both flags) and the flow is solved again under them, on a smaller network
for large instances, until nothing clashes; when only one more solve fits before the deadline,
every undecided unit is decided as it stands so that it is clash-free. On large instances, the
flows that bound the score of answers placing a little fewer run meanwhile in a child process, on
the second core. Up to mid-size, the linear relaxation with the mix rule (GLOP, `solver.lp`)
tightens the score bound, and CP-SAT starts from the repaired answer (a complete hint) when there
is time to build it. The answer always carries proven upper bounds.

Every phase takes its time from one deadline (`solver.budget`). The flows cannot be stopped once
started, so each starts only if its estimate ends in time; without time for the relaxation, a
greedy answer is improved by a repaired flow over each child's best pairs, and bounds that need
no flow are given.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from solver.budget import MARGIN, NETWORK_S_PER_PAIR, Clock, best_s, fill_s, flow_s
from solver.lp import mix_lp_bound
from solver.model import Assignment, Problem, Solution, Unplaced
from solver.pairs import blocks
from solver.rules import (
    REASONS,
    BoolArray,
    FloatArray,
    IntArray,
    children_masks,
    estate,
    flags_conflict,
)

CP_SAT_MAX_PAIRS = 250_000  # above this, the repaired flow answer is returned with its bounds
CP_SAT_BUILD_S_PER_PAIR = 40e-6  # CP-SAT runs only when the time left is twice its build time
CP_SAT_OVERRUN_S = 0.05  # CP-SAT may end this much after its own time limit
CP_SAT_READ_S_PER_PAIR = 1e-6  # reading its answer back
CP_SAT_MIN_SEARCH_S = 0.01  # with less than this to search once the model is built, no search
LP_MAX_PAIRS = 100_000  # up to this, the linear relaxation with the mix rule tightens the bound
LP_S_PER_PAIR = 30e-6  # and it runs only when the time left covers this much per pair
FULL_REPAIR_PAIRS = 200_000  # above this, repairs solve a network of each child's best arcs
REPAIR_ARCS_PER_CHILD = 100
REPAIR_ROUNDS = 30
REPAIR_MIN_ROUNDS = 3  # a repair given time for fewer rounds than this takes all the time left
LOCK_ROUND_FACTOR = 1.5  # the round deciding every unit takes up to this times a round before it
REPAIR_SHARE = 0.5  # of the time left after the relaxation, spent flipping side decisions
# (the rest is for the LP and CP-SAT; above their sizes, the repair takes it all)
BOUND_RESERVE = 1.3  # times the relaxation's time, kept for a second bounding flow
PARALLEL_BOUND_PAIRS = 2_000_000  # from here, with 2 workers, that flow runs in another process
AT_LEAST_SHARE = 0.001  # the flow solved aside places at least this share fewer than the most
# That process is started before the pairs are found (it finds them too, at the same time), from
# this many (child, unit) cells, and stopped at once if fewer pairs than the above are eligible.
PARALLEL_BOUND_CELLS = 15_000_000


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
    children, units, scores, distances = [], [], [], []
    for first, rows, block_units, score, distance in blocks(problem):
        children.append(rows + first)
        units.append(block_units)
        scores.append(score)
        distances.append(distance)
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
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


# A side decision per (unit, incompatible pair): 0 none, 1 keep carriers of A, 2 keep carriers of B,
# 3 keep at most one carrier of either flag (the way to house a child carrying both).
Sides = npt.NDArray[np.int8]
KEEP_A, KEEP_B, SOLO = 1, 2, 3


# The flow relaxation ------------------------------------------------------------------------


class Network:
    """Source -> child (1) -> unit (one arc per eligible pair) -> sink (free beds).

    With `solo`, each unit also has a side node with one arc of capacity 0 or 1 into the unit,
    and each pair whose child carries an incompatible flag a second arc into that node: a unit
    decided SOLO takes its carriers only through it, so at most one of them.
    """

    def __init__(
        self,
        problem: Problem,
        pairs: Pairs,
        *,
        solo: bool = False,
    ) -> None:
        n, m = len(problem.children), len(problem.units)
        self.flow = min_cost_flow.SimpleMinCostFlow()
        source, sink = 0, n + 2 * m + 1
        self.arcs = self.flow.add_arcs_with_capacity_and_unit_cost(
            pairs.child + 1, pairs.unit + n + 1, np.ones(len(pairs), np.int64), -pairs.score
        )
        self.carriers = np.zeros(0, dtype=np.int64)
        if solo:
            self.carriers = np.flatnonzero(_carrier(pairs))
            c = self.carriers
            self.solo_arcs = self.flow.add_arcs_with_capacity_and_unit_cost(
                pairs.child[c] + 1,
                pairs.unit[c] + n + m + 1,
                np.zeros(len(c), np.int64),
                -pairs.score[c],
            )
            self.solo_units = self.flow.add_arcs_with_capacity_and_unit_cost(
                np.arange(n + m + 1, n + 2 * m + 1, dtype=np.int64),
                np.arange(n + 1, n + m + 1, dtype=np.int64),
                np.zeros(m, np.int64),
                np.zeros(m, np.int64),
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
        # A way round the children, closed until `at_least` opens it.
        self.bypass = self.flow.add_arc_with_capacity_and_unit_cost(source, sink, 0, 0)
        self.children = n
        self.flow.set_node_supply(source, n)
        self.flow.set_node_supply(sink, -n)
        self.any_count = False
        self.solo = solo

    def solve(self) -> tuple[BoolArray, int, int]:
        """Return the chosen pairs, the placed count and the score of an optimal flow."""
        flow = self.flow
        status = flow.solve() if self.any_count else flow.solve_max_flow_with_min_cost()
        if status != self.flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        chosen = self.flow.flows(self.arcs) > 0
        if self.solo:
            chosen[self.carriers] |= self.flow.flows(self.solo_arcs) > 0
        return chosen, int(chosen.sum()), -int(self.flow.optimal_cost())

    def at_least(self, placed: int) -> None:
        """From now on, place any number of children from `placed` up, for the best score."""
        self.flow.set_arc_capacity(self.bypass, self.children - placed)
        self.any_count = True

    def close(
        self, forbidden: BoolArray, sides: Sides | None = None, via: BoolArray | None = None
    ) -> None:
        """Close the forbidden pairs' arcs; with sides, send `via` pairs through the side nodes."""
        if sides is None or via is None or not self.solo:
            self.flow.set_arc_capacities(self.arcs, (~forbidden).astype(np.int64))
            return
        self.flow.set_arc_capacities(self.arcs, (~forbidden & ~via).astype(np.int64))
        solo_open = (~forbidden & via)[self.carriers]
        self.flow.set_arc_capacities(self.solo_arcs, solo_open.astype(np.int64))
        self.flow.set_arc_capacities(self.solo_units, (sides == SOLO).any(axis=1).astype(np.int64))


def _carrier(pairs: Pairs) -> BoolArray:
    """Per pair: does its child carry any incompatible flag."""
    carrier = np.zeros(len(pairs), dtype=np.bool_)
    for carried in pairs.carries.values():
        carrier |= carried
    return carrier


# Repair of the mix rule ---------------------------------------------------------------------


def forbidden_by(problem: Problem, pairs: Pairs, sides: Sides) -> BoolArray:
    """Return the pairs the side decisions forbid: the other side's carriers at each unit."""
    forbidden = np.zeros(len(pairs), dtype=np.bool_)
    for j, (a, b) in enumerate(problem.incompatible_flags):
        side = sides[pairs.unit, j]
        forbidden |= ((side == KEEP_A) & pairs.carries[b]) | ((side == KEEP_B) & pairs.carries[a])
    return forbidden


def through_solo(problem: Problem, pairs: Pairs, sides: Sides) -> BoolArray:
    """Return the pairs of carriers at units decided SOLO for one of the carried flags' pairs."""
    via = np.zeros(len(pairs), dtype=np.bool_)
    for j, (a, b) in enumerate(problem.incompatible_flags):
        via |= (sides[pairs.unit, j] == SOLO) & (pairs.carries[a] | pairs.carries[b])
    return via


def decide_clashes(
    problem: Problem, pairs: Pairs, chosen: BoolArray, sides: Sides, *, solo: bool = True
) -> bool:
    """Decide a side at each unit where chosen children clash; return whether any clashed.

    The side holding more placements (then more score) stays; with `solo`, keeping only the best
    single carrier is a third choice, which is how a child carrying both flags keeps its place.
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
        keep: list[FloatArray] = [
            np.bincount(pairs.unit[only_a], value[only_a], m).astype(np.float64),
            np.bincount(pairs.unit[only_b], value[only_b], m).astype(np.float64),
        ]
        if solo:
            carriers = chosen & (ca | cb)
            single = np.zeros(m, dtype=np.float64)
            np.maximum.at(single, pairs.unit[carriers], value[carriers])
            keep.append(single)
        best = np.argmax(np.stack(keep), axis=0).astype(np.int8) + 1
        sides[clash, j] = best[clash]
    return found


def settle(
    problem: Problem,
    pairs: Pairs,
    network: Network,
    sides: Sides,
    chosen: BoolArray,
    deadline: float,
    round_s: float,
) -> tuple[BoolArray, Sides, float] | None:
    """Solve the flow under the side decisions, deciding new clashes until the mix rule holds.

    `chosen` is the answer the decisions were taken on. Return the answer, the decisions and how
    long the next round should take. A round starts only if one as long as the last (the first:
    `round_s`) and then a last round would end by the deadline; the last round (which takes up to
    `LOCK_ROUND_FACTOR` times as long) decides every unit first as the answer before it stands, so
    that it cannot clash. None when not even a last round fits.
    """
    sides = sides.copy()
    solved = False
    for round_ in range(REPAIR_ROUNDS + 1):
        began = time.perf_counter()
        last_s = LOCK_ROUND_FACTOR * round_s
        if began + last_s > deadline:
            break
        if round_ == REPAIR_ROUNDS or began + round_s + last_s > deadline:
            lock_all(problem, pairs, chosen, sides)
        via = through_solo(problem, pairs, sides)
        network.close(forbidden_by(problem, pairs, sides), sides, via)
        chosen, _, _ = network.solve()
        solved = True
        # The next round may take longer (the last, which decides every unit, often does).
        round_s = MARGIN * (time.perf_counter() - began)
        if not decide_clashes(problem, pairs, chosen, sides):
            return chosen, sides, round_s
        if (sides > 0).all():
            break
    if not solved:
        return None
    return drop_clashes(problem, pairs, chosen), sides, round_s


def lock_all(problem: Problem, pairs: Pairs, chosen: BoolArray, sides: Sides) -> None:
    """Decide every undecided unit: the side its chosen carriers hold, else at most one carrier."""
    m = len(problem.units)
    for j, (a, b) in enumerate(problem.incompatible_flags):
        ca, cb = pairs.carries[a], pairs.carries[b]
        has_a = np.bincount(pairs.unit[chosen & ca & ~cb], minlength=m) > 0
        has_b = np.bincount(pairs.unit[chosen & cb & ~ca], minlength=m) > 0
        open_ = sides[:, j] == 0
        sides[open_, j] = np.where(has_a[open_], KEEP_A, np.where(has_b[open_], KEEP_B, SOLO))


def drop_clashes(problem: Problem, pairs: Pairs, chosen: BoolArray) -> BoolArray:
    """Unplace children until no unit holds both sides of an incompatible pair."""
    chosen = chosen.copy()
    sides = np.zeros((len(problem.units), len(problem.incompatible_flags)), dtype=np.int8)
    while decide_clashes(problem, pairs, chosen, sides, solo=False):
        chosen &= ~forbidden_by(problem, pairs, sides)
    return chosen


def repair(
    problem: Problem,
    pairs: Pairs,
    relaxed: BoolArray,
    deadline: float,
    *,
    pace: float = 1.0,
) -> BoolArray:
    """Turn the relaxation's answer into one that keeps the mix rule, as good as time allows.

    Large instances are repaired on a smaller network (the relaxation's arcs and each child's
    best ones); then each side decision is changed in turn and kept when the answer improves.
    Nothing is started that would not end by the deadline (estimated at this `pace`); without time
    for one flow, the relaxation's clashing children are unplaced.
    """
    sides = np.zeros((len(problem.units), len(problem.incompatible_flags)), dtype=np.int8)
    if not decide_clashes(problem, pairs, relaxed, sides):
        return relaxed
    local, start = pairs, relaxed
    if len(pairs) > FULL_REPAIR_PAIRS:
        if time.perf_counter() + MARGIN * pace * best_s(len(pairs)) > deadline:
            return drop_clashes(problem, pairs, relaxed)
        keep = relaxed | best_per_child(pairs, REPAIR_ARCS_PER_CHILD)
        local, start = pairs.subset(np.flatnonzero(keep)), relaxed[keep]
    # The side network has a second arc for each pair of a carrier.
    arcs = len(local) + int(np.count_nonzero(_carrier(local)))
    round_s = MARGIN * pace * flow_s(arcs)
    build_s = MARGIN * pace * NETWORK_S_PER_PAIR * arcs
    if time.perf_counter() + build_s + LOCK_ROUND_FACTOR * round_s > deadline:
        return drop_clashes(problem, pairs, relaxed)
    network = Network(problem, local, solo=True)
    began = time.perf_counter()
    settled = settle(problem, local, network, sides, start, deadline, round_s)
    if settled is None:
        return drop_clashes(problem, pairs, relaxed)
    chosen, sides, round_s = settled
    settle_s = time.perf_counter() - began  # a trial starts only if one as long would end in time
    for u, j in zip(*np.nonzero(sides), strict=True):
        for other in (KEEP_A, KEEP_B, SOLO):
            if time.perf_counter() + settle_s > deadline:
                break
            if other == sides[u, j]:
                continue
            trial = sides.copy()
            trial[u, j] = other
            began = time.perf_counter()
            changed = settle(problem, local, network, trial, chosen, deadline, round_s)
            settle_s = time.perf_counter() - began
            if changed is not None and _value(local, changed[0]) > _value(local, chosen):
                chosen, sides, round_s = changed
        else:
            continue
        break
    if local is pairs:
        return chosen
    full = np.zeros(len(pairs), dtype=np.bool_)
    full[np.flatnonzero(keep)[chosen]] = True
    return full


def best_per_child(pairs: Pairs, count: int) -> BoolArray:
    """Return about each child's `count` best-scoring pairs (and any tied with the last)."""
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.bool_)
    low = int(pairs.score.min())
    span = int(pairs.score.max()) - low + 1
    n = int(pairs.child.max()) + 1
    cells = pairs.child * span + (pairs.score - low)
    # Per child, how many pairs score at least each value: the lowest value with `count` of them.
    at_least = np.bincount(cells, minlength=n * span).reshape(n, span)[:, ::-1].cumsum(axis=1)
    reached = at_least >= count
    first = np.where(reached.any(axis=1), reached.argmax(axis=1), span - 1)
    threshold = low + span - 1 - first
    best: BoolArray = pairs.score >= threshold[pairs.child]
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


# Bounds for answers placing fewer, solved in another process ------------------------------


def _bound_aside(problem: Problem, workers: int) -> bool:
    """Whether to start solving the bounds for answers placing fewer beside the relaxation."""
    cells = len(problem.children) * len(problem.units)
    return workers >= 2 and cells >= PARALLEL_BOUND_CELLS


def score_from_at_least(problem: Problem) -> tuple[int, int] | None:
    """Return (k, the best score of the flow relaxation placing at least k children), or None.

    k is `AT_LEAST_SHARE` below the most children the relaxation can place. That most is first
    taken as the bound that needs no flow, which is often exact and saves a max flow; when no flow
    places k, the failed solve tells the most (its own max flow, less the bypass), and k is taken
    below that.
    """
    pairs = eligible_pairs(problem)
    if len(pairs) == 0:
        return None
    network = Network(problem, pairs)
    flow = network.flow
    most = bounds_without_flow(problem, pairs).placed
    for _ in range(2):
        least = most - math.ceil(AT_LEAST_SHARE * most)
        network.at_least(least)
        status = flow.solve()
        if status == flow.OPTIMAL:
            return least, -int(flow.optimal_cost())
        if status != flow.INFEASIBLE:
            break
        most = int(flow.maximum_flow()) - (len(problem.children) - least)
    return None


def bound_below(placed: int, least: int, at_least: int, most: int, at_most: int) -> int | None:
    """Bound the score of answers placing at least `placed`, from two at-least flows.

    The best score over answers placing at least j is concave and non-increasing in j (a
    min-cost flow's cost is convex in its value), so below `least` it lies under the line through
    its values at `least` and at `most`. None below `least` when `least` is `most`: one point
    gives no line.
    """
    if placed >= least:
        return at_least
    if most <= least:
        return None
    slope = (at_least - at_most) / (most - least)
    return math.ceil(at_least + (least - placed) * max(0.0, slope) - 1e-9)


def _at_least_main() -> None:
    """In the child process: read the pickled problem named by argv[1], print `k score`."""
    with open(sys.argv[1], "rb") as file:
        problem = pickle.load(file)
    found = score_from_at_least(problem)
    if found is not None:
        print(*found, flush=True)


AT_LEAST_CODE = "from solver.match import _at_least_main; _at_least_main()"  # the child's program
STOP_WAIT_S = 0.05  # after SIGTERM, how long the child may take to end before SIGKILL


class _AtLeastBounds:
    """`score_from_at_least` of the problem, solved by a child Python process started at once.

    OR-Tools' flow holds the GIL, so the second core is used by a process; a plain subprocess
    rather than multiprocessing, so that nothing of the caller's main module runs again in it.
    It is waited for only until a given time, and `stop` ends it whether it finished or not.
    """

    def __init__(self, problem: Problem) -> None:
        with tempfile.NamedTemporaryFile(prefix="solver-", suffix=".pickle", delete=False) as file:
            pickle.dump(problem, file, protocol=pickle.HIGHEST_PROTOCOL)
        self._path = file.name
        self._stopped = False
        self._process = subprocess.Popen(
            [sys.executable, "-c", AT_LEAST_CODE, self._path],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def score(self, placed: int, most: int, at_most: int, timeout_s: float) -> int | None:
        """Wait up to `timeout_s` for the child and bound answers placing at least `placed`.

        `most` and `at_most` are the relaxation's placed count and score. None if the child
        failed or is not done in time.
        """
        try:
            out, _ = self._process.communicate(timeout=max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            return None
        try:
            least, at_least = (int(part) for part in out.split())
        except ValueError:
            return None
        return bound_below(placed, least, at_least, most, at_most)

    def stop(self) -> None:
        """End the child process (terminate, then kill), reap it and remove its input; once."""
        if self._stopped:
            return
        self._stopped = True
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()  # closing twice is harmless
        os.unlink(self._path)


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
    """Improve on the hint with CP-SAT within the time limit, model build included.

    Return the best answer and the tightened bounds; the hint and the bounds as they were if no
    time is left to search once the model is built.
    """
    began = time.perf_counter()
    low, high = _score_range(problem, pairs)
    big = high - low + 1  # one more child placed is worth more than any change of score
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{k}") for k in range(len(pairs))]
    add_one_unit_per_child(model, x, pairs)
    add_free_beds(model, x, pairs, problem)
    add_mix_rule(model, x, pairs, problem)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, (big + pairs.score).tolist()))
    # Straight into the model's proto: ten times faster than add_hint per variable.
    model.proto.solution_hint.vars.extend(v.index for v in x)
    model.proto.solution_hint.values.extend(hint.astype(np.int64).tolist())
    # What the search may take: the limit, less the build and what follows the search (CP-SAT
    # overruns its own limit by a few hundredths; then reading the answer back).
    search_s = time_limit_s - (time.perf_counter() - began)
    search_s -= CP_SAT_OVERRUN_S + CP_SAT_READ_S_PER_PAIR * len(pairs)
    if search_s < CP_SAT_MIN_SEARCH_S:
        return hint, bounds
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = search_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return hint, bounds
    found = np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(x)] > 0
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
    `status` is "optimal" when both the placed count and the score meet them. Every phase takes
    its time from one deadline, `time_limit_s` after the call (see `solver.budget`); only finding
    the eligible pairs and a greedy answer are done whatever the limit.
    """
    clock = Clock.start(time_limit_s, len(problem.children))
    workers = workers or os.cpu_count() or 1
    bounding = _AtLeastBounds(problem) if _bound_aside(problem, workers) else None
    try:
        pairs = eligible_pairs(problem)
        if len(pairs) == 0:
            return _solution(problem, pairs, np.zeros(0, np.bool_), Bounds(0, 0), clock.started)
        cells = len(problem.children) * len(problem.units)
        clock = clock.paced(cells, len(pairs), time.perf_counter() - clock.started)
        # The relaxation cannot be stopped once started: it starts only if it should end in time
        # for the last round of a repair and a fill, as a repair cut shorter places fewer than
        # the quick answer, and then no bound for answers placing fewer is in reach. With that
        # bound solved aside, the fill is enough. The repair, skipped if the relaxation runs
        # long, is the margin kept on the relaxation's estimate.
        n = len(problem.children)
        aside = bounding if len(pairs) >= PARALLEL_BOUND_PAIRS else None
        repair_s = 0.0 if aside is not None else MARGIN * last_round_s(pairs)
        if not clock.fits(flow_s(len(pairs)) + repair_s + fill_s(n // 10), margin=1.0):
            chosen, bounds = quick_answer(problem, pairs, clock)
        else:
            chosen, bounds = relax_and_repair(problem, pairs, clock, aside)
        if bounding is not None:
            bounding.stop()  # before CP-SAT, which may use both cores
        chosen, bounds = tighten(problem, pairs, chosen, bounds, clock, workers)
    finally:
        if bounding is not None:
            bounding.stop()
    return _solution(problem, pairs, chosen, bounds, clock.started)


def repair_round_s(pairs: Pairs) -> float:
    """Estimated seconds for a round of repair: about each child's best pairs, and carriers'."""
    return flow_s(_repair_arcs(pairs))


def last_round_s(pairs: Pairs) -> float:
    """Estimated seconds for a repair's network and its last round, which decides every unit."""
    arcs = _repair_arcs(pairs)
    return NETWORK_S_PER_PAIR * arcs + LOCK_ROUND_FACTOR * flow_s(arcs)


def _repair_arcs(pairs: Pairs) -> int:
    children = int(pairs.child[-1]) + 1 if len(pairs) else 0
    return min(len(pairs), 3 * REPAIR_ARCS_PER_CHILD * children // 2)


def relax_and_repair(
    problem: Problem, pairs: Pairs, clock: Clock, bounding: _AtLeastBounds | None
) -> tuple[BoolArray, Bounds]:
    """Solve the flow relaxation, repair its answer, fill, and bound the score of the answer.

    With `bounding`, the bound for answers placing fewer comes from that other process if it is
    done in time.
    """
    relaxing = time.perf_counter()
    relaxation = Network(problem, pairs)
    relaxed, placed_bound, score_at_bound = relaxation.solve()
    relax_s = time.perf_counter() - relaxing
    # Keep time for one more flow of this size, in case the repair places fewer, unless that
    # flow is solved aside or there is not even time for it and a few repair rounds: then the
    # repair takes all the time, as an answer placing as many as the relaxation needs no more
    # bound. Of the time kept, a share is for the LP and CP-SAT if the instance is small enough.
    deadline = clock.end
    if bounding is None:
        later = len(pairs) <= max(LP_MAX_PAIRS, CP_SAT_MAX_PAIRS)
        repair_s = (REPAIR_SHARE if later else 1.0) * (clock.left() - BOUND_RESERVE * relax_s)
        if repair_s > REPAIR_MIN_ROUNDS * MARGIN * clock.pace * repair_round_s(pairs):
            deadline = time.perf_counter() + repair_s
    repaired = repair(problem, pairs, relaxed, deadline, pace=clock.pace)
    chosen = fill(problem, pairs, repaired)
    bounds = Bounds(placed=placed_bound, score=score_at_bound)
    least = int(chosen.sum())
    if least < placed_bound:
        # Fewer are placed than the relaxation did. The optimum places at least as many as
        # this answer: bound the score over every answer that does.
        aside = None
        if bounding is not None:
            # Wait for it only as long as leaves time for the same flow here, if there is that.
            wait_s = clock.left() - BOUND_RESERVE * relax_s
            wait_s = wait_s if wait_s > 0 else clock.left()
            aside = bounding.score(least, placed_bound, score_at_bound, wait_s)
        if aside is None and clock.left() > BOUND_RESERVE * relax_s:
            relaxation.at_least(least)
            _, _, aside = relaxation.solve()
        if aside is None:
            aside = bounds_without_flow(problem, pairs).score
        bounds = Bounds(placed=placed_bound, score=aside, any_count=True)
    return chosen, bounds


def quick_answer(problem: Problem, pairs: Pairs, clock: Clock) -> tuple[BoolArray, Bounds]:
    """Without time for the relaxation: a greedy answer, improved by a repaired flow if in time.

    The flow is over each child's best pairs and the greedy answer's (so that it places at least
    as many); the better of its answer (filled) and the greedy one is kept. The bounds are those
    that need no flow.
    """
    n = len(problem.children)
    greedy = fill(problem, pairs, np.zeros(len(pairs), dtype=np.bool_))
    chosen = greedy
    about = min(len(pairs), (REPAIR_ARCS_PER_CHILD + 1) * n)  # pairs in the flow, before it is made
    if not clock.fits(best_s(len(pairs)) + flow_s(about) + fill_s(n // 10)):
        return chosen, bounds_without_flow(problem, pairs)
    keep = np.flatnonzero(best_per_child(pairs, REPAIR_ARCS_PER_CHILD) | greedy)
    if clock.fits(flow_s(len(keep)) + fill_s(n // 10)):
        local = pairs.subset(keep)
        relaxed = Network(problem, local).solve()[0]
        end = clock.end - MARGIN * clock.pace * fill_s(n // 10)
        repaired = np.zeros(len(pairs), dtype=np.bool_)
        repaired[keep[repair(problem, local, relaxed, end, pace=clock.pace)]] = True
        repaired = fill(problem, pairs, repaired)
        if _value(pairs, repaired) > _value(pairs, greedy):
            chosen = repaired
    return chosen, bounds_without_flow(problem, pairs)


def bounds_without_flow(problem: Problem, pairs: Pairs) -> Bounds:
    """Bounds that need no flow: each child in its best unit, no unit over its free beds."""
    n, m = len(problem.children), len(problem.units)
    starts = np.flatnonzero(np.r_[True, pairs.child[1:] != pairs.child[:-1]])
    beds = np.array([unit.free_beds for unit in problem.units], dtype=np.int64)
    eligible = np.bincount(pairs.unit, minlength=m)  # a unit's pairs are with distinct children
    placed = min(len(starts), int(np.minimum(beds, eligible).sum()), n)
    best = np.maximum.reduceat(pairs.score, starts)
    return Bounds(placed=placed, score=int(np.maximum(best, 0).sum()), any_count=True)


def tighten(
    problem: Problem,
    pairs: Pairs,
    chosen: BoolArray,
    bounds: Bounds,
    clock: Clock,
    workers: int,
) -> tuple[BoolArray, Bounds]:
    """Up to mid-size, tighten the bound with the LP, then improve the answer with CP-SAT."""
    proven = _value(pairs, chosen) == (bounds.placed, bounds.score)
    if not proven and len(pairs) <= LP_MAX_PAIRS and clock.left() > LP_S_PER_PAIR * len(pairs):
        placed = int(chosen.sum())
        tighter = mix_lp_bound(
            problem, pairs.child, pairs.unit, pairs.score, pairs.carries, placed, clock.left()
        )
        if tighter is not None and tighter < bounds.score:
            bounds = Bounds(placed=bounds.placed, score=tighter, any_count=True)
        proven = _value(pairs, chosen) == (bounds.placed, bounds.score)
    cp_sat_build = CP_SAT_BUILD_S_PER_PAIR * len(pairs)
    if not proven and clock.left() > 2 * cp_sat_build and len(pairs) <= CP_SAT_MAX_PAIRS:
        chosen, bounds = solve_cp_sat(problem, pairs, chosen, bounds, clock.left(), workers)
    return chosen, bounds


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


REASON_SHIFTS = np.arange(len(REASONS), dtype=np.uint16)


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
    starts = np.searchsorted(pairs.child, np.arange(len(problem.children) + 1))
    counted = _ruled_out(problem, np.flatnonzero(~has_pairs).tolist())
    result = []
    for c in np.flatnonzero(~placed).tolist():
        child = problem.children[c]
        if not has_pairs[c]:
            ruled_out = zip(REASONS, counted[c], strict=True)
            reasons = {"no_eligible_unit": {r: n for r, n in ruled_out if n}}
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


def _ruled_out(problem: Problem, children: list[int]) -> dict[int, list[int]]:
    """For each of these children (by index), how many units each reason rules out."""
    if not children:
        return {}
    masks = children_masks([problem.children[c] for c in children], estate(problem))
    # Every reason's bit of every unit counted at once, for all the children.
    counts = ((masks[:, :, None] >> REASON_SHIFTS) & 1).sum(axis=1).tolist()
    return dict(zip(children, counts, strict=True))
