"""The benchmark table: match at four sizes against a greedy baseline, and rank among 4,000 units.

Each size runs in a fresh process so that its peak memory (max RSS, generation included) is its own;
at 10,000 x 10,000 beds that adds the child process that solves a bound beside the relaxation.
`exact_table` solves small instances of the 10,000 x 10,000 family to proven optimality and shows
how far the optimum lies below the flow and LP bounds.
"""

from __future__ import annotations

import multiprocessing
import platform
import resource
import time
from dataclasses import dataclass

import numpy as np

from solver.generate import generate
from solver.instance import load_problem, ranking_to_dict
from solver.lp import mix_lp_bound
from solver.match import Network, eligible_pairs, match
from solver.model import Problem
from solver.rank import rank
from solver.rules import flags_conflict


@dataclass(frozen=True)
class Size:
    """One benchmark size: an instance and the time limit its goal allows."""

    label: str
    children: int
    units: int
    beds: int | None
    time_limit_s: float


SIZES = (
    Size("30 x 40", 30, 40, None, 0.2),
    Size("300 x 400", 300, 400, None, 1.0),
    Size("3,000 x 4,000", 3000, 4000, None, 5.0),
    Size("10,000 x 10,000 beds", 10000, 4000, 10000, 20.0),
)
RANK_UNITS = 4000
RANK_CHILDREN = 300
# Small instances of the 10,000 x 10,000 family: units = children / 2.5, free beds = children.
EXACT_CHILDREN = (200, 300, 500)
EXACT_SEEDS = (1, 2, 3)
EXACT_TIME_LIMIT_S = 240.0


def greedy(problem: Problem) -> tuple[int, int]:
    """Most urgent child first, nearest eligible unit with room and no clash: (placed, score)."""
    pairs = eligible_pairs(problem)
    starts = np.searchsorted(pairs.child, np.arange(len(problem.children) + 1))
    room = [unit.free_beds for unit in problem.units]
    members: dict[int, list[int]] = {}
    placed = score = 0
    urgent = sorted(range(len(problem.children)), key=lambda c: -problem.children[c].days_waiting)
    for c in urgent:
        ks = np.arange(starts[c], starts[c + 1])
        for k in ks[np.argsort(pairs.distance_km[ks], kind="stable")].tolist():
            u = int(pairs.unit[k])
            clash = any(
                flags_conflict(
                    problem.children[c].flags, problem.children[o].flags, problem.incompatible_flags
                )
                for o in members.get(u, [])
            )
            if room[u] > 0 and not clash:
                room[u] -= 1
                members.setdefault(u, []).append(c)
                placed, score = placed + 1, score + int(pairs.score[k])
                break
    return placed, score


def run_size(size: Size) -> dict[str, object]:
    """Generate one instance, match it and the greedy baseline, and measure them."""
    problem = load_problem(generate(size.children, size.units, seed=1, beds=size.beds))
    solution = match(problem, time_limit_s=size.time_limit_s, workers=2)
    started = time.perf_counter()
    greedy_placed, greedy_score = greedy(problem)
    gap = (solution.score_bound - solution.score) / max(1, abs(solution.score_bound))
    return {
        "size": size.label,
        "status": solution.status,
        "placed": solution.placed,
        "placed_bound": solution.placed_bound,
        "score": solution.score,
        "score_bound": solution.score_bound,
        "gap": f"{100 * gap:.3f}%",
        "seconds": f"{solution.solve_seconds:.2f}",
        "peak_mb": _peak_mb(),
        "greedy": f"{greedy_placed} / {greedy_score} ({time.perf_counter() - started:.2f} s)",
    }


def _peak_mb() -> int:
    """Max RSS of this process plus that of its largest child (the bound solved aside), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) // 1024


def rank_times() -> tuple[float, float]:
    """Return the p95 in ms of rank() among 4,000 units, and of rank() made into JSON."""
    problem = load_problem(generate(RANK_CHILDREN, RANK_UNITS, seed=2))
    rank(problem, problem.children[0].id)  # the unit arrays are built once per problem
    ranked, serialised = [], []
    # Two passes, so that garbage collection after a pass of JSON is not charged to rank() alone.
    for child in problem.children:
        started = time.perf_counter()
        rank(problem, child.id)
        ranked.append(time.perf_counter() - started)
    for child in problem.children:
        started = time.perf_counter()
        ranking_to_dict(rank(problem, child.id))
        serialised.append(time.perf_counter() - started)
    return 1000 * float(np.percentile(ranked, 95)), 1000 * float(np.percentile(serialised, 95))


def bench() -> str:
    """Run every size in its own process and return the table as Markdown."""
    context = multiprocessing.get_context("spawn")
    rows = []
    for size in SIZES:
        with context.Pool(1) as pool:
            rows.append(pool.apply(run_size, (size,)))
    lines = _markdown(rows)
    ranked, serialised = rank_times()
    lines += [
        "",
        f"rank one child among {RANK_UNITS:,} units: p95 {ranked:.3f} ms "
        f"(made into JSON as well: p95 {serialised:.3f} ms)",
        f"machine: {_cpu()}, {multiprocessing.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    ]
    return "\n".join(lines)


def exact_row(children: int, seed: int) -> dict[str, object]:
    """Match one small instance of the family with time to prove it, against its two bounds."""
    problem = load_problem(generate(children, int(children / 2.5), seed=seed, beds=children))
    pairs = eligible_pairs(problem)
    _, flow_placed, flow_score = Network(problem, pairs).solve()
    solution = match(problem, time_limit_s=EXACT_TIME_LIMIT_S, workers=2)
    placed, score = solution.placed, solution.score
    lp = mix_lp_bound(problem, pairs.child, pairs.unit, pairs.score, pairs.carries, placed, 60.0)
    if placed == flow_placed:
        below_flow = f"{100 * (flow_score - score) / flow_score:.3f}%"
    else:
        below_flow = f"{flow_placed - placed} placed fewer"
    return {
        "children": children,
        "seed": seed,
        "pairs": len(pairs),
        "flow": f"{flow_placed} / {flow_score}",
        "status": solution.status,
        "answer": f"{placed} / {score}",
        "below flow": below_flow,
        "below LP": "n/a" if lp is None else f"{100 * (lp - score) / lp:.3f}%",
        "seconds": f"{solution.solve_seconds:.1f}",
    }


def exact_table() -> str:
    """Return, as Markdown, how far proven optima of the family lie below the flow and LP bounds."""
    rows = [exact_row(children, seed) for children in EXACT_CHILDREN for seed in EXACT_SEEDS]
    machine = f"machine: {_cpu()}, {multiprocessing.cpu_count()} cores"
    return "\n".join([*_markdown(rows), machine])


def _markdown(rows: list[dict[str, object]]) -> list[str]:
    columns = list(rows[0])
    return [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
        *("| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows),
    ]


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
