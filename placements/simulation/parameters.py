"""The simulation's parameters, read from `seed/simulation.toml` with a source for each."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from placements.seeding import seed_file

T = TypeVar("T")


class ParameterError(Exception):
    """A parameter file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Welfare:
    """Welfare referrals: how many, who, how long they stay and wait."""

    referrals_per_year: float
    bursts_per_year: float
    burst_size: float
    burst_days: float
    girls_share: float
    age_weights: dict[str, float]
    grounds: dict[str, float]
    previous_secure_share: float
    cse_victim_girls: float
    cse_victim_boys: float
    sexual_harm_risk: float
    violence_risk: float
    gang_affiliation: float
    absconding_risk: float
    self_harm: float
    substance_misuse: float
    offending_history: float
    needs: dict[str, float]
    exclusion_zone_share: float
    exclusion_radius_km: float
    stay_median_days: float
    stay_sigma: float
    patience_median_days: float
    patience_sigma: float
    order_at_request_share: float
    order_after_admission_median_hours: float
    order_after_admission_sigma: float
    travel_hours: float


@dataclass(frozen=True)
class Justice:
    """Remands and sentences placed by the Youth Custody Service."""

    placements_per_year: float
    remand_share: float
    girls_share: float
    age_weights: dict[str, float]
    violence_risk: float
    gang_affiliation: float
    sexual_harm_risk: float
    substance_misuse: float
    remand_median_days: float
    remand_sigma: float
    sentence_median_days: float
    sentence_sigma: float
    patience_median_days: float
    patience_sigma: float
    travel_hours: float


@dataclass(frozen=True)
class Authorities:
    """Where the children come from."""

    weights: dict[str, float]
    spread_km: float


@dataclass(frozen=True)
class Homes:
    """How homes answer offers and lose staff."""

    base_acceptance: float
    odds_girl: float
    odds_previous_secure: float
    odds_per_year_of_age: float
    odds_sexual_harm_risk: float
    odds_offending_history: float
    odds_gang_affiliation: float
    justice_acceptance: float
    refusal_correlation: float
    mix_missed_share: float
    answer_median_hours: float
    answer_sigma: float
    no_answer_share: float
    shortfalls_per_unit_year: float
    shortfall_beds: int
    shortfall_median_days: float
    shortfall_sigma: float


@dataclass(frozen=True)
class PolicySettings:
    """The policies' timings."""

    send_all_round_hour: float
    office_close_hour: float
    ranked_top: int
    batch_every_hours: float


@dataclass(frozen=True)
class Jobs:
    """How often the simulation runs the service's scheduled jobs."""

    demand_check_minutes: float
    review_calls_minutes: float
    review_attendance: float


@dataclass(frozen=True)
class Hindsight:
    """The hindsight bound's budget."""

    deterministic_seconds: float


@dataclass(frozen=True)
class Parameters:
    """Every parameter of the simulated year, with where each comes from."""

    start: datetime
    welfare: Welfare
    justice: Justice
    authorities: Authorities
    homes: Homes
    policies: PolicySettings
    jobs: Jobs
    hindsight: Hindsight
    sources: dict[str, dict[str, str]]
    sha256: str


TABLES: dict[str, type[Any]] = {
    "welfare": Welfare,
    "justice": Justice,
    "authorities": Authorities,
    "homes": Homes,
    "policies": PolicySettings,
    "jobs": Jobs,
    "hindsight": Hindsight,
}


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ParameterError(f"{name}: must be a number, at least 0 (got {value!r})")
    return float(value)


def _value(name: str, kind: Any, value: Any) -> Any:
    if kind in (float, "float"):
        return _number(name, value)
    if kind in (int, "int"):
        number = _number(name, value)
        if number != int(number):
            raise ParameterError(f"{name}: must be a whole number (got {value!r})")
        return int(number)
    if not isinstance(value, dict) or not value:
        raise ParameterError(f"{name}: must be a table of numbers")
    return {str(k): _number(f"{name}.{k}", v) for k, v in value.items()}


def _table(name: str, cls: type[T], data: Any) -> tuple[T, dict[str, str]]:
    if not isinstance(data, dict):
        raise ParameterError(f"[{name}]: missing")
    sources = data.get("sources")
    given = {k: v for k, v in data.items() if k != "sources"}
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(given) - set(names))
    missing = sorted(set(names) - set(given))
    if unknown or missing:
        what = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise ParameterError(f"[{name}]: {what}")
    if not isinstance(sources, dict) or sorted(sources) != sorted(names):
        raise ParameterError(f"[{name}.sources]: needs one source for each of {', '.join(names)}")
    kinds = {f.name: f.type for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: _value(f"{name}.{k}", kinds[k], v) for k, v in given.items()}
    return cls(**values), {str(k): str(v) for k, v in sources.items()}


def load_parameters(path: Path | None = None) -> Parameters:
    """Read and check the parameter file (`seed/simulation.toml` by default)."""
    path = path or seed_file("simulation.toml")
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ParameterError(f"{path.name}: {error}") from error
    start = datetime.fromisoformat(str(data.get("start")))
    if start.tzinfo is None:
        raise ParameterError("start: needs a UTC offset")
    tables: dict[str, Any] = {}
    sources: dict[str, dict[str, str]] = {}
    for name, cls in TABLES.items():
        tables[name], sources[name] = _table(name, cls, data.get(name))
    unknown = sorted(set(data) - set(TABLES) - {"start"})
    if unknown:
        raise ParameterError(f"{path.name}: unknown {', '.join(unknown)}")
    return Parameters(
        start=start, **tables, sources=sources, sha256=hashlib.sha256(raw).hexdigest()
    )
