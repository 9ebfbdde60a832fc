"""Rank every unit for one child: eligible options by descending score, the rest with reasons."""

from __future__ import annotations

import numpy as np

from solver.model import Child, Excluded, Option, Problem, Ranking
from solver.rules import child_reasons, children_masks, distances_km, estate, reasons_of
from solver.score import COMPONENTS, score_rows


def find_child(problem: Problem, child_id: str) -> Child:
    """Return the child with this id, or raise KeyError."""
    # A Problem is frozen, so the index stays right: keep it beside the children.
    index = problem.__dict__.get("_child_index")
    if not isinstance(index, dict):
        index = {child.id: child for child in problem.children}
        problem.__dict__["_child_index"] = index
    child = index.get(child_id)
    if child is None:
        raise KeyError(child_id)
    assert isinstance(child, Child)
    return child


def rank(problem: Problem, child_id: str, *, top: int | None = None) -> Ranking:
    """Rank every unit for the child: options best first (at most `top`), then every excluded unit.

    Options with equal scores come nearest first, then by unit order. Raises KeyError for an
    unknown child.
    """
    child = find_child(problem, child_id)
    places = estate(problem)
    distance = distances_km(child.lat, child.lon, places)
    mask = child_reasons(child, places, distance)
    eligible = np.flatnonzero(mask == 0)
    parts = score_rows(child, places, distance, problem.weights)
    total = sum(parts[name][eligible] for name in COMPONENTS)
    order = eligible[np.lexsort((eligible, distance[eligible], -np.asarray(total)))]
    if top is not None:
        order = order[: max(0, top)]
    ineligible = np.flatnonzero(mask)
    units = problem.units

    def build() -> tuple[tuple[Option, ...], tuple[Excluded, ...]]:
        columns = [parts[name][order].tolist() for name in COMPONENTS]
        rounded = np.round(distance[order], 1).tolist()
        options = tuple(
            Option(
                unit_id=units[u].id,
                provider_id=units[u].provider_id,
                score=sum(row),
                distance_km=km,
                breakdown=dict(zip(COMPONENTS, row, strict=True)),
            )
            for u, km, *row in zip(order.tolist(), rounded, *columns, strict=True)
        )
        excluded = tuple(
            Excluded(unit_id=units[u].id, reasons=reasons_of(m))
            for u, m in zip(ineligible.tolist(), mask[ineligible].tolist(), strict=True)
        )
        return options, excluded

    return Ranking(child_id=child.id, build=build)


def has_option(problem: Problem, child_id: str) -> bool:
    """Whether any unit is eligible for the child (what `rank` would list first), without scoring.

    Raises KeyError for an unknown child.
    """
    child = find_child(problem, child_id)
    places = estate(problem)
    return bool(
        np.any(child_reasons(child, places, distances_km(child.lat, child.lon, places)) == 0)
    )


def without_option(problem: Problem) -> tuple[str, ...]:
    """The children (in the problem's order) for whom no unit is eligible: those for whom
    `has_option` is false, found for all at once."""
    masks = children_masks(problem.children, estate(problem))
    hopeless = ~np.any(masks == 0, axis=1)
    return tuple(problem.children[c].id for c in np.flatnonzero(hopeless).tolist())
