"""The year's children and staffing shortfalls, drawn from the parameters and a seed.

Everything a policy cannot change is drawn here, before the year runs, from its own random
stream: the same seed gives every policy the same children at the same moments (common random
numbers), so differences between policies are the policies'. A home's answer to a child is drawn
from the pair itself (`pair_uniform`), so a home answers a child the same way whichever policy
offered it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from placements.requests import Zone
from placements.simulation.parameters import Justice, Parameters, Welfare

HOURS_PER_DAY = 24.0
KM_PER_DEGREE_LAT = 111.0


@dataclass(frozen=True)
class Arrival:
    """A child whose authority asks for a secure placement during the year."""

    id: str
    at_h: float
    legal_basis: str
    authority_id: str
    home: tuple[float, float]
    age: int
    sex: str
    grounds: tuple[str, ...]
    flags: tuple[str, ...]
    needs: tuple[str, ...]
    previous_secure: bool
    exclusion_zones: tuple[Zone, ...]
    stay_h: float
    patience_h: float
    order_at_request: bool
    order_after_admission_h: float
    travel_h: float


@dataclass(frozen=True)
class Shortfall:
    """Beds of a unit out of use for lack of staff, from one hour to another."""

    unit_id: str
    beds: int
    from_h: float
    to_h: float


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams for each part of the model, all from one seed."""
    names = ("welfare", "justice", "shortfalls", "residents")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(s) for name, s in zip(names, children, strict=True)}


def pair_uniform(seed: int, *keys: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the keys (a child and a home, say)."""
    digest = hashlib.sha256("\x1f".join((str(seed), *keys)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def lognormal_hours(rng: np.random.Generator, median_h: float, sigma: float) -> float:
    """A lognormal duration in hours with the given median and spread."""
    return float(median_h * math.exp(sigma * rng.standard_normal()))


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _arrival_hours(
    rng: np.random.Generator,
    per_year: float,
    days: int,
    *,
    bursts: float = 0.0,
    burst_size: float = 0.0,
    burst_days: float = 1.0,
) -> list[float]:
    """Poisson arrivals, with bursts (a Poisson number of bursts, each spread over a few days)."""
    hours = days * HOURS_PER_DAY
    in_bursts = bursts * burst_size
    base = max(0.0, per_year - in_bursts) * days / 365.0
    times = list(rng.uniform(0.0, hours, int(rng.poisson(base))))
    for _ in range(int(rng.poisson(bursts * days / 365.0))):
        start = float(rng.uniform(0.0, hours))
        size = int(rng.poisson(burst_size))
        times += [t for t in start + rng.uniform(0.0, burst_days * 24, size) if t < hours]
    return sorted(float(t) for t in times)


def _home(
    rng: np.random.Generator, centre: tuple[float, float], spread_km: float
) -> tuple[float, float]:
    lat, lon = centre
    dlat = rng.normal(0.0, spread_km) / KM_PER_DEGREE_LAT
    dlon = rng.normal(0.0, spread_km) / (KM_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    return round(lat + dlat, 4), round(lon + dlon, 4)


def _age(rng: np.random.Generator, weights: dict[str, float]) -> int:
    return int(_choice(rng, weights))


def _welfare_child(
    rng: np.random.Generator,
    w: Welfare,
    index: int,
    at_h: float,
    authority_id: str,
    home: tuple[float, float],
) -> Arrival:
    sex = "F" if rng.random() < w.girls_share else "M"
    ground = _choice(rng, w.grounds)
    chance = {
        "cse_victim": w.cse_victim_girls if sex == "F" else w.cse_victim_boys,
        "sexual_harm_risk": w.sexual_harm_risk,
        "violence_risk": w.violence_risk * (2.0 if ground == "harm_to_others" else 1.0),
        "gang_affiliation": w.gang_affiliation,
        "absconding_risk": w.absconding_risk * (1.6 if ground == "absconding_with_harm" else 0.6),
        "self_harm": w.self_harm * (2.0 if ground == "harm_to_self" else 0.5),
        "substance_misuse": w.substance_misuse,
        "offending_history": w.offending_history,
    }
    flags = tuple(f for f, p in chance.items() if rng.random() < min(1.0, p))
    if "cse_victim" in flags and "sexual_harm_risk" in flags:
        flags = tuple(f for f in flags if f != "sexual_harm_risk")  # rare together; kept apart
    calls = {"cse": "cse_victim", "self_harm": "self_harm", "mental_health": "self_harm"}
    needs = tuple(n for n, p in sorted(w.needs.items()) if calls[n] in flags and rng.random() < p)
    zones: tuple[Zone, ...] = ()
    if "cse_victim" in flags and rng.random() < w.exclusion_zone_share:
        zones = (Zone(home[0], home[1], w.exclusion_radius_km),)
    return Arrival(
        id=f"W{index:04d}",
        at_h=at_h,
        legal_basis="welfare",
        authority_id=authority_id,
        home=home,
        age=_age(rng, w.age_weights),
        sex=sex,
        grounds=(ground,),
        flags=flags,
        needs=needs,
        previous_secure=bool(rng.random() < w.previous_secure_share),
        exclusion_zones=zones,
        stay_h=max(24.0, lognormal_hours(rng, w.stay_median_days * 24, w.stay_sigma)),
        patience_h=max(4.0, lognormal_hours(rng, w.patience_median_days * 24, w.patience_sigma)),
        order_at_request=bool(rng.random() < w.order_at_request_share),
        order_after_admission_h=lognormal_hours(
            rng, w.order_after_admission_median_hours, w.order_after_admission_sigma
        ),
        travel_h=w.travel_hours,
    )


def _justice_child(
    rng: np.random.Generator,
    j: Justice,
    index: int,
    at_h: float,
    authority_id: str,
    home: tuple[float, float],
) -> Arrival:
    remand = bool(rng.random() < j.remand_share)
    chance = {
        "violence_risk": j.violence_risk,
        "gang_affiliation": j.gang_affiliation,
        "sexual_harm_risk": j.sexual_harm_risk,
        "substance_misuse": j.substance_misuse,
        "offending_history": 1.0,
    }
    flags = tuple(f for f, p in chance.items() if rng.random() < p)
    median, sigma = (
        (j.remand_median_days, j.remand_sigma)
        if remand
        else (j.sentence_median_days, j.sentence_sigma)
    )
    return Arrival(
        id=f"J{index:04d}",
        at_h=at_h,
        legal_basis="remand" if remand else "sentence",
        authority_id=authority_id,
        home=home,
        age=_age(rng, j.age_weights),
        sex="F" if rng.random() < j.girls_share else "M",
        grounds=(),
        flags=flags,
        needs=(),
        previous_secure=False,
        exclusion_zones=(),
        stay_h=max(24.0, lognormal_hours(rng, median * 24, sigma)),
        patience_h=max(2.0, lognormal_hours(rng, j.patience_median_days * 24, j.patience_sigma)),
        order_at_request=True,
        order_after_admission_h=0.0,
        travel_h=j.travel_hours,
    )


def arrivals(
    parameters: Parameters,
    centres: dict[str, tuple[float, float]],
    days: int,
    seed: int,
    *,
    welfare_demand: float = 1.0,
    justice_demand: float = 1.0,
) -> list[Arrival]:
    """Every child of the horizon, in order of arrival."""
    rngs = streams(seed)
    w, j, a = parameters.welfare, parameters.justice, parameters.authorities
    weights = {k: v for k, v in a.weights.items() if k in centres}
    children: list[Arrival] = []
    rng = rngs["welfare"]
    times = _arrival_hours(
        rng,
        w.referrals_per_year * welfare_demand,
        days,
        bursts=w.bursts_per_year * welfare_demand,
        burst_size=w.burst_size,
        burst_days=w.burst_days,
    )
    for index, at_h in enumerate(times, 1):
        authority = _choice(rng, weights)
        home = _home(rng, centres[authority], a.spread_km)
        children.append(_welfare_child(rng, w, index, at_h, authority, home))
    rng = rngs["justice"]
    for index, at_h in enumerate(
        _arrival_hours(rng, j.placements_per_year * justice_demand, days), 1
    ):
        authority = _choice(rng, weights)
        home = _home(rng, centres[authority], a.spread_km)
        children.append(_justice_child(rng, j, index, at_h, authority, home))
    return sorted(children, key=lambda c: (c.at_h, c.id))


def shortfalls(
    parameters: Parameters, units: list[tuple[str, int]], days: int, seed: int
) -> list[Shortfall]:
    """Staffing shortfalls through the horizon for units given as (id, approved beds)."""
    rng = streams(seed)["shortfalls"]
    h = parameters.homes
    found: list[Shortfall] = []
    for unit_id, beds in sorted(units):
        for at_h in _arrival_hours(rng, h.shortfalls_per_unit_year, days):
            length = lognormal_hours(rng, h.shortfall_median_days * 24, h.shortfall_sigma)
            found.append(Shortfall(unit_id, min(beds, h.shortfall_beds), at_h, at_h + length))
    return found
