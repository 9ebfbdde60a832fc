"""What-if scenarios: the estate and demand a simulated year runs on, from a file or a sweep.

A scenario starts from the seed estate (`seed/providers.toml`) and changes it. A scenario file is
TOML. Top-level keys come first: TOML gives every key written after a `[table]` header to that
table, so a top-level key placed lower down is refused as an unknown key of the table above it.

    name = "A welfare home in London"     # required, 1 to 80 characters
    close_homes = ["lansdowne"]           # seed home ids: the home and all its units go
    close_units = [{ provider = "swanwick-lodge", unit = "2" }]    # a seed home's unit goes
    close_designations = ["welfare", "mixed"]                      # every seed unit so designated
    incompatible_flags = [["cse_victim", "sexual_harm_risk"]]      # replaces the default pairs

    [demand]                              # multipliers of referrals, 0 to 10 (default 1)
    welfare = 1.2
    justice = 1.0

    [weights]                             # any field of solver.Weights, not negative
    nearness = 50

    [[open_homes]]                        # a new home: the fields of a [[providers]] record
    id = "new-home"                       # of seed/providers.toml (status optional, "active")
    name = "New Home"
    operator = "A council"
    town = "Camden"
    nation = "england"                    # england or wales
    lat = 51.54                           # within England and Wales: lat 49.8-56.0,
    lon = -0.14                           # lon -6.5-2.0
    [[open_homes.units]]
    slug = "1"
    name = "One"
    approved_beds = 6                     # 4 to 12
    designation = "welfare"               # welfare, justice or mixed
    sexes = ["F", "M"]
    min_age = 10                          # 10 to 17, min_age <= max_age
    max_age = 17
    specialisms = ["cse"]                 # optional
    # [open_homes.units.availability] is optional: by default every approved bed is staffed
    # and none is occupied (fields: staffed_beds, occupied_beds, out_of_use_reason,
    # resident_flags, as in the seed).

    [[open_units]]                        # a unit added to a home of the estate (seed or opened)
    provider = "clare-lodge"              # plus the unit fields above
    slug = "3"
    ...

    [[out_of_use]]                        # beds of a unit out of use for a while
    provider = "clare-lodge"
    unit = "nene"
    beds = 2                              # 1 to the unit's approved beds
    from_day = 0                          # optional: from the start of this day (default 0)
    to_day = 90                           # optional: until the start of this day (default: the end)

Days count from the simulation's start. Closures apply to the seed's homes only; a seed home
whose every unit is closed is dropped. A unit closed and opened again under the same slug is
replaced. Out-of-use periods on one unit may overlap as long as, on every day, they take no more
beds than the unit is approved for. Any problem raises `ScenarioError` with one line naming the
file and the field, e.g. `scenario london.toml: close_homes[0]: no home 'nowhere' in
seed/providers.toml`. Booleans are never accepted where a number is expected.

`sweep` makes one scenario per bed count, each adding a new welfare-only home at a region's
centre (`REGIONS`), for the bed sweep of `placements simulate --sweep-beds`.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import solver
from placements.beds import count_errors
from placements.ids import SLUG_PATTERN, SLUG_RULE
from placements.providers import ProviderSpec, StartingAvailability, UnitSpec
from placements.seeding import provider_spec, read_seed
from placements.vocabulary import (
    DESIGNATIONS,
    FLAGS,
    NATIONS,
    OUT_OF_USE_REASONS,
    PROVIDER_STATUSES,
    SEXES,
    SPECIALISMS,
)

SEED_PROVIDERS = "seed/providers.toml"
# A unit's size as registration and the seed keep it.
UNIT_BEDS = (4, 12)
# The ages secure children's homes take.
AGES = (10, 17)
# England and Wales, roughly: a home outside is a typo (a swapped sign or lat/lon).
LATITUDES = (49.8, 56.0)
LONGITUDES = (-6.5, 2.0)
DEMAND_RANGE = (0.0, 10.0)
NAME_LENGTH = 80
TEXT_LENGTH = 120

# Approximate centres (of population, more than of area) of the English regions and of Wales.
REGIONS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "london": (51.507, -0.128),
        "south_east": (51.300, -0.800),
        "south_west": (51.000, -3.100),
        "east": (52.200, 0.400),
        "west_midlands": (52.480, -1.903),
        "east_midlands": (52.850, -1.000),
        "yorkshire": (53.800, -1.400),
        "north_west": (53.600, -2.600),
        "north_east": (54.900, -1.600),
        "wales": (52.300, -3.600),
    }
)

_TOP_LEVEL = (
    "name",
    "demand",
    "close_homes",
    "close_units",
    "close_designations",
    "open_homes",
    "open_units",
    "out_of_use",
    "incompatible_flags",
    "weights",
)
_HOME_FIELDS = ("id", "name", "operator", "town", "nation", "lat", "lon", "status", "units")
_UNIT_FIELDS = (
    "slug",
    "name",
    "approved_beds",
    "designation",
    "sexes",
    "min_age",
    "max_age",
    "specialisms",
    "availability",
)
_UNIT_REQUIRED = tuple(f for f in _UNIT_FIELDS if f not in ("specialisms", "availability"))
_AVAILABILITY_FIELDS = ("staffed_beds", "occupied_beds", "out_of_use_reason", "resident_flags")
_WEIGHT_FIELDS = {f.name: f.type for f in fields(solver.Weights)}


class ScenarioError(Exception):
    """A scenario file that cannot be used: one line naming the file and the field."""


@dataclass(frozen=True)
class OutOfUse:
    """Beds of a unit taken out of use for a while (days counted from the simulation's start)."""

    provider_id: str
    unit_slug: str
    beds: int
    from_day: int = 0
    to_day: int | None = None  # None: to the end


@dataclass(frozen=True)
class Scenario:
    """The estate and demand a simulation runs on."""

    name: str
    providers: tuple[ProviderSpec, ...]  # the estate after the changes: seed order, then opened
    out_of_use: tuple[OutOfUse, ...] = ()
    welfare_demand: float = 1.0  # multiplier of welfare referrals
    justice_demand: float = 1.0
    incompatible_flags: tuple[tuple[str, str], ...] | None = None  # None: the service's default
    weights: solver.Weights | None = None  # None: the matcher's default weights


def seed_estate() -> tuple[ProviderSpec, ...]:
    """The seed's homes with their units, in the seed file's order."""
    return tuple(provider_spec(p) for p in read_seed("providers.toml")["providers"])


def baseline() -> Scenario:
    """The seed estate unchanged, at the usual demand."""
    return Scenario(name="baseline", providers=seed_estate())


class _File:
    """Reads one scenario file's parsed TOML, naming the file and the field in every refusal."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, field: str, message: str) -> NoReturn:
        # Values quoted in messages go through repr, but keep the promise of one line regardless.
        line = (
            f"scenario {self.label}: {field}: {message}"
            if field
            else f"scenario {self.label}: {message}"
        )
        raise ScenarioError(" ".join(line.split()))

    def table(self, value: object, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field, f"must be a table, not {_kind(value)}")
        return value

    def keys(
        self,
        table: Mapping[str, Any],
        field: str,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                hint = (
                    f"; {key} is a top-level key and must come before the first [table]"
                    if key in _TOP_LEVEL and field
                    else ""
                )
                self.fail(_join(field, key), f"unknown key; known: {', '.join(allowed)}{hint}")
        for key in required:
            if key not in table:
                self.fail(_join(field, key), "missing")

    def array(self, value: object, field: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(field, f"must be a list, not {_kind(value)}")
        return value

    def tables(self, value: object, field: str) -> list[dict[str, Any]]:
        return [
            self.table(item, f"{field}[{i}]") for i, item in enumerate(self.array(value, field))
        ]

    def text(self, value: object, field: str, length: int = TEXT_LENGTH) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"must be text of 1 to {length} characters")
        if len(value) > length or "\n" in value:
            self.fail(field, f"must be one line of at most {length} characters")
        return value

    def slug(self, value: object, field: str) -> str:
        if not isinstance(value, str) or re.fullmatch(SLUG_PATTERN, value) is None:
            self.fail(field, f"must be an identifier: {SLUG_RULE}")
        return value

    def choice(self, value: object, field: str, vocabulary: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in vocabulary:
            self.fail(field, f"{value!r} is not one of {', '.join(vocabulary)}")
        return value

    def choices(
        self, value: object, field: str, vocabulary: tuple[str, ...], *, empty: bool
    ) -> list[str]:
        items = [
            self.choice(item, f"{field}[{i}]", vocabulary)
            for i, item in enumerate(self.array(value, field))
        ]
        if not items and not empty:
            self.fail(field, f"must name at least one of {', '.join(vocabulary)}")
        for i, item in enumerate(items):
            if item in items[:i]:
                self.fail(f"{field}[{i}]", f"{item!r} is repeated")
        return items

    def whole(self, value: object, field: str, low: int, high: int | None, what: str) -> int:
        # bool is a subclass of int: TOML's true must not pass as 1.
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and low <= value
            and (high is None or value <= high)
        ):
            return value
        bounds = f"at least {low}" if high is None else f"{low} to {high}"
        self.fail(field, f"must be a whole number of {what}, {bounds}")

    def number(self, value: object, field: str, low: float, high: float | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number) and low <= number and (high is None or number <= high):
                return number
        bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        self.fail(field, f"must be a number {bounds}")


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list"}
    return names.get(type(value), "a table" if isinstance(value, dict) else type(value).__name__)


def _unit(file: _File, data: dict[str, Any], field: str, extra: tuple[str, ...] = ()) -> UnitSpec:
    """A unit's registration from its scenario record, checked as registration would."""
    file.keys(data, field, (*extra, *_UNIT_FIELDS), (*extra, *_UNIT_REQUIRED))
    approved = file.whole(data["approved_beds"], f"{field}.approved_beds", *UNIT_BEDS, "beds")
    min_age = file.whole(data["min_age"], f"{field}.min_age", *AGES, "years")
    max_age = file.whole(data["max_age"], f"{field}.max_age", *AGES, "years")
    if min_age > max_age:
        file.fail(f"{field}.min_age", f"{min_age} is above max_age {max_age}")
    return UnitSpec(
        slug=file.slug(data["slug"], f"{field}.slug"),
        name=file.text(data["name"], f"{field}.name"),
        approved_beds=approved,
        designation=file.choice(data["designation"], f"{field}.designation", DESIGNATIONS),
        sexes=file.choices(data["sexes"], f"{field}.sexes", SEXES, empty=False),
        min_age=min_age,
        max_age=max_age,
        specialisms=file.choices(
            data.get("specialisms", []), f"{field}.specialisms", SPECIALISMS, empty=True
        ),
        availability=_availability(
            file, data.get("availability"), approved, f"{field}.availability"
        ),
    )


def _availability(file: _File, value: object, approved: int, field: str) -> StartingAvailability:
    """The counts a new unit starts with: by default every approved bed staffed, none occupied."""
    if value is None:
        return StartingAvailability(staffed_beds=approved)
    data = file.table(value, field)
    file.keys(data, field, _AVAILABILITY_FIELDS)
    staffed = file.whole(
        data.get("staffed_beds", approved), f"{field}.staffed_beds", 0, None, "beds"
    )
    occupied = file.whole(data.get("occupied_beds", 0), f"{field}.occupied_beds", 0, None, "beds")
    reason = data.get("out_of_use_reason")
    if reason is not None:
        reason = file.choice(reason, f"{field}.out_of_use_reason", OUT_OF_USE_REASONS)
    flags_field = f"{field}.resident_flags"
    flags = {
        file.choice(flag, flags_field, FLAGS): file.whole(
            count, f"{flags_field}.{flag}", 0, None, "children"
        )
        for flag, count in file.table(data.get("resident_flags", {}), flags_field).items()
    }
    errors = count_errors(
        approved=approved,
        staffed=staffed,
        occupied=occupied,
        reserved=0,
        reason=reason,
        resident_flags=flags,
    )
    for key, messages in errors.items():
        file.fail(f"{field}.{key}", messages[0])
    return StartingAvailability(staffed, occupied, reason, flags)


def _opened_home(file: _File, data: dict[str, Any], field: str) -> ProviderSpec:
    file.keys(data, field, _HOME_FIELDS, (f for f in _HOME_FIELDS if f != "status"))
    units = [
        _unit(file, u, f"{field}.units[{i}]")
        for i, u in enumerate(file.tables(data["units"], f"{field}.units"))
    ]
    if not units:
        file.fail(f"{field}.units", "a home needs at least one unit")
    _unique_slugs(file, [u.slug for u in units], f"{field}.units", set())
    return ProviderSpec(
        id=file.slug(data["id"], f"{field}.id"),
        name=file.text(data["name"], f"{field}.name"),
        operator=file.text(data["operator"], f"{field}.operator"),
        town=file.text(data["town"], f"{field}.town"),
        nation=file.choice(data["nation"], f"{field}.nation", NATIONS),
        lat=file.number(data["lat"], f"{field}.lat", *LATITUDES),
        lon=file.number(data["lon"], f"{field}.lon", *LONGITUDES),
        status=file.choice(data.get("status", "active"), f"{field}.status", PROVIDER_STATUSES),
        units=units,
    )


def _unique_slugs(file: _File, slugs: list[str], field: str, taken: set[str]) -> None:
    for i, slug in enumerate(slugs):
        if slug in taken or slug in slugs[:i]:
            file.fail(f"{field}[{i}].slug", f"unit {slug!r} already exists in this home")


def _closures(
    file: _File, data: dict[str, Any], seed: Mapping[str, ProviderSpec]
) -> tuple[set[str], set[tuple[str, str]]]:
    """The seed homes and the seed units (home id, slug) the scenario closes."""
    homes: set[str] = set()
    for i, home in enumerate(file.array(data.get("close_homes", []), "close_homes")):
        homes.add(_seed_home(file, home, f"close_homes[{i}]", seed).id)
    units: set[tuple[str, str]] = set()
    for i, item in enumerate(file.tables(data.get("close_units", []), "close_units")):
        field = f"close_units[{i}]"
        file.keys(item, field, ("provider", "unit"), ("provider", "unit"))
        home = _seed_home(file, item["provider"], f"{field}.provider", seed)
        units.add((home.id, _unit_of(file, home, item["unit"], f"{field}.unit").slug))
    designations = file.choices(
        data.get("close_designations", []), "close_designations", DESIGNATIONS, empty=True
    )
    units |= {
        (h.id, u.slug) for h in seed.values() for u in h.units if u.designation in designations
    }
    return homes, units


def _seed_home(
    file: _File, value: object, field: str, seed: Mapping[str, ProviderSpec]
) -> ProviderSpec:
    if not isinstance(value, str):
        file.fail(field, f"must be a home id, not {_kind(value)}")
    if value not in seed:
        file.fail(field, f"no home {value!r} in {SEED_PROVIDERS}")
    return seed[value]


def _unit_of(file: _File, home: ProviderSpec, value: object, field: str) -> UnitSpec:
    slugs = [u.slug for u in home.units]
    if not isinstance(value, str) or value not in slugs:
        file.fail(field, f"home {home.id!r} has no unit {value!r} (its units: {', '.join(slugs)})")
    return home.units[slugs.index(value)]


def _estate(
    file: _File, data: dict[str, Any], seed: Mapping[str, ProviderSpec]
) -> tuple[ProviderSpec, ...]:
    """The seed estate with the file's closures and openings applied."""
    closed_homes, closed_units = _closures(file, data, seed)
    opened: list[ProviderSpec] = []
    for i, item in enumerate(file.tables(data.get("open_homes", []), "open_homes")):
        home = _opened_home(file, item, f"open_homes[{i}]")
        if home.id in seed or any(home.id == h.id for h in opened):
            file.fail(f"open_homes[{i}].id", f"a home {home.id!r} already exists")
        opened.append(home)
    kept = {
        h.id: [u for u in h.units if (h.id, u.slug) not in closed_units]
        for h in seed.values()
        if h.id not in closed_homes
    }
    kept |= {h.id: list(h.units) for h in opened}
    for i, item in enumerate(file.tables(data.get("open_units", []), "open_units")):
        field = f"open_units[{i}]"
        unit = _unit(file, item, field, extra=("provider",))
        home_id = item["provider"]
        if not isinstance(home_id, str) or home_id not in kept:
            _no_home(file, f"{field}.provider", home_id, closed_homes)
        if any(u.slug == unit.slug for u in kept[home_id]):
            file.fail(f"{field}.slug", f"unit {unit.slug!r} already exists in home {home_id!r}")
        kept[home_id].append(unit)
    ordered = [h for h in seed.values() if h.id in kept] + opened
    return tuple(replace(h, units=kept[h.id]) for h in ordered if kept[h.id])


def _no_home(file: _File, field: str, home_id: object, closed: Iterable[str]) -> NoReturn:
    if not isinstance(home_id, str):
        file.fail(field, f"must be a home id, not {_kind(home_id)}")
    why = "is closed by this scenario" if home_id in closed else "is not in the estate"
    file.fail(field, f"home {home_id!r} {why}")


def _out_of_use(
    file: _File, value: object, estate: tuple[ProviderSpec, ...], seed: Mapping[str, ProviderSpec]
) -> tuple[OutOfUse, ...]:
    homes = {h.id: h for h in estate}
    periods = []
    for i, item in enumerate(file.tables(value, "out_of_use")):
        field = f"out_of_use[{i}]"
        allowed = ("provider", "unit", "beds", "from_day", "to_day")
        file.keys(item, field, allowed, allowed[:3])
        home_id = item["provider"]
        if not isinstance(home_id, str) or home_id not in homes:
            _no_home(file, f"{field}.provider", home_id, seed.keys())
        unit = _unit_of(file, homes[home_id], item["unit"], f"{field}.unit")
        beds = file.whole(item["beds"], f"{field}.beds", 1, None, "beds")
        if beds > unit.approved_beds:
            file.fail(
                f"{field}.beds", f"{beds} beds but unit {unit.slug!r} has {unit.approved_beds}"
            )
        start = file.whole(item.get("from_day", 0), f"{field}.from_day", 0, None, "days")
        end = item.get("to_day")
        if end is not None:
            end = file.whole(end, f"{field}.to_day", 0, None, "days")
            if end <= start:
                file.fail(f"{field}.to_day", f"{end} is not after from_day {start}")
        periods.append(OutOfUse(home_id, unit.slug, beds, start, end))
    for i, period in enumerate(periods):
        # The most beds out of use at once is reached on the first day of some period.
        at_once = sum(
            p.beds
            for p in periods
            if (p.provider_id, p.unit_slug) == (period.provider_id, period.unit_slug)
            and p.from_day <= period.from_day
            and (p.to_day is None or period.from_day < p.to_day)
        )
        approved = next(
            u.approved_beds for u in homes[period.provider_id].units if u.slug == period.unit_slug
        )
        if at_once > approved:
            file.fail(
                f"out_of_use[{i}].beds",
                f"{at_once} beds of unit {period.unit_slug!r} out of use on day {period.from_day} "
                f"but it has {approved}",
            )
    return tuple(periods)


def _flag_pairs(file: _File, value: object) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(file.array(value, "incompatible_flags")):
        field = f"incompatible_flags[{i}]"
        pair = file.array(item, field)
        if len(pair) != 2:
            file.fail(field, "must be a pair of flags")
        first = file.choice(pair[0], f"{field}[0]", FLAGS)
        second = file.choice(pair[1], f"{field}[1]", FLAGS)
        if first == second:
            file.fail(field, f"{first!r} is paired with itself")
        if (first, second) in pairs or (second, first) in pairs:
            file.fail(field, f"the pair {first!r}, {second!r} is repeated")
        pairs.append((first, second))
    return tuple(pairs)


def _weights(file: _File, value: object) -> solver.Weights:
    data = file.table(value, "weights")
    file.keys(data, "weights", _WEIGHT_FIELDS)
    chosen: dict[str, Any] = {}
    for key, raw in data.items():
        if _WEIGHT_FIELDS[key] in (int, "int"):
            chosen[key] = file.whole(raw, f"weights.{key}", 0, None, "points or days")
        else:
            chosen[key] = file.number(raw, f"weights.{key}", 0.0, None)
    if chosen.get("nearness_scale_km") == 0:
        # Nearness is divided by the scale.
        file.fail("weights.nearness_scale_km", "must be above 0")
    return solver.Weights(**chosen)


def _scenario(file: _File, data: dict[str, Any]) -> Scenario:
    file.keys(data, "", _TOP_LEVEL, ("name",))
    name = file.text(data["name"], "name", NAME_LENGTH)
    seed = {h.id: h for h in seed_estate()}
    estate = _estate(file, data, seed)
    demand = file.table(data.get("demand", {}), "demand")
    file.keys(demand, "demand", ("welfare", "justice"))
    flags = data.get("incompatible_flags")
    weights = data.get("weights")
    return Scenario(
        name=name,
        providers=estate,
        out_of_use=_out_of_use(file, data.get("out_of_use", []), estate, seed),
        welfare_demand=file.number(demand.get("welfare", 1.0), "demand.welfare", *DEMAND_RANGE),
        justice_demand=file.number(demand.get("justice", 1.0), "demand.justice", *DEMAND_RANGE),
        incompatible_flags=None if flags is None else _flag_pairs(file, flags),
        weights=None if weights is None else _weights(file, weights),
    )


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file (format: the module docstring)."""
    file = _File(path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        file.fail("", f"no such file {str(path)!r}")
    except (OSError, UnicodeDecodeError) as error:
        file.fail("", f"cannot be read: {error}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # The decoder's message ends with "(at line N, column M)".
        file.fail("", f"not valid TOML: {error}")
    return _scenario(file, data)


def _sizes(beds: int) -> list[int]:
    """The fewest units of at most 12 beds holding `beds`, as even as can be, largest first."""
    count = -(-beds // UNIT_BEDS[1])
    size, extra = divmod(beds, count)
    return [size + 1] * extra + [size] * (count - extra)


def sweep(beds: range, region: str, base: Scenario | None = None) -> list[Scenario]:
    """One scenario per bed count: `base` plus a welfare-only home of that many beds in `region`."""
    if region not in REGIONS:
        raise ScenarioError(f"sweep: unknown region {region!r}; known: {', '.join(REGIONS)}")
    for count in beds:
        if count < 0 or 0 < count < UNIT_BEDS[0]:
            raise ScenarioError(
                f"sweep: {count} beds: must be 0 or at least {UNIT_BEDS[0]} "
                f"(a unit has {UNIT_BEDS[0]} to {UNIT_BEDS[1]} beds)"
            )
    start = base or baseline()
    home_id = "sweep-" + region.replace("_", "-")
    if any(h.id == home_id for h in start.providers):
        raise ScenarioError(f"sweep: the estate already has a home {home_id!r}")
    lat, lon = REGIONS[region]
    label = region.replace("_", " ").title()
    scenarios = []
    for count in beds:
        units = [
            UnitSpec(
                slug=str(n),
                name=f"Sweep {n}",
                approved_beds=size,
                designation="welfare",
                sexes=list(SEXES),
                min_age=AGES[0],
                max_age=AGES[1],
                specialisms=["cse", "trauma"],
                availability=StartingAvailability(staffed_beds=size),
            )
            for n, size in enumerate(_sizes(count) if count else [], start=1)
        ]
        home = ProviderSpec(
            id=home_id,
            name=f"Sweep welfare home ({label})",
            operator="Simulated",
            town=label,
            nation="wales" if region == "wales" else "england",
            lat=lat,
            lon=lon,
            units=units,
        )
        name = f"{region} +{count} welfare beds"
        scenarios.append(
            replace(
                start,
                name=name if start.name == "baseline" else f"{start.name}, {name}",
                providers=start.providers + ((home,) if units else ()),
            )
        )
    return scenarios
