"""Likely acceptance: each provider's past answers to similar requests, shrunk towards a prior.

An answer is an accepted or declined offer; an accepted offer the home later released counts as
declined. Requests are similar when they share the legal basis,
sex, age band (10-12, 13-14, 15-17) and set of flags. For provider p the estimate is the Beta
posterior mean `(accepted + k * prior) / (answers + k)` with `k = PRIOR_STRENGTH`, where the prior
is p's own acceptance rate over all its answers, itself shrunk the same way towards the national
rate (Laplace-smoothed, so 0.5 with no data at all).

The answers are counted as they are given, in `acceptance_tally` (one row per provider and kind
of request), by the use cases that change them: accept, decline, release, a reserved request's
withdrawal (its accepted offer is cancelled) and a change of a request's facts (its answers move
to its new kind). `recount` counts the same from the offers themselves; migration 0007 filled the
table with it, and the tests hold the two equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placements import access
from placements.auth import Actor
from placements.db import Sessions
from placements.errors import Conflict, NotFound
from placements.models import AcceptanceTally, AcceptanceTotal, Offer, PlacementRequest, Provider

PRIOR_STRENGTH = 4.0
ANSWERED = ("accepted", "declined", "released")

Segment = tuple[str, str, str, tuple[str, ...]]


def age_band(age: int) -> str:
    """The age band used to compare requests."""
    return "10-12" if age <= 12 else "13-14" if age <= 14 else "15-17"


class KindOfRequest(Protocol):
    """What makes a request of one kind or another: a request, or its facts as read for
    matching."""

    @property
    def legal_basis(self) -> str: ...
    @property
    def sex(self) -> str: ...
    @property
    def age(self) -> int: ...
    @property
    def flags(self) -> list[str]: ...


def segment_of(request: KindOfRequest) -> Segment:
    """What makes two requests similar for acceptance."""
    return (request.legal_basis, request.sex, age_band(request.age), tuple(sorted(request.flags)))


@dataclass(frozen=True)
class Tally:
    """Accepted and declined answers."""

    accepted: int = 0
    declined: int = 0

    @property
    def answers(self) -> int:
        """How many answers in all."""
        return self.accepted + self.declined

    def __add__(self, other: Tally) -> Tally:
        """Both tallies' answers together."""
        return Tally(self.accepted + other.accepted, self.declined + other.declined)

    def shrunk(self, prior: float) -> float:
        """The Beta posterior mean of the acceptance rate with this prior."""
        return (self.accepted + PRIOR_STRENGTH * prior) / (self.answers + PRIOR_STRENGTH)


NO_TALLY = Tally()


@dataclass(frozen=True)
class History:
    """Every provider's answers, overall and by segment, and the national tally."""

    national: Tally
    by_provider: dict[str, Tally]
    by_segment: dict[tuple[str, Segment], Tally]
    # The estimates already worked out, by kind of request and providers (see `likelihoods`).
    _estimates: dict[tuple[Segment, tuple[str, ...]], dict[str, float]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # Each provider's prior (the totals never change once read).
    _priors: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def add_tallies(self, tallies: dict[tuple[str, Segment], Tally]) -> None:
        """Add more kinds of request's tallies (the estimates worked out so far are dropped)."""
        self.by_segment.update(tallies)
        self._estimates.clear()

    def prior(self, provider_id: str) -> float:
        """The provider's overall rate, shrunk towards the national rate."""
        national = (self.national.accepted + 1) / (self.national.answers + 2)
        return self.by_provider.get(provider_id, Tally()).shrunk(national)

    def likelihood(self, provider_id: str, request: KindOfRequest) -> float:
        """The estimated probability that the provider accepts this request."""
        tally = self.by_segment.get((provider_id, segment_of(request)), Tally())
        return round(tally.shrunk(self.prior(provider_id)), 4)


# The answers counted in SQL, one row per provider and kind of request (the age itself, banded
# below): the rows that come back grow with the kinds of request answered, not with the answers.
ANSWER_COUNTS = (
    select(
        Offer.provider_id,
        PlacementRequest.legal_basis,
        PlacementRequest.sex,
        PlacementRequest.age,
        PlacementRequest.flags,
        func.count().filter(Offer.status == "accepted").label("accepted"),
        func.count().label("answers"),
    )
    .join(PlacementRequest, PlacementRequest.id == Offer.request_id)
    .where(Offer.status.in_(ANSWERED))
    .group_by(
        Offer.provider_id,
        PlacementRequest.legal_basis,
        PlacementRequest.sex,
        PlacementRequest.age,
        PlacementRequest.flags,
    )
)


def _upsert(insert: Any) -> Any:
    statement = insert(AcceptanceTally)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in TALLY_KEY],
        set_={
            "accepted": AcceptanceTally.accepted + statement.excluded.accepted,
            "declined": AcceptanceTally.declined + statement.excluded.declined,
        },
    )


TALLY_KEY = (
    AcceptanceTally.provider_id,
    AcceptanceTally.legal_basis,
    AcceptanceTally.sex,
    AcceptanceTally.age_band,
    AcceptanceTally.flags,
)
# Built once: each answer runs one of these with its own values.
ADD_ANSWERS = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}
TAKE_BACK_ANSWERS = (
    update(AcceptanceTally)
    .where(*(column == bindparam(f"key_{column.name}") for column in TALLY_KEY))
    .values(
        accepted=AcceptanceTally.accepted + bindparam("add_accepted"),
        declined=AcceptanceTally.declined + bindparam("add_declined"),
    )
)


def _add_to_total(insert: Any) -> Any:
    statement = insert(AcceptanceTotal)
    return statement.on_conflict_do_update(
        index_elements=["provider_id"],
        set_={
            "accepted": AcceptanceTotal.accepted + statement.excluded.accepted,
            "declined": AcceptanceTotal.declined + statement.excluded.declined,
        },
    )


# The same for the provider's total.
ADD_TO_TOTAL = {"postgresql": _add_to_total(pg_insert), "sqlite": _add_to_total(sqlite_insert)}
TAKE_FROM_TOTAL = (
    update(AcceptanceTotal)
    .where(AcceptanceTotal.provider_id == bindparam("key_provider_id"))
    .values(
        accepted=AcceptanceTotal.accepted + bindparam("add_accepted"),
        declined=AcceptanceTotal.declined + bindparam("add_declined"),
    )
)


def count_answer(session: Session, provider_id: str, segment: Segment, *, accepted: int = 0,
                 declined: int = 0) -> None:  # fmt: skip
    """Add answers to (or, negative, take them from) the provider's tally for a kind of request
    and its total, in the caller's transaction: one atomic statement each, safe beside
    concurrent answers."""
    if not accepted and not declined:
        return
    basis, sex, band, flags = segment
    key = {"provider_id": provider_id, "legal_basis": basis, "sex": sex, "age_band": band,
           "flags": ",".join(flags)}  # fmt: skip
    connection = session.connection()
    if accepted < 0 or declined < 0:
        # Taking an answer back: the tally and the total holding it exist (a missing or short one
        # would break the table's check and roll the whole change back).
        adding = {"add_accepted": accepted, "add_declined": declined}
        params = {f"key_{k}": v for k, v in key.items()}
        for statement, values in ((TAKE_BACK_ANSWERS, params),
                                  (TAKE_FROM_TOTAL, {"key_provider_id": provider_id})):  # fmt: skip
            if connection.execute(statement, {**values, **adding}).rowcount != 1:
                raise Conflict(f"no acceptance tally holds the answer to take back: {key}")
        return
    dialect = "postgresql" if connection.dialect.name == "postgresql" else "sqlite"
    counts = {"accepted": accepted, "declined": declined}
    connection.execute(ADD_ANSWERS[dialect], {**key, **counts})
    connection.execute(ADD_TO_TOTAL[dialect], {"provider_id": provider_id, **counts})


def move_answers(session: Session, request: PlacementRequest, before: Segment) -> None:
    """A request's facts changed from `before`: move its answers to its kind now."""
    after = segment_of(request)
    if after == before:
        return
    rows = session.execute(
        select(Offer.provider_id, Offer.status, func.count())
        .where(Offer.request_id == request.id, Offer.status.in_(ANSWERED))
        .group_by(Offer.provider_id, Offer.status)
        .order_by(Offer.provider_id, Offer.status)
    ).all()
    for provider_id, status, n in rows:
        accepted, declined = (n, 0) if status == "accepted" else (0, n)
        count_answer(session, provider_id, before, accepted=-accepted, declined=-declined)
        count_answer(session, provider_id, after, accepted=accepted, declined=declined)


TOTALS = select(
    AcceptanceTotal.provider_id, AcceptanceTotal.accepted, AcceptanceTotal.declined
).where(or_(AcceptanceTotal.accepted > 0, AcceptanceTotal.declined > 0))
TALLIES = select(*TALLY_KEY, AcceptanceTally.accepted, AcceptanceTally.declined).where(
    or_(AcceptanceTally.accepted > 0, AcceptanceTally.declined > 0)
)
TALLIES_OF_KINDS = TALLIES.where(tuple_(*TALLY_KEY[1:]).in_(bindparam("kinds", expanding=True)))


def load_history(session: Session, segments: Collection[Segment] | None = None) -> History:
    """Every provider's answers, read from the tallies: the totals, and the tallies of the given
    kinds of request (every kind when None; a ranking needs only its requests' kinds)."""
    by_provider = {
        provider_id: Tally(int(a), int(d))
        for provider_id, a, d in session.connection().execute(TOTALS)
    }
    national = sum(by_provider.values(), Tally())
    return History(national, by_provider, segment_tallies(session, segments))


def segment_tallies(session: Session, segments: Collection[Segment] | None = None
                    ) -> dict[tuple[str, Segment], Tally]:  # fmt: skip
    """Each provider's tally of each of these kinds of request (all kinds when None)."""
    if segments is None:
        rows = session.connection().execute(TALLIES)
    elif not segments:
        return {}
    else:
        kinds = sorted({(b, s, a, ",".join(f)) for b, s, a, f in segments})
        rows = session.connection().execute(TALLIES_OF_KINDS, {"kinds": kinds})
    return {
        (provider_id, (basis, sex, band, tuple(flags.split(",")) if flags else ())): Tally(a, d)
        for provider_id, basis, sex, band, flags, a, d in rows
    }


def recount(session: Session) -> History:
    """Every provider's answers, counted from the answered offers themselves (what the tallies
    must always equal)."""
    national = [0, 0]
    by_provider: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_segment: dict[tuple[str, Segment], list[int]] = defaultdict(lambda: [0, 0])
    for provider_id, basis, sex, age, flags, accepted, answers in session.connection().execute(
        ANSWER_COUNTS
    ):
        declined = answers - accepted
        # Flags in another order are the same kind of request: their rows merge here.
        segment = (basis, sex, age_band(age), tuple(sorted(flags)))
        for tally in (national, by_provider[provider_id], by_segment[provider_id, segment]):
            tally[0] += accepted
            tally[1] += declined
    return History(
        Tally(*national),
        {k: Tally(*v) for k, v in by_provider.items()},
        {k: Tally(*v) for k, v in by_segment.items()},
    )


def likelihoods(
    history: History, providers: Iterable[str], request: KindOfRequest
) -> dict[str, float]:
    """Each provider's likely acceptance of the request (worked out once per kind of request)."""
    providers = tuple(providers)
    segment = segment_of(request)
    key = (segment, providers)
    found = history._estimates.get(key)
    if found is None:
        # `History.likelihood` for each provider, with each provider's prior worked out once.
        priors = history._priors
        tallies = history.by_segment
        found = {}
        for provider_id in providers:
            prior = priors.get(provider_id)
            if prior is None:
                prior = priors[provider_id] = history.prior(provider_id)
            tally = tallies.get((provider_id, segment), NO_TALLY)
            found[provider_id] = round(tally.shrunk(prior), 4)
        history._estimates[key] = found
    return dict(found)


@dataclass(frozen=True)
class SegmentFigure:
    """A provider's answers for one kind of request and the estimate they give; a suppressed
    segment (too few answers, see `access.suppressed_segments`) shows neither."""

    legal_basis: str
    sex: str
    age_band: str
    flags: list[str]
    suppressed: bool
    accepted: int | None
    declined: int | None
    estimate: float | None


@dataclass(frozen=True)
class AcceptanceFigures:
    """A provider's acceptance: overall, by kind of request, and the national rate."""

    provider_id: str
    accepted: int
    declined: int
    prior: float
    national_accepted: int
    national_declined: int
    prior_strength: float
    segments: list[SegmentFigure]


def _figure(segment: Segment, tally: Tally, prior: float, *, suppressed: bool) -> SegmentFigure:
    legal_basis, sex, band, flags = segment
    if suppressed:
        return SegmentFigure(legal_basis, sex, band, list(flags), True, None, None, None)
    estimate = round(tally.shrunk(prior), 4)
    return SegmentFigure(
        legal_basis, sex, band, list(flags), False, tally.accepted, tally.declined, estimate
    )


def figures(sessions: Sessions, actor: Actor, provider_id: str) -> AcceptanceFigures:
    """How likely a provider is to accept, and the answers behind the figures (segments with
    too few answers suppressed; the provider's totals are the true ones)."""
    access.require(actor, "providers.acceptance")
    with sessions.read() as session:
        if session.get(Provider, provider_id) is None:
            raise NotFound(f"provider {provider_id!r} does not exist")
        history = load_history(session)
    prior = history.prior(provider_id)
    overall = history.by_provider.get(provider_id, Tally())
    own = [(seg, t) for (provider, seg), t in sorted(history.by_segment.items())
           if provider == provider_id]  # fmt: skip
    hidden = access.suppressed_segments([t.answers for _, t in own])
    segments = [_figure(seg, t, prior, suppressed=i in hidden) for i, (seg, t) in enumerate(own)]
    return AcceptanceFigures(
        provider_id, overall.accepted, overall.declined, round(prior, 4),
        history.national.accepted, history.national.declined, PRIOR_STRENGTH, segments,
    )  # fmt: skip
