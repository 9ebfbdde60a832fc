"""The command line: `python -m solver solve|rank|generate|bench`.

Malformed input exits with status 2 and one line on stderr naming the field; `main` can also be
called in-process (the service's `placements solve|rank` delegates to it).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn

from solver.instance import InstanceError, load_problem, ranking_to_dict, solution_to_dict
from solver.model import Problem


class UsageError(Exception):
    """A bad command line or unreadable input: exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser that reports errors as one line instead of exiting."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting."""
        raise UsageError(message)


def parser() -> Parser:
    """Return the command-line parser."""
    top = Parser(prog="python -m solver", description="Placement matching for secure care.")
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    solve = commands.add_parser("solve", help="match every waiting child; prints the solution")
    solve.add_argument("file", help="instance file, or - for stdin")
    solve.add_argument("--time-limit", type=float, default=10.0, metavar="S")
    solve.add_argument("--workers", type=int, default=0, metavar="W", help="0: one per core")
    rank = commands.add_parser("rank", help="rank every unit for one child; prints the ranking")
    rank.add_argument("file", help="instance file, or - for stdin")
    rank.add_argument("--child", required=True, metavar="ID")
    rank.add_argument("--top", type=int, default=None, metavar="K")
    generate = commands.add_parser("generate", help="print a synthetic instance")
    generate.add_argument("--children", type=int, required=True, metavar="N")
    generate.add_argument("--units", type=int, required=True, metavar="M")
    generate.add_argument("--seed", type=int, default=0, metavar="S")
    generate.add_argument("--beds", type=int, default=None, metavar="B", help="total free beds")
    bench = commands.add_parser("bench", help="run the benchmark table and print it")
    bench.add_argument(
        "--exact",
        action="store_true",
        help="instead, solve small instances of the 10,000 x 10,000 family exactly (minutes)",
    )
    return top


def read_problem(path: str) -> Problem:
    """Read and validate an instance from a file, or from stdin when the path is `-`."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InstanceError(
            "instance", f"invalid JSON at line {error.lineno}: {error.msg}"
        ) from None
    return load_problem(data)


def run(args: argparse.Namespace) -> Any:
    """Run one command and return what to print as JSON (or text for the bench)."""
    if args.command == "generate":
        from solver.generate import generate

        for name in ("children", "units"):
            if getattr(args, name) < 0:
                raise UsageError(f"--{name} must not be negative")
        return generate(args.children, args.units, args.seed, beds=args.beds)
    if args.command == "bench":
        from solver.bench import bench, exact_table

        return exact_table() if args.exact else bench()
    problem = read_problem(args.file)
    if args.command == "rank":
        from solver.rank import rank

        if args.top is not None and args.top < 0:
            raise UsageError("--top must not be negative")
        try:
            return ranking_to_dict(rank(problem, args.child, top=args.top))
        except KeyError:
            raise InstanceError("--child", f"no child with id {args.child!r}") from None
    from solver.match import match

    if args.time_limit <= 0 or args.workers < 0:
        raise UsageError("--time-limit must be above 0 and --workers not negative")
    return solution_to_dict(match(problem, time_limit_s=args.time_limit, workers=args.workers))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input)."""
    try:
        args = parser().parse_args(argv)
        result = run(args)
    except (UsageError, InstanceError) as error:
        message = str(error).replace("\n", " ")
        print(f"solver: error: {message}", file=sys.stderr)
        return 2
    except SystemExit as leaving:  # --help
        return leaving.code if isinstance(leaving.code, int) else 0
    if isinstance(result, str):
        print(result)
    else:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
