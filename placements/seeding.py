"""Load the seed data files through the same use cases as the API; a second load changes nothing."""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from placements import authorities, panels, providers
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
    panels_changed: int = 0
    panels_unchanged: int = 0


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


def panel_spec(data: dict[str, Any]) -> panels.PanelSpec:
    """A panel's registration from its seed record."""
    members = tuple(panels.MemberSpec(**m) for m in data.get("members", []))
    fields = {k: v for k, v in data.items() if k not in ("id", "members")}
    return panels.PanelSpec(**fields, members=members)


def seed(sessions: Sessions, *, now: datetime) -> SeedResult:
    """Register the seed's authorities, homes and panels."""
    authority_changes = [
        authorities.register(sessions, SEED_ACTOR, authorities.AuthoritySpec(**a), now=now).changed
        for a in read_seed("authorities.toml")["authorities"]
    ]
    provider_changes = [
        providers.register(sessions, SEED_ACTOR, provider_spec(p), now=now).changed
        for p in read_seed("providers.toml")["providers"]
    ]
    panel_changes = [
        panels.register(sessions, SEED_ACTOR, p["id"], panel_spec(p), now=now).changed
        for p in read_seed("panels.toml")["panels"]
    ]
    return SeedResult(
        sum(provider_changes),
        len(provider_changes) - sum(provider_changes),
        sum(authority_changes),
        len(authority_changes) - sum(authority_changes),
        sum(panel_changes),
        len(panel_changes) - sum(panel_changes),
    )
