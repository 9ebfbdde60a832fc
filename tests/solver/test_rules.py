"""One tiny instance per hard rule: the answer is feasible and its objective is as the rule says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from solver import Child, ExclusionZone, Problem, Unit, eligibility, match, rank
from solver.check import objective, violations

# A unit and a child that fit each other perfectly, 0 km apart. By hand, the pair scores
# nearness 100 + specialisms 5 (trauma beyond the needed cse) + acceptance 60 + waiting 3 * 2.
UNIT = Unit(
    id="clare-lodge/1",
    provider_id="clare-lodge",
    lat=52.64,
    lon=-0.296,
    free_beds=2,
    sexes=frozenset({"F"}),
    min_age=10,
    max_age=17,
    designation="welfare",
    specialisms=frozenset({"cse", "trauma"}),
)
CHILD = Child(
    id="REQ-00001",
    age=15,
    sex="F",
    legal_basis="welfare",
    lat=52.64,
    lon=-0.296,
    needs=frozenset({"cse"}),
    flags=frozenset({"cse_victim"}),
    days_waiting=3,
)
SCORE = 100 + 5 + 60 + 6


def solve(units: list[Unit], children: list[Child]) -> tuple[int, int]:
    """Match, check the solution obeys every rule, and return its (placed, score)."""
    problem = Problem(units=tuple(units), children=tuple(children))
    solution = match(problem, time_limit_s=5, workers=1)
    assert violations(problem, solution) == []
    assert solution.status == "optimal"
    assert (solution.placed, solution.score) == objective(problem, solution)
    assert (solution.placed_bound, solution.score_bound) == (solution.placed, solution.score)
    return solution.placed, solution.score


def only_reason(unit: Unit, child: Child) -> frozenset[str]:
    """The reasons the single unit is ineligible for the single child, by rule and by rank."""
    problem = Problem(units=(unit,), children=(child,))
    reasons = eligibility(child, unit, problem)
    ranking = rank(problem, child.id)
    assert [set(e.reasons) for e in ranking.excluded] == ([set(reasons)] if reasons else [])
    assert len(ranking.options) == (0 if reasons else 1)
    return reasons


def test_a_perfect_fit_is_placed_with_the_score_worked_out_by_hand() -> None:
    assert solve([UNIT], [CHILD]) == (1, SCORE)
    assert only_reason(UNIT, CHILD) == frozenset()


@pytest.mark.parametrize(
    ("reason", "unit", "child"),
    [
        ("no_free_bed", replace(UNIT, free_beds=0), CHILD),
        ("sex", UNIT, replace(CHILD, sex="M")),
        ("age", UNIT, replace(CHILD, age=18)),
        ("age", replace(UNIT, min_age=16), CHILD),
        ("designation", UNIT, replace(CHILD, legal_basis="remand")),
        ("designation", replace(UNIT, designation="justice"), CHILD),
        ("needs", UNIT, replace(CHILD, needs=frozenset({"cse", "autism"}))),
        ("declined", UNIT, replace(CHILD, declined_by=frozenset({"clare-lodge"}))),
        ("too_far", UNIT, replace(CHILD, lat=51.474, lon=-0.081, max_distance_km=100)),
        (
            "exclusion_zone",
            UNIT,
            replace(CHILD, exclusion_zones=(ExclusionZone(lat=52.2, lon=0.12, radius_km=60),)),
        ),
        (
            "mix_conflict",
            replace(UNIT, resident_flags=(frozenset(), frozenset({"sexual_harm_risk"}))),
            CHILD,
        ),
    ],
)
def test_a_unit_that_breaks_one_rule_places_nobody(reason: str, unit: Unit, child: Child) -> None:
    assert only_reason(unit, child) == {reason}
    assert solve([unit], [child]) == (0, 0)


def test_a_unit_just_inside_the_distance_limit_is_eligible() -> None:
    child = replace(CHILD, lat=51.474, lon=-0.081, max_distance_km=140)
    assert only_reason(UNIT, child) == frozenset()
    assert solve([UNIT], [child])[0] == 1


def test_a_justice_child_may_go_to_a_mixed_unit_but_a_welfare_child_there_is_penalised() -> None:
    mixed = replace(UNIT, designation="mixed", resident_flags=(frozenset(),), justice_residents=1)
    assert solve([mixed], [replace(CHILD, legal_basis="sentence")]) == (1, SCORE)
    assert solve([mixed], [CHILD]) == (1, SCORE - 40)


def test_every_reason_is_reported_not_only_the_first() -> None:
    child = replace(CHILD, sex="M", age=18, declined_by=frozenset({"clare-lodge"}))
    assert only_reason(replace(UNIT, free_beds=0), child) == {
        "no_free_bed",
        "sex",
        "age",
        "declined",
    }


def test_two_children_of_an_incompatible_pair_never_share_a_unit() -> None:
    harmful = replace(CHILD, id="REQ-00002", flags=frozenset({"sexual_harm_risk"}), days_waiting=10)
    # Only one of them fits in the unit: the one waiting longer scores 14 points more.
    assert solve([UNIT], [CHILD, harmful]) == (1, SCORE + 14)


def test_a_second_unit_lets_both_children_of_an_incompatible_pair_be_placed() -> None:
    harmful = replace(CHILD, id="REQ-00002", flags=frozenset({"sexual_harm_risk"}))
    other = replace(UNIT, id="clare-lodge/2")
    assert solve([UNIT, other], [CHILD, harmful]) == (2, 2 * SCORE)


def test_a_child_carrying_both_flags_of_a_pair_shares_with_no_carrier() -> None:
    both = replace(CHILD, id="REQ-00002", flags=frozenset({"cse_victim", "sexual_harm_risk"}))
    plain = replace(CHILD, id="REQ-00003", flags=frozenset())
    assert solve([UNIT], [CHILD, both]) == (1, SCORE)
    assert solve([UNIT], [both, plain]) == (2, 2 * SCORE)


def test_free_beds_cap_the_children_a_unit_takes() -> None:
    children = [replace(CHILD, id=f"REQ-{i:05d}", flags=frozenset()) for i in range(3)]
    assert solve([UNIT], children) == (2, 2 * SCORE)


def test_placing_more_children_beats_a_higher_score() -> None:
    near = replace(UNIT, free_beds=1)
    far = replace(UNIT, id="far/1", provider_id="far", lat=54.0, lon=-1.5, free_beds=1)
    flexible = replace(CHILD, id="REQ-00002", flags=frozenset())
    stuck = replace(CHILD, id="REQ-00003", flags=frozenset(), max_distance_km=10)
    placed, score = solve([near, far], [flexible, stuck])
    assert placed == 2
    problem = Problem(units=(near, far), children=(flexible, stuck))
    assert score == SCORE + sum(rank(problem, flexible.id).options[-1].breakdown.values())
