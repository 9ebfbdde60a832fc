"""Load the seed data files through the same use cases as the API; a second load changes nothing."""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from placements import authorities, providers
from placements.auth import Actor
from placements.db import Sessions
from placements.providers import ProviderSpec, StartingAvailability, UnitSpec

SEED_ACTOR = Actor(label="seed", role="admin")


@dataclass(frozen=True)
class SeedResult:
    """How many homes and authorities the seed created or changed, and how many it left alone."""

    providers_changed: int
    providers_unchanged: int
    authorities_changed: int
    authorities_unchanged: int


def seed_file(name: str) -> Path:
    """Where a seed data file is installed (`seed/` is data only, a namespace package)."""
    spec = importlib.util.find_spec("seed")
    for folder in spec.submodule_search_locations or [] if spec else []:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise FileNotFoundError(f"seed file {name} is not installed")


def read_seed(name: str) -> dict[str, Any]:
    """Parse one of the seed data files shipped in `seed/`."""
    return tomllib.loads(seed_file(name).read_text(encoding="utf-8"))


def provider_spec(data: dict[str, Any]) -> ProviderSpec:
    """A home's registration from its seed record."""
    units = [
        UnitSpec(
            slug=u["slug"],
            name=u["name"],
            approved_beds=u["approved_beds"],
            designation=u["designation"],
            sexes=list(u["sexes"]),
            min_age=u["min_age"],
            max_age=u["max_age"],
            specialisms=list(u.get("specialisms", [])),
            availability=StartingAvailability(**u["availability"]) if "availability" in u else None,
        )
        for u in data.get("units", [])
    ]
    fields = {k: v for k, v in data.items() if k != "units"}
    return ProviderSpec(**fields, units=units)


def seed(sessions: Sessions, *, now: datetime) -> SeedResult:
    """Register the seed's authorities and homes."""
    authority_changes = [
        authorities.register(sessions, SEED_ACTOR, authorities.AuthoritySpec(**a), now=now).changed
        for a in read_seed("authorities.toml")["authorities"]
    ]
    provider_changes = [
        providers.register(sessions, SEED_ACTOR, provider_spec(p), now=now).changed
        for p in read_seed("providers.toml")["providers"]
    ]
    return SeedResult(
        sum(provider_changes),
        len(provider_changes) - sum(provider_changes),
        sum(authority_changes),
        len(authority_changes) - sum(authority_changes),
    )
