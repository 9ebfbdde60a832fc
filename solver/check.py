"""Plain-Python checks of a solution against the hard rules, and its objective, for the tests.

Nothing here uses numpy or the optimiser: it restates the rules as directly as possible.
"""

from __future__ import annotations

from collections import Counter

from solver.model import Problem, Solution
from solver.rules import eligibility, flags_conflict
from solver.score import pair_score


def violations(problem: Problem, solution: Solution) -> list[str]:
    """Return every broken rule of the solution, in words; empty when it is feasible."""
    children = {child.id: child for child in problem.children}
    units = {unit.id: unit for unit in problem.units}
    found: list[str] = []
    placed = Counter(a.child_id for a in solution.assignments)
    found += [f"{c} is placed {n} times" for c, n in placed.items() if n > 1]
    found += [
        f"unknown child {a.child_id}" for a in solution.assignments if a.child_id not in children
    ]
    found += [f"unknown unit {a.unit_id}" for a in solution.assignments if a.unit_id not in units]
    if found:
        return found
    taken = Counter(a.unit_id for a in solution.assignments)
    found += [
        f"{u} takes {n} > {units[u].free_beds}" for u, n in taken.items() if n > units[u].free_beds
    ]
    for a in solution.assignments:
        reasons = eligibility(children[a.child_id], units[a.unit_id], problem)
        if reasons:
            found.append(f"{a.child_id} in {a.unit_id}: {sorted(reasons)}")
        if a.score != pair_score(children[a.child_id], units[a.unit_id], problem):
            found.append(f"{a.child_id} in {a.unit_id}: wrong score {a.score}")
    together: dict[str, list[str]] = {}
    for a in solution.assignments:
        together.setdefault(a.unit_id, []).append(a.child_id)
    for unit_id, ids in together.items():
        for i, first in enumerate(ids):
            for second in ids[i + 1 :]:
                if flags_conflict(
                    children[first].flags, children[second].flags, problem.incompatible_flags
                ):
                    found.append(f"{first} and {second} clash in {unit_id}")
    unplaced = {u.child_id for u in solution.unplaced}
    if unplaced | set(placed) != set(children) or unplaced & set(placed):
        found.append("placed and unplaced children do not partition the children")
    return found


def objective(problem: Problem, solution: Solution) -> tuple[int, int]:
    """Return the solution's (children placed, total score), recomputed from the rules."""
    children = {child.id: child for child in problem.children}
    units = {unit.id: unit for unit in problem.units}
    score = sum(
        pair_score(children[a.child_id], units[a.unit_id], problem) for a in solution.assignments
    )
    return len(solution.assignments), score
