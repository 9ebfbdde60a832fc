"""`placements simulate`: a simulated year of policies, scenarios, sweeps (docs/simulation.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from placements.simulation.parameters import ParameterError
from placements.simulation.policies import POLICIES
from placements.simulation.scenario import (
    Scenario,
    ScenarioError,
    baseline,
    load_scenario,
    sweep,
)
from placements.simulation.study import Study, StudyError, run_study


class UsageError(Exception):
    """A bad command line: exit status 2 with one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser that reports errors as one line instead of printing the usage."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(message)


def parser() -> Parser:
    """The command line of `placements simulate`."""
    top = Parser(
        prog="placements simulate",
        description="Simulate a year of secure placements under each policy.",
    )
    top.add_argument("--days", type=int, default=365, help="horizon in days (at most 5 years)")
    top.add_argument("--seed", type=int, default=1, help="the first seed")
    top.add_argument("--seeds", type=int, default=1, help="how many seeds, from --seed on")
    top.add_argument(
        "--policy", default="all", help=f"{', '.join(POLICIES)}, several joined by commas, or all"
    )
    top.add_argument("--scenario", type=Path, help="a what-if file (seed/scenarios/ has examples)")
    top.add_argument(
        "--sweep-beds", metavar="FROM:TO:STEP", help="add welfare beds in --region, e.g. 0:40:5"
    )
    top.add_argument("--region", help="where a sweep adds its beds, e.g. london")
    top.add_argument("--jobs", type=int, default=1, help="processes running seeds side by side")
    top.add_argument("--no-hindsight", action="store_true", help="skip the hindsight bound")
    top.add_argument(
        "--out", type=Path, required=True, help="folder for summary.json and report.html"
    )
    return top


def _policies(value: str) -> tuple[str, ...]:
    names = tuple(POLICIES) if value == "all" else tuple(v.strip() for v in value.split(","))
    for name in names:
        if name not in POLICIES:
            known = ", ".join(POLICIES)
            raise UsageError(f"--policy: unknown policy {name!r}; known: {known} (or all)")
    return tuple(dict.fromkeys(names))


def _sweep_range(value: str) -> range:
    parts = value.split(":")
    try:
        start, stop, step = (int(p) for p in parts)
    except ValueError:
        raise UsageError(
            f"--sweep-beds: want FROM:TO:STEP in beds, e.g. 0:40:5, got {value!r}"
        ) from None
    if start < 0 or stop < start or step < 1:
        raise UsageError(
            "--sweep-beds: beds must not be negative, TO not below FROM and the step at least 1,"
            f" got {value!r}"
        )
    return range(start, stop + 1, step)


def study_of(args: argparse.Namespace) -> Study:
    """The study the arguments ask for."""
    scenario = load_scenario(args.scenario) if args.scenario else baseline()
    whatif: tuple[Scenario, ...] = (baseline(),) if args.scenario else ()
    if args.sweep_beds is not None or args.region is not None:
        if args.sweep_beds is None or args.region is None:
            raise UsageError("--sweep-beds and --region go together")
        steps = sweep(_sweep_range(args.sweep_beds), args.region, scenario)
        # A step adding no beds is the study's own run: compared once, not run twice.
        whatif = tuple(s for s in steps if s.providers != scenario.providers)
    return Study(
        _policies(args.policy),
        args.seed,
        args.seeds,
        args.days,
        scenario,
        args.jobs,
        whatif,
        hindsight=not args.no_hindsight,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 2 bad input)."""
    try:
        args = parser().parse_args(argv)
        study = study_of(args)
        outcome = run_study(study, args.out)
    except (UsageError, ScenarioError, StudyError, ParameterError) as error:
        message = str(error).replace("\n", " ")
        print(f"placements simulate: error: {message}", file=sys.stderr)
        return 2
    except SystemExit as leaving:  # --help
        return leaving.code if isinstance(leaving.code, int) else 0
    for policy, figures in outcome.summary["policies"].items():
        share = figures["placed_share"]["mean"]
        wait = figures["wait_hours"]["median"]["mean"]
        took = outcome.seconds[policy]
        print(
            f"{policy}: placed {share}, median wait {wait} h;"
            f" {len(took)} policy-years of {study.days} days, {max(took)} s at most"
        )
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'report.html'}")
    return 0
