"""A proven bound from the linear relaxation with the mix rule: tighter than the flow's.

The model is the flow's (each child at most once, no unit over its free beds, at least `placed`
children placed) plus the mix rule: at a unit where carriers of both flags of a pair are eligible,
a side variable `y` in [0, 1] with `x <= y` for each A-carrier and `x + y <= 1` for each B-carrier,
and `x + x' <= 1` for a child carrying both flags and any other carrier. GLOP solves it; the bound
is then recomputed from its duals by weak duality (any non-negative row prices give an upper bound),
so it stays proven whatever the solver's tolerances.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.linear_solver import pywraplp

from solver.model import Problem
from solver.rules import FloatArray, IntArray

CHUNK = 5_000  # model coefficients set between two looks at the clock
READ_S_PER_ROW = 2e-6  # reading a row's dual back and pricing it
MIN_SOLVE_S = 0.002  # GLOP's limit is in whole milliseconds


def mix_rows(
    problem: Problem, unit: IntArray, carries: dict[str, np.ndarray]
) -> tuple[list[IntArray], list[IntArray], list[FloatArray], list[float], int]:
    """Return the mix rule's rows over the pairs as (columns, coefficients, rhs) and the side count.

    Columns past the pairs are side variables; every row reads `sum(coef * var) <= rhs`.
    """
    cols: list[IntArray] = []
    row_of: list[IntArray] = []
    coefs: list[FloatArray] = []
    rhs: list[float] = []
    pairs = len(unit)
    sides = 0
    order = np.argsort(unit, kind="stable")
    cuts = np.flatnonzero(np.diff(unit[order])) + 1
    for ks in np.split(order, cuts) if pairs else []:
        for a, b in problem.incompatible_flags:
            ca, cb = carries[a][ks], carries[b][ks]
            only_a, only_b, both = ks[ca & ~cb], ks[cb & ~ca], ks[ca & cb]
            if len(only_a) and len(only_b):
                y = pairs + sides
                sides += 1
                for k in only_a.tolist():
                    row_of.append(np.full(2, len(rhs)))
                    cols.append(np.array([k, y]))
                    coefs.append(np.array([1.0, -1.0]))
                    rhs.append(0.0)
                for k in only_b.tolist():
                    row_of.append(np.full(2, len(rhs)))
                    cols.append(np.array([k, y]))
                    coefs.append(np.array([1.0, 1.0]))
                    rhs.append(1.0)
            flagged = np.concatenate([only_a, only_b, both]).tolist()
            both_set = set(both.tolist())
            for k in both.tolist():
                for o in flagged:
                    if o != k and (o > k or o not in both_set):
                        row_of.append(np.full(2, len(rhs)))
                        cols.append(np.array([k, o]))
                        coefs.append(np.array([1.0, 1.0]))
                        rhs.append(1.0)
    return row_of, cols, coefs, rhs, sides


def mix_lp_bound(
    problem: Problem,
    child: IntArray,
    unit: IntArray,
    score: IntArray,
    carries: dict[str, np.ndarray],
    placed: int,
    time_limit_s: float,
) -> int | None:
    """Return a proven upper bound on the score of any answer placing at least `placed` children.

    None when the model's build and GLOP do not finish within `time_limit_s`.
    """
    give_up = time.perf_counter() + time_limit_s
    n, m, k = len(problem.children), len(problem.units), len(child)
    mix_row, mix_col, mix_coef, mix_rhs, sides = mix_rows(problem, unit, carries)
    # Rows: children, units, the placed count (as -sum x <= -placed), then the mix rule.
    rows = [child, n + unit, np.full(k, n + m)]
    cols = [np.arange(k), np.arange(k), np.arange(k)]
    coefs = [np.ones(k), np.ones(k), -np.ones(k)]
    base = n + m + 1
    if mix_row:
        rows.append(base + np.concatenate(mix_row))
        cols.append(np.concatenate(mix_col))
        coefs.append(np.concatenate(mix_coef))
    row = np.concatenate(rows).astype(np.int64)
    col = np.concatenate(cols).astype(np.int64)
    coef = np.concatenate(coefs).astype(np.float64)
    beds = np.array([u.free_beds for u in problem.units], dtype=np.float64)
    rhs = np.concatenate([np.ones(n), beds, [-float(placed)], np.array(mix_rhs, dtype=np.float64)])
    cost = np.concatenate([score.astype(np.float64), np.zeros(sides)])

    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return None
    variables = [solver.NumVar(0.0, 1.0, "") for _ in range(k + sides)]
    constraints = [solver.Constraint(-solver.infinity(), float(r)) for r in rhs.tolist()]
    rows, cols, coefs = row.tolist(), col.tolist(), coef.tolist()
    for first in range(0, len(rows), CHUNK):
        if time.perf_counter() > give_up:  # the model alone would take the time
            return None
        last = first + CHUNK
        for r, c, v in zip(rows[first:last], cols[first:last], coefs[first:last], strict=True):
            constraints[r].SetCoefficient(variables[c], v)
    objective = solver.Objective()
    for c, v in enumerate(cost.tolist()):
        if v:
            objective.SetCoefficient(variables[c], v)
    objective.SetMaximization()
    # GLOP gets what is left, less the time to read the duals back and bound from them.
    solve_s = give_up - time.perf_counter() - READ_S_PER_ROW * len(constraints)
    if solve_s < MIN_SOLVE_S:
        return None
    solver.SetTimeLimit(int(1000 * solve_s))
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    duals = np.array([constraint.dual_value() for constraint in constraints], dtype=np.float64)
    best = math.inf
    for prices in (np.maximum(duals, 0.0), np.maximum(-duals, 0.0)):
        # Weak duality: for prices >= 0 on rows `A x <= rhs` and 0 <= x <= 1, the score is at
        # most prices . rhs + sum over columns of max(0, cost - prices . column).
        priced = np.bincount(col, weights=coef * prices[row], minlength=k + sides)
        value = float(prices @ rhs) + float(np.maximum(cost - priced, 0.0).sum())
        best = min(best, value)
    return math.floor(best + 1e-4)
