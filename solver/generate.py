"""Synthetic instances: homes and children placed on the real geography of England and Wales.

Every child is synthetic. Units sit in towns outside London and the West Midlands (where there is
no secure children's home); children come from placing authorities weighted roughly by population.
Flags, needs, declines, exclusion zones and acceptance follow the rough shares in DESIGN.md, and
free beds are scarce enough that children compete for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FORMAT = "placements.solver/1"

# (place, lat, lon, weight as a home of children waiting)
PLACES = (
    ("London", 51.507, -0.128, 9.0),
    ("Birmingham", 52.480, -1.903, 4.0),
    ("Manchester", 53.481, -2.242, 3.0),
    ("Leeds", 53.801, -1.549, 3.0),
    ("Liverpool", 53.408, -2.992, 2.0),
    ("Sheffield", 53.381, -1.470, 2.0),
    ("Bristol", 51.455, -2.588, 2.0),
    ("Newcastle", 54.978, -1.618, 2.0),
    ("Nottingham", 52.954, -1.158, 2.0),
    ("Leicester", 52.637, -1.135, 2.0),
    ("Bradford", 53.796, -1.759, 2.0),
    ("Coventry", 52.407, -1.510, 1.0),
    ("Wolverhampton", 52.587, -2.129, 1.0),
    ("Hull", 53.745, -0.336, 1.0),
    ("Stoke-on-Trent", 53.003, -2.180, 1.0),
    ("Derby", 52.922, -1.476, 1.0),
    ("Southampton", 50.910, -1.404, 1.0),
    ("Portsmouth", 50.819, -1.088, 1.0),
    ("Plymouth", 50.375, -4.143, 1.0),
    ("Exeter", 50.722, -3.506, 1.0),
    ("Norwich", 52.630, 1.297, 1.0),
    ("Ipswich", 52.057, 1.148, 1.0),
    ("Cambridge", 52.205, 0.119, 1.0),
    ("Peterborough", 52.570, -0.240, 1.0),
    ("Oxford", 51.752, -1.258, 1.0),
    ("Reading", 51.455, -0.978, 1.0),
    ("Brighton", 50.822, -0.137, 1.0),
    ("Canterbury", 51.280, 1.080, 1.0),
    ("Chelmsford", 51.736, 0.469, 1.0),
    ("Thurrock", 51.476, 0.325, 1.0),
    ("Luton", 51.879, -0.418, 1.0),
    ("Northampton", 52.240, -0.902, 1.0),
    ("Milton Keynes", 52.041, -0.759, 1.0),
    ("Guildford", 51.236, -0.570, 1.0),
    ("Lincoln", 53.230, -0.540, 1.0),
    ("York", 53.960, -1.082, 1.0),
    ("Rotherham", 53.430, -1.357, 1.0),
    ("Middlesbrough", 54.576, -1.235, 1.0),
    ("Carlisle", 54.892, -2.934, 0.5),
    ("Preston", 53.763, -2.703, 1.0),
    ("Blackpool", 53.817, -3.036, 0.5),
    ("Bolton", 53.578, -2.429, 1.0),
    ("Gloucester", 51.864, -2.244, 1.0),
    ("Swindon", 51.558, -1.782, 1.0),
    ("Bournemouth", 50.720, -1.880, 1.0),
    ("Truro", 50.263, -5.051, 0.5),
    ("Shrewsbury", 52.708, -2.754, 0.5),
    ("Hereford", 52.056, -2.716, 0.4),
    ("Worcester", 52.192, -2.220, 0.6),
    ("Cardiff", 51.481, -3.179, 1.5),
    ("Swansea", 51.621, -3.944, 1.0),
    ("Newport", 51.584, -2.998, 0.7),
    ("Caerphilly", 51.575, -3.218, 0.5),
    ("Wrexham", 53.046, -2.993, 0.5),
    ("Bangor", 53.227, -4.129, 0.3),
    ("Aberystwyth", 52.415, -4.082, 0.3),
    ("Carmarthen", 51.856, -4.306, 0.3),
)
NO_SECURE_HOME = frozenset({"London", "Birmingham", "Coventry", "Wolverhampton"})
SPECIALISMS = (
    "cse",
    "trauma",
    "self_harm",
    "mental_health",
    "substance_misuse",
    "harmful_sexual_behaviour",
    "learning_disability",
    "autism",
)
INCOMPATIBLE_FLAGS = [["cse_victim", "sexual_harm_risk"]]


def generate(
    children: int, units: int, seed: int = 0, *, beds: int | None = None
) -> dict[str, Any]:
    """Return a synthetic `placements.solver/1` instance (free beds total `beds` when given)."""
    rng = np.random.default_rng(seed)
    unit_list = _units(rng, units, children, beds)
    providers = sorted({unit["provider_id"] for unit in unit_list})
    return {
        "format": FORMAT,
        "incompatible_flags": INCOMPATIBLE_FLAGS,
        "units": unit_list,
        "children": [_child(rng, i, providers) for i in range(children)],
        "weights": {},
    }


def _pick(rng: np.random.Generator, weights: list[float]) -> int:
    p = np.array(weights, dtype=np.float64)
    return int(rng.choice(len(p), p=p / p.sum()))


def _near(rng: np.random.Generator, place: tuple[str, float, float, float], spread: float) -> Any:
    _, lat, lon, _ = place
    return (
        round(float(lat + rng.normal(0, spread)), 4),
        round(float(lon + rng.normal(0, spread * 1.6)), 4),
    )


def _free_beds(rng: np.random.Generator, units: int, children: int, beds: int | None) -> list[int]:
    if units == 0:
        return []
    if beds is not None:
        return [int(b) for b in rng.multinomial(beds, np.full(units, 1.0 / units))]
    mean = min(3.0, max(0.3, 1.1 * children / units))
    return [int(b) for b in np.minimum(rng.poisson(mean, units), 6)]


def _units(
    rng: np.random.Generator, count: int, children: int, beds: int | None
) -> list[dict[str, Any]]:
    towns = [place for place in PLACES if place[0] not in NO_SECURE_HOME]
    free = _free_beds(rng, count, children, beds)
    result: list[dict[str, Any]] = []
    home = 0
    while len(result) < count:
        home += 1
        town = towns[int(rng.integers(len(towns)))]
        lat, lon = _near(rng, town, 0.08)
        for number in range(1, int(rng.integers(1, 5)) + 1):
            if len(result) == count:
                break
            result.append(_unit(rng, f"home-{home:05d}", number, lat, lon, free[len(result)]))
    return result


def _unit(
    rng: np.random.Generator, provider: str, number: int, lat: float, lon: float, free: int
) -> dict[str, Any]:
    designation = ("welfare", "mixed", "justice")[_pick(rng, [0.45, 0.35, 0.20])]
    sexes = (["F"], ["M"], ["F", "M"])[_pick(rng, [0.2, 0.2, 0.6])]
    specialisms = rng.choice(SPECIALISMS, size=int(rng.integers(1, 4)), replace=False)
    residents = int(rng.integers(0, 9))
    resident_flags = [_resident_flags(rng, designation) for _ in range(residents)]
    if designation == "justice":
        justice = residents
    elif designation == "mixed":
        justice = int(rng.binomial(residents, 0.5))
    else:
        justice = 0
    return {
        "id": f"{provider}/{number}",
        "provider_id": provider,
        "lat": lat,
        "lon": lon,
        "free_beds": free,
        "sexes": sexes,
        "min_age": 10 if rng.random() < 0.7 else 12,
        "max_age": 17 if rng.random() < 0.85 else 18,
        "designation": designation,
        "specialisms": sorted(str(s) for s in specialisms),
        "resident_flags": resident_flags,
        "justice_residents": justice,
    }


def _resident_flags(rng: np.random.Generator, designation: str) -> list[str]:
    harm = 0.15 if designation != "welfare" else 0.05
    shares = (("cse_victim", 0.25), ("sexual_harm_risk", harm), ("gang_affiliation", 0.15))
    return [flag for flag, share in shares if rng.random() < share]


def _child(rng: np.random.Generator, index: int, providers: list[str]) -> dict[str, Any]:
    place = PLACES[_pick(rng, [p[3] for p in PLACES])]
    lat, lon = _near(rng, place, 0.05)
    sex = "F" if rng.random() < 0.5 else "M"
    basis = ("welfare", "remand", "sentence")[_pick(rng, [0.7, 0.15, 0.15])]
    flags = _child_flags(rng, sex, basis)
    needs = {str(s) for s in rng.choice(SPECIALISMS, size=int(rng.integers(0, 2)), replace=False)}
    if "cse_victim" in flags and rng.random() < 0.5:
        needs.add("cse")
    zones = []
    if "cse_victim" in flags and rng.random() < 0.5:
        zones.append({"lat": lat, "lon": lon, "radius_km": float(rng.integers(20, 80))})
    declined = rng.choice(providers, size=min(len(providers), _pick(rng, [0.6, 0.3, 0.1])))
    liked = rng.choice(providers, size=min(len(providers), int(rng.integers(0, 4))))
    return {
        "id": f"REQ-{index + 1:05d}",
        "age": int(rng.choice(range(10, 18), p=[0.02, 0.04, 0.08, 0.14, 0.2, 0.22, 0.18, 0.12])),
        "sex": sex,
        "legal_basis": basis,
        "lat": lat,
        "lon": lon,
        "needs": sorted(needs),
        "flags": sorted(flags),
        "days_waiting": int(min(60, rng.geometric(0.15) - 1)),
        "max_distance_km": None if rng.random() < 0.5 else float(rng.integers(150, 450)),
        "exclusion_zones": zones,
        "declined_by": sorted({str(p) for p in declined}),
        "acceptance": {str(p): round(float(rng.uniform(0.3, 0.95)), 2) for p in liked},
    }


def _child_flags(rng: np.random.Generator, sex: str, basis: str) -> set[str]:
    shares = (
        ("cse_victim", 0.4 if sex == "F" else 0.15),
        ("sexual_harm_risk", 0.2 if basis != "welfare" else 0.07),
        ("gang_affiliation", 0.15),
        ("self_harm", 0.25),
        ("absconding", 0.3),
    )
    return {flag for flag, share in shares if rng.random() < share}
