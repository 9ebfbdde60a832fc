"""Plain frozen values in and out of the solver: the problem, a ranking, a solution.

Score components (all integers, so a breakdown always sums to its score exactly); each is
weighted by a field of `Weights` whose default is given in brackets:

- `nearness` [100]: `nearness * max(0, 1 - distance_km / nearness_scale_km)` with a scale of
  [400] km; zero when the child has any exclusion zone (then being far may be the point).
- `specialisms` [5]: `specialism` points per unit specialism beyond the child's needs, counting at
  most `specialism_cap` [3] of them.
- `acceptance` [60]: `acceptance * p`, where p is the provider's likelihood of accepting the child
  (0 to 1, default 1).
- `waiting` [2]: `waiting_per_day` points per day waiting, counting at most `waiting_cap_days` [30]
  days; in a batch it favours placing the children who have waited longest.
- `justice_mix` [40]: minus `justice_mix` points for a welfare child in a unit that already holds
  justice children: a unit whose `justice_residents` (an optional count, default 0) is above 0.

Each component is rounded to the nearest integer (half to even) on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

SEXES = ("F", "M")
DESIGNATIONS = ("welfare", "justice", "mixed")
LEGAL_BASES = ("welfare", "remand", "sentence")
DEFAULT_INCOMPATIBLE_FLAGS = (("cse_victim", "sexual_harm_risk"),)


@dataclass(frozen=True)
class ExclusionZone:
    """A place the child must be kept at least `radius_km` away from."""

    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Unit:
    """A unit of a secure children's home, with its free beds and current residents' flags."""

    id: str
    provider_id: str
    lat: float
    lon: float
    free_beds: int
    sexes: frozenset[str]
    min_age: int
    max_age: int
    designation: str
    specialisms: frozenset[str] = frozenset()
    resident_flags: tuple[frozenset[str], ...] = ()
    justice_residents: int = 0


@dataclass(frozen=True)
class Child:
    """A child waiting for a placement: only the facts that matching needs."""

    id: str
    age: int
    sex: str
    legal_basis: str
    lat: float
    lon: float
    needs: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    days_waiting: int = 0
    max_distance_km: float | None = None
    exclusion_zones: tuple[ExclusionZone, ...] = ()
    declined_by: frozenset[str] = frozenset()
    acceptance: Mapping[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Weights:
    """Weights of the score components (see the module docstring for each one)."""

    nearness: float = 100.0
    nearness_scale_km: float = 400.0
    specialism: float = 5.0
    specialism_cap: int = 3
    acceptance: float = 60.0
    waiting_per_day: float = 2.0
    waiting_cap_days: int = 30
    justice_mix: float = 40.0


@dataclass(frozen=True)
class Problem:
    """Units, children waiting, incompatible flag pairs and score weights."""

    units: tuple[Unit, ...]
    children: tuple[Child, ...]
    incompatible_flags: tuple[tuple[str, str], ...] = DEFAULT_INCOMPATIBLE_FLAGS
    weights: Weights = Weights()


@dataclass(frozen=True)
class Option:
    """An eligible unit for one child, with its score and the score's parts."""

    unit_id: str
    provider_id: str
    score: int
    distance_km: float
    breakdown: Mapping[str, int] = field(hash=False)


@dataclass(frozen=True)
class Excluded:
    """An ineligible unit for one child, with every reason that applies."""

    unit_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Ranking:
    """Every unit for one child: eligible options best first, then the excluded ones.

    `rank` decides everything (eligibility, scores, order) with numpy; `build` turns that into
    `options` and `excluded` on first access, so a caller that never reads thousands of excluded
    units never pays for making them.
    """

    child_id: str
    build: Callable[[], tuple[tuple[Option, ...], tuple[Excluded, ...]]] = field(repr=False)

    @cached_property
    def _built(self) -> tuple[tuple[Option, ...], tuple[Excluded, ...]]:
        return self.build()

    @property
    def options(self) -> tuple[Option, ...]:
        """Eligible units, by descending score."""
        return self._built[0]

    @property
    def excluded(self) -> tuple[Excluded, ...]:
        """Ineligible units, in the problem's unit order, each with every reason that applies."""
        return self._built[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ranking):
            return NotImplemented
        return (self.child_id, self._built) == (other.child_id, other._built)

    def __hash__(self) -> int:
        return hash((self.child_id, self._built))

    def __repr__(self) -> str:
        return f"Ranking(child_id={self.child_id!r}, options={self.options!r}, ...)"


@dataclass(frozen=True)
class Assignment:
    """A proposed placement of one child in one unit."""

    child_id: str
    unit_id: str
    score: int


@dataclass(frozen=True)
class Unplaced:
    """A child left unplaced, with why: a reason mapped to counts over units.

    Either `{"no_eligible_unit": {rule: units failing it, ...}}` or
    `{"eligible_units_taken": {"eligible": n, "full": n, "mix_conflict": n}}`: every eligible
    unit is full, or would break the mix rule with children placed there.
    """

    child_id: str
    reasons: Mapping[str, Mapping[str, int]] = field(hash=False)


@dataclass(frozen=True)
class Solution:
    """A batch match: the assignments, proven upper bounds, and why the others are unplaced."""

    status: str
    placed: int
    placed_bound: int
    score: int
    score_bound: int
    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    solve_seconds: float
