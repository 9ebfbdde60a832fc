"""The decline report: who declines whom and why, and who keeps being refused."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from placements import access
from placements.acceptance import age_band
from placements.auth import Actor
from placements.db import Sessions
from placements.models import Offer, PlacementRequest


@dataclass(frozen=True)
class Rate:
    """Answers for one group of requests and the share accepted."""

    group: str
    accepted: int
    declined: int
    acceptance_rate: float | None


@dataclass(frozen=True)
class DeclineReport:
    """Declines by reason and provider; acceptance by sex, age band, legal basis and flag."""

    answers: int
    declines_by_reason: dict[str, int]
    declines_by_provider: dict[str, dict[str, int]]
    by_sex: list[Rate]
    by_age_band: list[Rate]
    by_legal_basis: list[Rate]
    by_flag: list[Rate]


def _rates(tallies: dict[str, Counter[str]]) -> list[Rate]:
    rates = []
    for group, tally in sorted(tallies.items()):
        answers = tally["accepted"] + tally["declined"]
        share = round(tally["accepted"] / answers, 4) if answers else None
        rates.append(Rate(group, tally["accepted"], tally["declined"], share))
    return rates


def declines(sessions: Sessions, actor: Actor, *, since: datetime | None = None) -> DeclineReport:
    """Summarise every answered offer (admin)."""
    access.require(actor, "reports.declines")
    statement = (
        select(Offer, PlacementRequest)
        .join(PlacementRequest, PlacementRequest.id == Offer.request_id)
        .where(Offer.status.in_(("accepted", "declined")))
    )
    if since is not None:
        statement = statement.where(Offer.answered_at >= since)
    by_reason: Counter[str] = Counter()
    by_provider: dict[str, Counter[str]] = defaultdict(Counter)
    groups: dict[str, dict[str, Counter[str]]] = {
        k: defaultdict(Counter) for k in ("sex", "age", "basis", "flag")
    }
    answers = 0
    with sessions.read() as session:
        for offer, request in session.execute(statement):
            answers += 1
            if offer.status == "declined":
                by_reason[offer.decline_reason or "other"] += 1
                by_provider[offer.provider_id][offer.decline_reason or "other"] += 1
            groups["sex"][request.sex][offer.status] += 1
            groups["age"][age_band(request.age)][offer.status] += 1
            groups["basis"][request.legal_basis][offer.status] += 1
            for flag in request.flags or ["none"]:
                groups["flag"][flag][offer.status] += 1
    return DeclineReport(
        answers,
        dict(by_reason.most_common()),
        {p: dict(c.most_common()) for p, c in sorted(by_provider.items())},
        _rates(groups["sex"]),
        _rates(groups["age"]),
        _rates(groups["basis"]),
        _rates(groups["flag"]),
    )
