"""The hindsight bound on tiny instances: feasibility of the plan and the value of the bound."""

from __future__ import annotations

import itertools
import random

import pytest

from solver.hindsight import (
    Admission,
    HindsightProblem,
    Stay,
    UnitCapacity,
    hindsight_bound,
    hindsight_plan,
    plan_violations,
)

DAY = 24


def _unit(unit_id: str, beds: int, *, residents: tuple[int, ...] = ()) -> UnitCapacity:
    return UnitCapacity(unit_id, ((0, beds),), residents)


def test_two_children_competing_for_one_bed_at_once_bound_one() -> None:
    stays = (Stay("a", 0, 0, 10 * DAY, ("u",)), Stay("b", 0, 0, 10 * DAY, ("u",)))
    bound = hindsight_bound(HindsightProblem(20 * DAY, stays, (_unit("u", 1),)))
    assert (bound.placed_bound, bound.placed_found, bound.status) == (1, 1, "optimal")


def test_a_child_who_can_wait_for_the_first_to_leave_is_placed_too() -> None:
    stays = (Stay("a", 0, 0, 5 * DAY, ("u",)), Stay("b", 0, 8 * DAY, 5 * DAY, ("u",)))
    bound = hindsight_bound(HindsightProblem(30 * DAY, stays, (_unit("u", 1),)))
    assert (bound.placed_bound, bound.placed_found) == (2, 2)


def test_no_eligible_unit_places_nobody() -> None:
    stays = (Stay("a", 0, 5 * DAY, DAY, ()), Stay("b", 0, 5 * DAY, DAY, ("elsewhere",)))
    bound = hindsight_bound(HindsightProblem(10 * DAY, stays, (_unit("u", 3),)))
    assert (bound.placed_bound, bound.placed_found) == (0, 0)


def test_residents_hold_their_beds_until_they_leave() -> None:
    stays = (Stay("a", 0, 2 * DAY, 3 * DAY, ("u",)),)
    blocked = HindsightProblem(10 * DAY, stays, (_unit("u", 1, residents=(5 * DAY,)),))
    assert hindsight_bound(blocked).placed_bound == 0
    waits = HindsightProblem(10 * DAY, (Stay("a", 0, 6 * DAY, DAY, ("u",)),), blocked.units)
    assert hindsight_bound(waits).placed_bound == 1


def test_beds_out_of_use_for_a_while_count_only_then() -> None:
    unit = UnitCapacity("u", ((0, 0), (4 * DAY, 1)))
    early = HindsightProblem(10 * DAY, (Stay("a", 0, 2 * DAY, DAY, ("u",)),), (unit,))
    late = HindsightProblem(10 * DAY, (Stay("a", 0, 5 * DAY, DAY, ("u",)),), (unit,))
    assert hindsight_bound(early).placed_bound == 0
    assert hindsight_bound(late).placed_bound == 1


def test_a_malformed_problem_is_refused() -> None:
    with pytest.raises(ValueError, match="latest_start_h"):
        hindsight_bound(HindsightProblem(DAY, (Stay("a", 5, 1, DAY, ("u",)),), (_unit("u", 1),)))


def _best(problem: HindsightProblem) -> int:
    """The true optimum: every choice of unit and start hour for every stay, tried."""
    choices = []
    for stay in problem.stays:
        hours = range(stay.arrival_h, min(stay.latest_start_h, problem.horizon_h - 1) + 1)
        choices.append([None, *((u, h) for u in stay.units for h in hours)])
    best = 0
    for pick in itertools.product(*choices):
        plan = tuple(
            Admission(s.id, c[0], c[1]) for s, c in zip(problem.stays, pick, strict=True) if c
        )
        if len(plan) > best and not plan_violations(problem, plan):
            best = len(plan)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_the_bound_is_never_below_the_best_plan_and_the_plan_is_feasible(seed: int) -> None:
    rng = random.Random(seed)
    units = (_unit("u0", rng.randint(0, 2)), UnitCapacity("u1", ((0, 1), (DAY, rng.randint(0, 1)))))
    stays = []
    for k in range(4):
        arrival = rng.randrange(0, 2 * DAY)
        eligible = tuple(sorted(rng.sample(["u0", "u1"], rng.randint(1, 2))))
        stays.append(
            Stay(f"s{k}", arrival, arrival + rng.randint(0, 3), rng.randint(6, 40), eligible)
        )
    problem = HindsightProblem(3 * DAY, tuple(stays), units)
    bound, plan = hindsight_plan(problem, deterministic_s=5.0)
    assert plan_violations(problem, plan) == []
    assert bound.placed_found == len(plan) <= bound.placed_bound
    assert bound.placed_bound >= _best(problem) >= bound.placed_found
