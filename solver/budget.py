"""One deadline per call, and how long the phases that cannot be stopped midway should take.

`match` takes every phase's budget from one `Clock` (time.perf_counter), so that phases cannot add
up past the limit: solvers that take a time limit (GLOP, CP-SAT) get what is left less what must
follow, loops stop at the deadline, and a phase that cannot be stopped once started (a min-cost
flow, a model build) starts only if its estimate ends in time. The estimates were measured on the
benchmark machine (docs/benchmarks.md) and are scaled by `pace`: how much slower than there this
call computed its eligible pairs, so that a loaded or slower machine estimates longer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

FINISH_S = 1.0  # at most this is kept at the end for the last fill and the answer
FINISH_SHARE = 0.02  # of the limit, kept at the end; with FINISH_S_PER_CHILD per child
FINISH_S_PER_CHILD = 20e-6  # the answer's assignments and reasons, and filling a few children
FILL_S_PER_CHILD = 60e-6  # placing one child greedily (`fill`), when many are left to place
PAIRS_S_PER_CELL = 0.03e-6  # finding the eligible pairs (as slow as seen here): per cell,
PAIRS_S_PER_PAIR = 0.2e-6  # per pair found,
PAIRS_S_FIXED = 0.005  # and per call
FLOW_S_COEF = 2.2e-8  # a min-cost flow solve: FLOW_S_COEF * pairs ** FLOW_EXPONENT seconds
FLOW_EXPONENT = 1.25
NETWORK_S_PER_PAIR = 0.12e-6  # adding a pair's arc to a network
BEST_S_PER_PAIR = 0.04e-6  # choosing each child's best pairs (`match.best_per_child`)
MARGIN = 1.15  # an estimate of what cannot be stopped is taken this much longer
MAX_PACE = 4.0


@dataclass(frozen=True)
class Clock:
    """The deadline of one call, the time kept at its end for the answer, and the machine's pace."""

    started: float
    limit_s: float
    finish_s: float
    pace: float = 1.0  # how much slower than the benchmark machine this call runs

    @classmethod
    def start(cls, limit_s: float, children: int) -> Clock:
        """Start the clock of a call with this limit, for a problem with this many children."""
        finish = min(FINISH_S, FINISH_SHARE * limit_s + FINISH_S_PER_CHILD * children)
        return cls(started=time.perf_counter(), limit_s=limit_s, finish_s=finish)

    @property
    def end(self) -> float:
        """When the work must be done, so that the answer is ready by the deadline."""
        return self.started + self.limit_s - self.finish_s

    def left(self) -> float:
        """Seconds left for the work (negative when late)."""
        return self.end - time.perf_counter()

    def fits(self, estimate_s: float, margin: float = MARGIN) -> bool:
        """Whether a phase estimated (at the benchmark machine's pace) to take this long fits."""
        return margin * self.pace * estimate_s <= self.left()

    def paced(self, cells: int, pairs: int, pairs_s: float) -> Clock:
        """This clock with the pace measured from finding `pairs` pairs among `cells` cells."""
        expected = PAIRS_S_FIXED + PAIRS_S_PER_CELL * cells + PAIRS_S_PER_PAIR * pairs
        return replace(self, pace=min(MAX_PACE, max(1.0, pairs_s / expected)))


def flow_s(pairs: int) -> float:
    """Estimated seconds to build a min-cost-flow network over this many pairs and solve it."""
    return NETWORK_S_PER_PAIR * pairs + FLOW_S_COEF * math.pow(pairs, FLOW_EXPONENT)


def fill_s(children: int) -> float:
    """Estimated seconds to place this many children greedily."""
    return FILL_S_PER_CHILD * children


def best_s(pairs: int) -> float:
    """Estimated seconds to choose each child's best pairs among this many."""
    return BEST_S_PER_PAIR * pairs
