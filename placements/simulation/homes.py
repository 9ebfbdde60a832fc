"""How a simulated home answers an offer: the published acceptance effects and coded declines."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from placements.simulation.arrivals import Arrival, pair_uniform
from placements.simulation.parameters import Homes

STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Answer:
    """A home's answer to one offer: after how long, and yes, no (with a code) or silence."""

    after_h: float
    accept: bool
    reason: str | None = None
    silent: bool = False


def acceptance_chance(homes: Homes, child: Arrival) -> float:
    """The chance a home says yes to this child, from the odds ratios of the parameters."""
    if child.legal_basis != "welfare":
        return homes.justice_acceptance
    odds = homes.base_acceptance / (1.0 - homes.base_acceptance)
    odds *= homes.odds_girl if child.sex == "F" else 1.0
    odds *= homes.odds_previous_secure if child.previous_secure else 1.0
    odds *= homes.odds_per_year_of_age ** (child.age - 14)
    for flag, ratio in (
        ("sexual_harm_risk", homes.odds_sexual_harm_risk),
        ("offending_history", homes.odds_offending_history),
        ("gang_affiliation", homes.odds_gang_affiliation),
    ):
        odds *= ratio if flag in child.flags else 1.0
    return odds / (1.0 + odds)


def decline_reason(child: Arrival, provider_id: str, seed: int) -> str:
    """The coded reason a home gives for saying no to this child."""
    if "sexual_harm_risk" in child.flags or "violence_risk" in child.flags:
        return "risk_to_others"
    if child.needs:
        return "needs_not_met"
    draw = pair_uniform(seed, child.id, provider_id, "reason")
    return "no_staffed_bed" if draw < 0.6 else "other"


def answer(
    homes: Homes, child: Arrival, provider_id: str, attempt: int, seed: int, *, mix_conflict: bool
) -> Answer:
    """The home's answer to its `attempt`-th offer of this child.

    Yes or no is fixed for the pair (a home judges the same child the same way whoever asks);
    how long it takes and whether it answers at all are drawn per attempt. A unit holding a child
    the newcomer must not meet is declined, unless the home misses it (only possible when the
    service did not check the mix first).
    """
    key = (child.id, provider_id)
    delay = homes.answer_median_hours * math.exp(
        homes.answer_sigma * _normal(pair_uniform(seed, *key, "delay", str(attempt)))
    )
    if pair_uniform(seed, *key, "silent", str(attempt)) < homes.no_answer_share:
        return Answer(delay, False, silent=True)
    if mix_conflict and pair_uniform(seed, *key, "mix") >= homes.mix_missed_share:
        return Answer(delay, False, "mix_of_residents")
    if _accepts(homes, child, provider_id, seed):
        return Answer(delay, True)
    return Answer(delay, False, decline_reason(child, provider_id, seed))


def _accepts(homes: Homes, child: Arrival, provider_id: str, seed: int) -> bool:
    """Yes with the child's acceptance chance at every home, the homes' answers correlated
    (a Gaussian copula: part of the draw is the child's, shared by every home)."""
    rho = min(max(homes.refusal_correlation, 0.0), 1.0)
    shared = _normal(pair_uniform(seed, child.id, "child"))
    own = _normal(pair_uniform(seed, child.id, provider_id, "accept"))
    draw = STANDARD_NORMAL.cdf(math.sqrt(rho) * shared + math.sqrt(1 - rho) * own)
    return draw < acceptance_chance(homes, child)


def _normal(u: float) -> float:
    """A standard normal number from a uniform one (the inverse of its distribution function)."""
    return STANDARD_NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
