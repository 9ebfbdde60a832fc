"""One simulated year of one policy and one seed, on a throwaway database, and its measures."""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import event

from placements import authorities, ids, panels, providers
from placements.clock import FixedClock
from placements.config import Settings
from placements.db import Sessions, make_engine
from placements.migrations import upgrade
from placements.seeding import SEED_ACTOR, panel_spec, read_seed
from placements.simulation import measures
from placements.simulation.arrivals import Arrival, arrivals, lognormal_hours, shortfalls, streams
from placements.simulation.parameters import Parameters
from placements.simulation.policies import POLICIES
from placements.simulation.scenario import Scenario
from placements.simulation.world import Resident, World

MAX_DAYS = 5 * 366


@dataclass(frozen=True)
class Year:
    """What one run needs: the policy, the seed, the horizon, the estate and the parameters."""

    policy: str
    seed: int
    days: int
    scenario: Scenario
    parameters: Parameters


def centres() -> dict[str, tuple[float, float]]:
    """The seeded placing authorities' centres."""
    return {a["id"]: (a["lat"], a["lon"]) for a in read_seed("authorities.toml")["authorities"]}


def children_of(year: Year) -> list[Arrival]:
    """The children of the year (the same for every policy with the same seed and scenario)."""
    return arrivals(
        year.parameters,
        centres(),
        year.days,
        year.seed,
        welfare_demand=year.scenario.welfare_demand,
        justice_demand=year.scenario.justice_demand,
    )


def unit_id(provider_id: str, slug: str) -> str:
    """A registered unit's id (as `providers.register` makes it)."""
    return f"{provider_id}/{slug}"


def _register(sessions: Sessions, scenario: Scenario, parameters: Parameters) -> None:
    now = parameters.start
    for a in read_seed("authorities.toml")["authorities"]:
        authorities.register(sessions, SEED_ACTOR, authorities.AuthoritySpec(**a), now=now)
    for spec in scenario.providers:
        providers.register(sessions, SEED_ACTOR, spec, now=now)
    for p in read_seed("panels.toml")["panels"]:
        panels.register(sessions, SEED_ACTOR, p["id"], panel_spec(p), now=now)


def _residents(year: Year) -> list[Resident]:
    """The children in the units when the year starts, each leaving after part of a stay."""
    rng = streams(year.seed)["residents"]
    w, j = year.parameters.welfare, year.parameters.justice
    found: list[Resident] = []
    for spec in year.scenario.providers:
        for unit in spec.units:
            if unit.availability is None:
                continue
            flags = [
                f for f, n in sorted(unit.availability.resident_flags.items()) for _ in range(n)
            ]
            for index in range(unit.availability.occupied_beds):
                median, sigma = (
                    (j.sentence_median_days, j.sentence_sigma)
                    if unit.designation == "justice"
                    else (w.stay_median_days, w.stay_sigma)
                )
                left = lognormal_hours(rng, median * 24, sigma) * float(rng.uniform(0.05, 1.0))
                mine = frozenset({flags[index]}) if index < len(flags) else frozenset()
                found.append(Resident(unit_id(spec.id, unit.slug), mine, left))
    return found


def _out_of_use(year: Year) -> dict[str, list[tuple[float, float, int]]]:
    closed: dict[str, list[tuple[float, float, int]]] = {}
    for item in year.scenario.out_of_use:
        to_h = (item.to_day if item.to_day is not None else year.days) * 24.0
        closed.setdefault(unit_id(item.provider_id, item.unit_slug), []).append(
            (item.from_day * 24.0, to_h, item.beds)
        )
    return closed


def settings_of(scenario: Scenario) -> Settings:
    """The service's settings under a scenario; one CP-SAT worker, so runs repeat exactly."""
    settings = Settings(matching_workers=1, matching_time_limit_s=10.0)
    if scenario.incompatible_flags is not None:
        settings = replace(settings, incompatible_flags=scenario.incompatible_flags)
    if scenario.weights is not None:
        settings = replace(settings, weights=scenario.weights)
    return settings


def _scratch() -> Path | None:
    """A memory-backed folder for the throwaway database when the machine has one."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else None


def _throwaway(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while a year runs: its many short-lived objects (rows, sessions)
    made the cyclic collector cost about 4% of a year; the settings are restored after."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()  # what exists before the year (modules, the estate) is not scanned again
    gc.set_threshold(20_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def simulate(
    year: Year, *, workdir: Path | None = None, inspect: Callable[[World], None] | None = None
) -> dict[str, Any]:
    """Run one policy-year on a fresh SQLite database and return its result (plain values).

    `inspect`, if given, sees the world (and its database) once the year has run.
    """
    if year.policy not in POLICIES:
        raise ValueError(f"unknown policy {year.policy!r}")
    with tempfile.TemporaryDirectory(dir=workdir or _scratch(), prefix="simulation-") as folder:
        url = f"sqlite:///{Path(folder) / 'year.db'}"
        upgrade(url)
        engine = make_engine(url)
        # A throwaway database: nothing in it needs to survive a crash of the machine.
        event.listen(engine, "connect", _throwaway)
        try:
            sessions = Sessions.for_engine(engine)
            clock = FixedClock(year.parameters.start)
            with ids.using(ids.SeededIds(year.seed)):
                _register(sessions, year.scenario, year.parameters)
                settings = settings_of(year.scenario)
                units = [
                    (unit_id(p.id, u.slug), u.approved_beds)
                    for p in year.scenario.providers
                    for u in p.units
                ]
                world = World(
                    parameters=year.parameters,
                    sessions=sessions,
                    clock=clock,
                    settings=settings,
                    policy=POLICIES[year.policy](),
                    seed=year.seed,
                    days=year.days,
                    children=children_of(year),
                    shortfalls=shortfalls(year.parameters, units, year.days, year.seed),
                    residents=_residents(year),
                    true_pairs=settings.incompatible_flags,
                    out_of_use=_out_of_use(year),
                )
                began = time.perf_counter()
                with _fewer_collections():
                    world.update_estate()
                    world.run()
                seconds = time.perf_counter() - began
                if inspect is not None:
                    inspect(world)
                result = measures.result_of(world, year.policy, year.scenario.name)
                # Wall time varies run to run: kept beside the result, never in summary.json.
                result["seconds"] = round(seconds, 1)
                return result
        finally:
            engine.dispose()
