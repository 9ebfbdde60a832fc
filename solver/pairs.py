"""Every eligible (child, unit) pair and its score, for blocks of children at once with numpy.

The same rules and score components as `rules.child_reasons` and `score.score_rows` (the tests hold
them to each other), computed on a (children x units) block rather than one child at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from solver.model import Child, Problem
from solver.rules import (
    EARTH_RADIUS_KM,
    BoolArray,
    Estate,
    FloatArray,
    IntArray,
    WordArray,
    _bitset,
    distances_km,
    estate,
)
from solver.score import waiting

BLOCK_CELLS = 1 << 20  # children x units per block


def blocks(problem: Problem) -> Iterator[tuple[int, IntArray, IntArray, IntArray, FloatArray]]:
    """Yield (first child, child offsets, units, scores, distances) of eligible pairs by block.

    Distances are computed only for the pairs that pass every other rule.
    """
    places = estate(problem)
    m = len(places.free_beds)
    size = max(1, BLOCK_CELLS // max(1, m))
    for first in range(0, len(problem.children), size):
        group = problem.children[first : first + size]
        rows, units = np.nonzero(_eligible_but_distance(group, places))
        distance = _distances(group, places, rows, units)
        limit = np.array(
            [math.inf if c.max_distance_km is None else c.max_distance_km for c in group]
        )
        near = np.flatnonzero(~(distance > limit[rows]))
        rows, units, distance = rows[near], units[near], distance[near]
        if len(rows) == 0:
            continue
        score = _scores(group, places, distance, problem, rows, units)
        yield first, rows.astype(np.int64), units.astype(np.int64), score, distance


def _distances(
    group: Sequence[Child], places: Estate, rows: IntArray, units: IntArray
) -> FloatArray:
    # As `rules.distances_km`, with each child's latitude and its cosine in Python floats.
    p1 = np.array([math.radians(c.lat) for c in group], dtype=np.float64)[rows]
    l1 = np.array([math.radians(c.lon) for c in group], dtype=np.float64)[rows]
    cos_p1 = np.array([math.cos(math.radians(c.lat)) for c in group], dtype=np.float64)[rows]
    dlat, dlon = places.lat[units] - p1, places.lon[units] - l1
    a = np.sin(dlat / 2) ** 2 + cos_p1 * places.cos_lat[units] * np.sin(dlon / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    return result


def _eligible_but_distance(group: Sequence[Child], places: Estate) -> BoolArray:
    shape = (len(group), len(places.free_beds))
    ok = np.broadcast_to(places.free_beds >= 1, shape).copy()
    sex_bit = np.array([1 if c.sex == "F" else 2 for c in group], dtype=np.int64)[:, None]
    ok &= (places.sex_bits[None, :] & sex_bit) != 0
    age = np.array([c.age for c in group], dtype=np.int64)[:, None]
    ok &= (places.min_age[None, :] <= age) & (age <= places.max_age[None, :])
    wrong = np.array([1 if c.legal_basis == "welfare" else 0 for c in group])[:, None]
    ok &= places.designation[None, :] != wrong
    words = places.specialisms.shape[1]
    flag_words = places.resident_flags.shape[1]
    wants = np.zeros((len(group), words), dtype=np.uint64)
    forbidden = np.zeros((len(group), flag_words), dtype=np.uint64)
    for i, child in enumerate(group):
        if child.needs:
            if any(need not in places.specialism_index for need in child.needs):
                ok[i] = False
                continue
            wants[i] = _bitset(child.needs, places.specialism_index, words)
        for provider in child.declined_by:
            units = places.provider_units.get(provider)
            if units is not None:
                ok[i, units] = False
        for zone in child.exclusion_zones:
            ok[i] &= ~(distances_km(zone.lat, zone.lon, places) < zone.radius_km)
        partners = {b for flag in child.flags for b in places.pair_partners.get(flag, ())}
        if partners:
            forbidden[i] = _bitset(partners, places.flag_index, flag_words)
    for w in range(words):
        want = wants[:, w][:, None]
        ok &= (places.specialisms[None, :, w] & want) == want
    for w in range(flag_words):
        ok &= (places.resident_flags[None, :, w] & forbidden[:, w][:, None]) == 0
    return ok


def _scores(
    group: Sequence[Child],
    places: Estate,
    distance: FloatArray,
    problem: Problem,
    rows: IntArray,
    units: IntArray,
) -> IntArray:
    # As `score.score_rows`, only at the eligible cells.
    weights = problem.weights
    d = distance
    zoned = np.array([bool(c.exclusion_zones) for c in group], dtype=np.bool_)[rows]
    closeness = np.maximum(0.0, 1.0 - d / weights.nearness_scale_km)
    near = np.where(zoned, 0, np.rint(weights.nearness * closeness)).astype(np.int64)
    known = _known_needs(group, places)
    extra = np.bitwise_count(places.specialisms[units] & ~known[rows]).sum(axis=1).astype(np.int64)
    extra = np.minimum(extra, weights.specialism_cap)
    special = np.rint(weights.specialism * extra).astype(np.int64)
    likelihood = np.ones(len(rows), dtype=np.float64)
    starts = np.searchsorted(rows, np.arange(len(group) + 1))
    for i, child in enumerate(group):
        if not child.acceptance or starts[i] == starts[i + 1]:
            continue
        lo, hi = int(starts[i]), int(starts[i + 1])
        row = np.ones(len(places.free_beds), dtype=np.float64)
        for provider, p in child.acceptance.items():
            provider_units = places.provider_units.get(provider)
            if provider_units is not None:
                row[provider_units] = p
        likelihood[lo:hi] = row[units[lo:hi]]
    accept = np.rint(weights.acceptance * likelihood).astype(np.int64)
    wait = np.array([waiting(c, weights) for c in group], dtype=np.int64)[rows]
    penalty = np.array(
        [-round(weights.justice_mix) if c.legal_basis == "welfare" else 0 for c in group],
        dtype=np.int64,
    )[rows]
    mix = np.where(places.holds_justice[units], penalty, 0).astype(np.int64)
    total: IntArray = near + special + accept + wait + mix
    return total


def _known_needs(group: Sequence[Child], places: Estate) -> WordArray:
    words = places.specialisms.shape[1]
    known = np.zeros((len(group), words), dtype=np.uint64)
    for i, child in enumerate(group):
        needs = [need for need in child.needs if need in places.specialism_index]
        if needs:
            known[i] = _bitset(needs, places.specialism_index, words)
    return known
