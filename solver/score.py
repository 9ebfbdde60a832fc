"""The score of placing a child in a unit: a sum of integer components (documented in model.py).

`breakdown` is the plain-Python definition; `score_rows` computes the same components for one child
over every unit with numpy, and the tests hold the two to each other.
"""

from __future__ import annotations

import numpy as np

from solver.model import Child, Problem, Unit, Weights
from solver.rules import Estate, FloatArray, IntArray, distance_km, extra_specialisms

COMPONENTS = ("nearness", "specialisms", "acceptance", "waiting", "justice_mix")


def nearness(child: Child, distance: float, weights: Weights) -> int:
    """Points for being near home, none when the child has an exclusion zone."""
    if child.exclusion_zones:
        return 0
    return round(weights.nearness * max(0.0, 1.0 - distance / weights.nearness_scale_km))


def specialisms(child: Child, unit: Unit, weights: Weights) -> int:
    """Points for the unit's specialisms beyond the ones the child needs."""
    extra = min(len(unit.specialisms - child.needs), weights.specialism_cap)
    return round(weights.specialism * extra)


def acceptance(child: Child, unit: Unit, weights: Weights) -> int:
    """Points for the provider's likelihood of accepting the child."""
    return round(weights.acceptance * child.acceptance.get(unit.provider_id, 1.0))


def waiting(child: Child, weights: Weights) -> int:
    """Points for the days the child has waited."""
    return round(weights.waiting_per_day * min(child.days_waiting, weights.waiting_cap_days))


def justice_mix(child: Child, unit: Unit, weights: Weights) -> int:
    """A penalty for a welfare child in a unit that already holds justice children."""
    if child.legal_basis == "welfare" and unit.justice_residents > 0:
        return -round(weights.justice_mix)
    return 0


def breakdown(child: Child, unit: Unit, problem: Problem) -> dict[str, int]:
    """Return the score components of placing the child in the unit."""
    weights = problem.weights
    return {
        "nearness": nearness(child, distance_km(child, unit), weights),
        "specialisms": specialisms(child, unit, weights),
        "acceptance": acceptance(child, unit, weights),
        "waiting": waiting(child, weights),
        "justice_mix": justice_mix(child, unit, weights),
    }


def pair_score(child: Child, unit: Unit, problem: Problem) -> int:
    """Return the score of placing the child in the unit."""
    return sum(breakdown(child, unit, problem).values())


def score_rows(
    child: Child, places: Estate, distance: FloatArray, weights: Weights
) -> dict[str, IntArray]:
    """Return each score component of the child for every unit, vectorised."""
    count = len(distance)
    if child.exclusion_zones:
        near = np.zeros(count, dtype=np.int64)
    else:
        closeness = np.maximum(0.0, 1.0 - distance / weights.nearness_scale_km)
        near = np.rint(weights.nearness * closeness).astype(np.int64)
    extra = np.minimum(extra_specialisms(child, places), weights.specialism_cap)
    likelihood = np.ones(count, dtype=np.float64)
    for provider, p in child.acceptance.items():
        units = places.provider_units.get(provider)
        if units is not None:
            likelihood[units] = p
    penalty = -round(weights.justice_mix) if child.legal_basis == "welfare" else 0
    return {
        "nearness": near,
        "specialisms": np.rint(weights.specialism * extra).astype(np.int64),
        "acceptance": np.rint(weights.acceptance * likelihood).astype(np.int64),
        "waiting": np.full(count, waiting(child, weights), dtype=np.int64),
        "justice_mix": np.where(places.holds_justice, penalty, 0).astype(np.int64),
    }


def score_bounds(weights: Weights) -> tuple[int, int]:
    """Return the lowest and highest score any pair can have under these weights."""
    highest = (
        round(weights.nearness)
        + round(weights.specialism * weights.specialism_cap)
        + round(weights.acceptance)
        + round(weights.waiting_per_day * weights.waiting_cap_days)
    )
    return -round(weights.justice_mix), highest
