"""The hard rules: one small function per rule, and the same rules vectorised over units with numpy.

A rule function returns True when its reason applies, that is when the rule makes the unit
ineligible for the child. `reason_matrix` computes the same reasons for many children at once as
bits of an integer, one bit per rule in `REASONS` order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.model import Child, Problem, Unit

EARTH_RADIUS_KM = 6371.0

REASONS = (
    "no_free_bed",
    "sex",
    "age",
    "designation",
    "needs",
    "declined",
    "too_far",
    "exclusion_zone",
    "mix_conflict",
)
BIT = {reason: 1 << i for i, reason in enumerate(REASONS)}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
WordArray = npt.NDArray[np.uint64]
MaskArray = npt.NDArray[np.uint16]
BoolArray = npt.NDArray[np.bool_]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2) - math.radians(lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def distance_km(child: Child, unit: Unit) -> float:
    """Return the distance from the child's home to the unit."""
    return haversine_km(child.lat, child.lon, unit.lat, unit.lon)


def no_free_bed(child: Child, unit: Unit, problem: Problem) -> bool:
    """The unit has no free bed."""
    return unit.free_beds < 1


def sex(child: Child, unit: Unit, problem: Problem) -> bool:
    """The unit does not take children of the child's sex."""
    return child.sex not in unit.sexes


def age(child: Child, unit: Unit, problem: Problem) -> bool:
    """The child's age is outside the unit's age range."""
    return not unit.min_age <= child.age <= unit.max_age


def designation(child: Child, unit: Unit, problem: Problem) -> bool:
    """Welfare units take only welfare children; justice units take no welfare children."""
    if unit.designation == "welfare":
        return child.legal_basis != "welfare"
    return unit.designation == "justice" and child.legal_basis == "welfare"


def needs(child: Child, unit: Unit, problem: Problem) -> bool:
    """The child needs a specialism the unit does not have."""
    return not child.needs <= unit.specialisms


def declined(child: Child, unit: Unit, problem: Problem) -> bool:
    """The unit's provider has declined this child."""
    return unit.provider_id in child.declined_by


def too_far(child: Child, unit: Unit, problem: Problem) -> bool:
    """The unit is further from the child's home than the child's maximum distance."""
    limit = child.max_distance_km
    return limit is not None and distance_km(child, unit) > limit


def exclusion_zone(child: Child, unit: Unit, problem: Problem) -> bool:
    """The unit is closer than the radius to the centre of one of the child's exclusion zones."""
    return any(
        haversine_km(zone.lat, zone.lon, unit.lat, unit.lon) < zone.radius_km
        for zone in child.exclusion_zones
    )


def flags_conflict(
    first: Iterable[str], second: Iterable[str], pairs: Sequence[tuple[str, str]]
) -> bool:
    """Two people conflict when one carries A and the other B of an incompatible pair (A, B)."""
    one, other = set(first), set(second)
    return any((a in one and b in other) or (b in one and a in other) for a, b in pairs)


def mix_conflict(child: Child, unit: Unit, problem: Problem) -> bool:
    """The child and a current resident carry the two flags of an incompatible pair."""
    return any(
        flags_conflict(child.flags, resident, problem.incompatible_flags)
        for resident in unit.resident_flags
    )


RULES: tuple[tuple[str, Callable[[Child, Unit, Problem], bool]], ...] = (
    ("no_free_bed", no_free_bed),
    ("sex", sex),
    ("age", age),
    ("designation", designation),
    ("needs", needs),
    ("declined", declined),
    ("too_far", too_far),
    ("exclusion_zone", exclusion_zone),
    ("mix_conflict", mix_conflict),
)


def eligibility(child: Child, unit: Unit, problem: Problem) -> frozenset[str]:
    """Return the reasons the unit is ineligible for the child; empty when it is eligible."""
    return frozenset(reason for reason, applies in RULES if applies(child, unit, problem))


def reasons_of(mask: int) -> tuple[str, ...]:
    """Return the reasons whose bits are set in a reason mask, in `REASONS` order."""
    return _REASON_TUPLES[mask]


_REASON_TUPLES = tuple(
    tuple(reason for reason in REASONS if mask & BIT[reason]) for mask in range(1 << len(REASONS))
)


# Vectorised rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Estate:
    """The units as numpy arrays, prepared once per problem for the vectorised rules."""

    lat: FloatArray  # radians
    lon: FloatArray  # radians
    cos_lat: FloatArray
    free_beds: IntArray
    sex_bits: IntArray  # 1 = takes F, 2 = takes M
    min_age: IntArray
    max_age: IntArray
    designation: IntArray  # 0 welfare, 1 justice, 2 mixed
    specialisms: WordArray  # (units, words) bitset over `specialism_index`
    specialism_index: dict[str, int]
    resident_flags: WordArray  # (units, words) bitset over `flag_index`, residents OR-ed
    flag_index: dict[str, int]
    holds_justice: npt.NDArray[np.bool_]
    provider_units: dict[str, IntArray]
    pair_partners: dict[str, tuple[str, ...]]


def _words(size: int) -> int:
    return max(1, (size + 63) // 64)


def _bitset(names: Iterable[str], index: dict[str, int], words: int) -> WordArray:
    bits = np.zeros(words, dtype=np.uint64)
    for name in names:
        i = index[name]
        bits[i // 64] |= np.uint64(1 << (i % 64))
    return bits


def estate(problem: Problem) -> Estate:
    """Return the problem's units as arrays, built once and remembered on the problem."""
    # A Problem is frozen, so its units never change: keep the arrays beside them.
    cached = problem.__dict__.get("_estate")
    if isinstance(cached, Estate):
        return cached
    built = _build_estate(problem)
    problem.__dict__["_estate"] = built
    return built


def _build_estate(problem: Problem) -> Estate:
    units = problem.units
    names = sorted({s for unit in units for s in unit.specialisms})
    specialism_index = {name: i for i, name in enumerate(names)}
    flags = sorted({flag for pair in problem.incompatible_flags for flag in pair})
    flag_index = {flag: i for i, flag in enumerate(flags)}
    sw, fw = _words(len(names)), _words(len(flags))
    specialisms = np.zeros((len(units), sw), dtype=np.uint64)
    resident_flags = np.zeros((len(units), fw), dtype=np.uint64)
    providers: dict[str, list[int]] = {}
    for u, unit in enumerate(units):
        specialisms[u] = _bitset(unit.specialisms, specialism_index, sw)
        carried = {f for resident in unit.resident_flags for f in resident if f in flag_index}
        resident_flags[u] = _bitset(carried, flag_index, fw)
        providers.setdefault(unit.provider_id, []).append(u)
    partners: dict[str, set[str]] = {}
    for a, b in problem.incompatible_flags:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    lat = np.radians(np.array([unit.lat for unit in units], dtype=np.float64))
    return Estate(
        lat=lat,
        lon=np.radians(np.array([unit.lon for unit in units], dtype=np.float64)),
        cos_lat=np.cos(lat),
        free_beds=np.array([unit.free_beds for unit in units], dtype=np.int64),
        sex_bits=np.array([("F" in u.sexes) | 2 * ("M" in u.sexes) for u in units], np.int64),
        min_age=np.array([unit.min_age for unit in units], dtype=np.int64),
        max_age=np.array([unit.max_age for unit in units], dtype=np.int64),
        designation=np.array(
            [("welfare", "justice", "mixed").index(u.designation) for u in units], np.int64
        ),
        specialisms=specialisms,
        specialism_index=specialism_index,
        resident_flags=resident_flags,
        flag_index=flag_index,
        holds_justice=np.array([unit.justice_residents > 0 for unit in units], dtype=np.bool_),
        provider_units={p: np.array(us, dtype=np.int64) for p, us in providers.items()},
        pair_partners={flag: tuple(sorted(others)) for flag, others in partners.items()},
    )


def distances_km(lat: float, lon: float, places: Estate) -> FloatArray:
    """Return the great-circle distances in km from one point to every unit."""
    p1, l1 = math.radians(lat), math.radians(lon)
    dlat, dlon = places.lat - p1, places.lon - l1
    a = np.sin(dlat / 2) ** 2 + math.cos(p1) * places.cos_lat * np.sin(dlon / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    return result


def child_reasons(child: Child, places: Estate, distance: FloatArray) -> MaskArray:
    """Return one reason mask per unit for a child, given the child's distances to the units."""
    row: MaskArray = children_reasons([child], places, distance[None, :])[0]
    return row


def children_reasons(children: Sequence[Child], places: Estate, distance: FloatArray) -> MaskArray:
    """`child_reasons` for several children at once: a row of unit masks per child, given a row
    of distances per child (the rules every child has are applied to all rows together)."""
    shape = (len(children), len(places.free_beds))
    mask = np.zeros(shape, dtype=np.uint16)
    if not children:
        return mask
    mask |= np.where(places.free_beds < 1, BIT["no_free_bed"], 0).astype(np.uint16)
    sex_bit = np.array([1 if child.sex == "F" else 2 for child in children], np.int64)[:, None]
    mask |= np.where(places.sex_bits & sex_bit, 0, BIT["sex"]).astype(np.uint16)
    age = np.array([child.age for child in children], np.int64)[:, None]
    outside = (age < places.min_age) | (age > places.max_age)
    mask |= np.where(outside, BIT["age"], 0).astype(np.uint16)
    barred = np.array([1 if child.legal_basis == "welfare" else 0 for child in children])
    wrong = places.designation == barred[:, None]
    mask |= np.where(wrong, BIT["designation"], 0).astype(np.uint16)
    for i, child in enumerate(children):
        _own_reasons(child, places, distance[i], mask[i])
    return mask


def children_masks(children: Sequence[Child], places: Estate) -> MaskArray:
    """`children_reasons` with each child's distances to the units worked out here."""
    rows = [distances_km(child.lat, child.lon, places) for child in children]
    distance = np.stack(rows) if rows else np.zeros((0, len(places.free_beds)))
    return children_reasons(children, places, distance)


def _own_reasons(child: Child, places: Estate, distance: FloatArray, row: MaskArray) -> None:
    """Add to a child's row of masks (in place) the rules that depend on its own lists and
    limits, given its distances to the units."""
    if child.needs:
        row |= np.where(_lacks_needs(child, places), BIT["needs"], 0).astype(np.uint16)
    for provider in child.declined_by:
        units = places.provider_units.get(provider)
        if units is not None:
            row[units] |= np.uint16(BIT["declined"])
    if child.max_distance_km is not None:
        row |= np.where(distance > child.max_distance_km, BIT["too_far"], 0).astype(np.uint16)
    for zone in child.exclusion_zones:
        inside = distances_km(zone.lat, zone.lon, places) < zone.radius_km
        row |= np.where(inside, BIT["exclusion_zone"], 0).astype(np.uint16)
    forbidden = _forbidden_resident_flags(child, places)
    if forbidden is not None:
        clash = (places.resident_flags & forbidden).any(axis=1)
        row |= np.where(clash, BIT["mix_conflict"], 0).astype(np.uint16)


def _lacks_needs(child: Child, places: Estate) -> npt.NDArray[np.bool_]:
    if any(need not in places.specialism_index for need in child.needs):
        return np.ones(len(places.free_beds), dtype=np.bool_)
    wanted = _bitset(child.needs, places.specialism_index, places.specialisms.shape[1])
    lacking: npt.NDArray[np.bool_] = ((places.specialisms & wanted) != wanted).any(axis=1)
    return lacking


def _forbidden_resident_flags(child: Child, places: Estate) -> WordArray | None:
    partners = {b for flag in child.flags for b in places.pair_partners.get(flag, ())}
    if not partners:
        return None
    return _bitset(partners, places.flag_index, places.resident_flags.shape[1])


def extra_specialisms(child: Child, places: Estate) -> IntArray:
    """Return, per unit, how many of its specialisms go beyond the child's needs."""
    known = [need for need in child.needs if need in places.specialism_index]
    wanted = _bitset(known, places.specialism_index, places.specialisms.shape[1])
    extra: IntArray = np.bitwise_count(places.specialisms & ~wanted).sum(axis=1).astype(np.int64)
    return extra
