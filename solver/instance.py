"""Reading and writing the `placements.solver/1` instance format, and results as JSON-ready dicts.

`load_problem` checks everything the solver relies on and raises `InstanceError` naming the field
path (`units[3].free_beds`) of the first thing that is wrong.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any

from solver.model import (
    DESIGNATIONS,
    LEGAL_BASES,
    SEXES,
    Child,
    ExclusionZone,
    Problem,
    Ranking,
    Solution,
    Unit,
    Weights,
)

FORMAT = "placements.solver/1"

UNIT_FIELDS = {
    "id",
    "provider_id",
    "lat",
    "lon",
    "free_beds",
    "sexes",
    "min_age",
    "max_age",
    "designation",
    "specialisms",
    "resident_flags",
}
UNIT_OPTIONAL = {"justice_residents"}
CHILD_FIELDS = {
    "id",
    "age",
    "sex",
    "legal_basis",
    "lat",
    "lon",
    "needs",
    "flags",
    "days_waiting",
    "max_distance_km",
}
CHILD_OPTIONAL = {"exclusion_zones", "declined_by", "acceptance"}
TOP_FIELDS = {"format", "incompatible_flags", "units", "children"}
TOP_OPTIONAL = {"weights"}


class InstanceError(ValueError):
    """A malformed instance: `field` is the path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _object(value: Any, path: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InstanceError(path or "instance", "must be an object")
    prefix = f"{path}." if path else ""
    for name in sorted(required):
        if name not in value:
            raise InstanceError(prefix + name, "is missing")
    for name in sorted(value):
        if name not in required | optional:
            raise InstanceError(prefix + str(name), "is not a known field")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InstanceError(path, "must be a list")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise InstanceError(path, "must be a non-empty string")
    return value


def _texts(value: Any, path: str) -> frozenset[str]:
    return frozenset(_text(item, f"{path}[{i}]") for i, item in enumerate(_list(value, path)))


def _integer(value: Any, path: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InstanceError(path, "must be an integer")
    if value < low:
        raise InstanceError(path, f"must be at least {low}")
    return value


def _number(value: Any, path: str, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InstanceError(path, "must be a finite number")
    if not low <= value <= high:
        raise InstanceError(path, f"must be between {low} and {high}")
    return float(value)


def _choice(value: Any, path: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InstanceError(path, f"must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def _unique(ids: list[str], path: str) -> None:
    seen: set[str] = set()
    for i, identifier in enumerate(ids):
        if identifier in seen:
            raise InstanceError(f"{path}[{i}].id", f"duplicate id {identifier!r}")
        seen.add(identifier)


def _pair(value: Any, path: str) -> tuple[str, str]:
    items = _list(value, path)
    if len(items) != 2:
        raise InstanceError(path, "must be a pair of two flags")
    a, b = _text(items[0], f"{path}[0]"), _text(items[1], f"{path}[1]")
    if a == b:
        raise InstanceError(path, f"a flag cannot be incompatible with itself ({a!r})")
    return a, b


def _unit(value: Any, path: str) -> Unit:
    data = _object(value, path, UNIT_FIELDS, UNIT_OPTIONAL)
    sexes = _list(data["sexes"], f"{path}.sexes")
    for i, item in enumerate(sexes):
        _choice(item, f"{path}.sexes[{i}]", SEXES)
    min_age = _integer(data["min_age"], f"{path}.min_age")
    max_age = _integer(data["max_age"], f"{path}.max_age")
    if max_age < min_age:
        raise InstanceError(f"{path}.max_age", "must not be below min_age")
    residents = _list(data["resident_flags"], f"{path}.resident_flags")
    justice = _integer(data.get("justice_residents", 0), f"{path}.justice_residents")
    if justice > len(residents):
        raise InstanceError(f"{path}.justice_residents", "must not exceed the residents listed")
    return Unit(
        id=_text(data["id"], f"{path}.id"),
        provider_id=_text(data["provider_id"], f"{path}.provider_id"),
        lat=_number(data["lat"], f"{path}.lat", -90, 90),
        lon=_number(data["lon"], f"{path}.lon", -180, 180),
        free_beds=_integer(data["free_beds"], f"{path}.free_beds"),
        sexes=frozenset(sexes),
        min_age=min_age,
        max_age=max_age,
        designation=_choice(data["designation"], f"{path}.designation", DESIGNATIONS),
        specialisms=_texts(data["specialisms"], f"{path}.specialisms"),
        resident_flags=tuple(
            _texts(flags, f"{path}.resident_flags[{i}]") for i, flags in enumerate(residents)
        ),
        justice_residents=justice,
    )


def _zone(value: Any, path: str) -> ExclusionZone:
    data = _object(value, path, {"lat", "lon", "radius_km"}, set())
    return ExclusionZone(
        lat=_number(data["lat"], f"{path}.lat", -90, 90),
        lon=_number(data["lon"], f"{path}.lon", -180, 180),
        radius_km=_number(data["radius_km"], f"{path}.radius_km", 0),
    )


def _acceptance(value: Any, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise InstanceError(path, "must be an object")
    return {str(k): _number(p, f"{path}.{k}", 0, 1) for k, p in value.items()}


def _child(value: Any, path: str) -> Child:
    data = _object(value, path, CHILD_FIELDS, CHILD_OPTIONAL)
    limit = data["max_distance_km"]
    zones = _list(data.get("exclusion_zones", []), f"{path}.exclusion_zones")
    return Child(
        id=_text(data["id"], f"{path}.id"),
        age=_integer(data["age"], f"{path}.age"),
        sex=_choice(data["sex"], f"{path}.sex", SEXES),
        legal_basis=_choice(data["legal_basis"], f"{path}.legal_basis", LEGAL_BASES),
        lat=_number(data["lat"], f"{path}.lat", -90, 90),
        lon=_number(data["lon"], f"{path}.lon", -180, 180),
        needs=_texts(data["needs"], f"{path}.needs"),
        flags=_texts(data["flags"], f"{path}.flags"),
        days_waiting=_integer(data["days_waiting"], f"{path}.days_waiting"),
        max_distance_km=None if limit is None else _number(limit, f"{path}.max_distance_km", 0),
        exclusion_zones=tuple(
            _zone(zone, f"{path}.exclusion_zones[{i}]") for i, zone in enumerate(zones)
        ),
        declined_by=_texts(data.get("declined_by", []), f"{path}.declined_by"),
        acceptance=_acceptance(data.get("acceptance", {}), f"{path}.acceptance"),
    )


def _weights(value: Any) -> Weights:
    names = {f.name: f.type for f in fields(Weights)}
    data = _object(value, "weights", set(), set(names))
    given: dict[str, Any] = {}
    for name, raw in data.items():
        if names[name] == "int":
            given[name] = _integer(raw, f"weights.{name}")
        else:
            given[name] = _number(raw, f"weights.{name}", 0)
    if given.get("nearness_scale_km", 1.0) <= 0:
        raise InstanceError("weights.nearness_scale_km", "must be above 0")
    return Weights(**given)


def load_problem(data: Any) -> Problem:
    """Validate a `placements.solver/1` instance (parsed JSON) and return it as a Problem."""
    top = _object(data, "", TOP_FIELDS, TOP_OPTIONAL)
    if top["format"] != FORMAT:
        raise InstanceError("format", f"must be {FORMAT!r}")
    pairs = _list(top["incompatible_flags"], "incompatible_flags")
    units = _list(top["units"], "units")
    children = _list(top["children"], "children")
    problem = Problem(
        units=tuple(_unit(unit, f"units[{i}]") for i, unit in enumerate(units)),
        children=tuple(_child(child, f"children[{i}]") for i, child in enumerate(children)),
        incompatible_flags=tuple(
            _pair(pair, f"incompatible_flags[{i}]") for i, pair in enumerate(pairs)
        ),
        weights=_weights(top.get("weights", {})),
    )
    _unique([unit.id for unit in problem.units], "units")
    _unique([child.id for child in problem.children], "children")
    return problem


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """Return the problem in the `placements.solver/1` format."""
    return {
        "format": FORMAT,
        "incompatible_flags": [list(pair) for pair in problem.incompatible_flags],
        "units": [
            {
                "id": unit.id,
                "provider_id": unit.provider_id,
                "lat": unit.lat,
                "lon": unit.lon,
                "free_beds": unit.free_beds,
                "sexes": sorted(unit.sexes),
                "min_age": unit.min_age,
                "max_age": unit.max_age,
                "designation": unit.designation,
                "specialisms": sorted(unit.specialisms),
                "resident_flags": [sorted(flags) for flags in unit.resident_flags],
                "justice_residents": unit.justice_residents,
            }
            for unit in problem.units
        ],
        "children": [_child_to_dict(child) for child in problem.children],
        "weights": asdict(problem.weights),
    }


def _child_to_dict(child: Child) -> dict[str, Any]:
    return {
        "id": child.id,
        "age": child.age,
        "sex": child.sex,
        "legal_basis": child.legal_basis,
        "lat": child.lat,
        "lon": child.lon,
        "needs": sorted(child.needs),
        "flags": sorted(child.flags),
        "days_waiting": child.days_waiting,
        "max_distance_km": child.max_distance_km,
        "exclusion_zones": [asdict(zone) for zone in child.exclusion_zones],
        "declined_by": sorted(child.declined_by),
        "acceptance": dict(child.acceptance),
    }


def ranking_to_dict(ranking: Ranking) -> dict[str, Any]:
    """Return a ranking in the shape `python -m solver rank` prints."""
    return {
        "child_id": ranking.child_id,
        "options": [
            {
                "unit_id": option.unit_id,
                "provider_id": option.provider_id,
                "score": option.score,
                "distance_km": option.distance_km,
                "breakdown": dict(option.breakdown),
            }
            for option in ranking.options
        ],
        "excluded": [
            {"unit_id": item.unit_id, "reasons": list(item.reasons)} for item in ranking.excluded
        ],
    }


def solution_to_dict(solution: Solution) -> dict[str, Any]:
    """Return a solution in the shape `python -m solver solve` prints."""
    return {
        "status": solution.status,
        "placed": solution.placed,
        "placed_bound": solution.placed_bound,
        "score": solution.score,
        "score_bound": solution.score_bound,
        "assignments": [
            {"child_id": a.child_id, "unit_id": a.unit_id, "score": a.score}
            for a in solution.assignments
        ],
        "unplaced": [
            {"child_id": u.child_id, "reasons": {k: dict(v) for k, v in u.reasons.items()}}
            for u in solution.unplaced
        ],
        "solve_seconds": solution.solve_seconds,
    }
