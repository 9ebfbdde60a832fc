"""Likely acceptance counted from the answered offers: the tallies and the estimates, by hand, and
the tallies the use cases keep with each answer, against a recount of the offers."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from placements import offers, requests
from placements.acceptance import History, Tally, load_history, recount
from placements.auth import Actor
from placements.db import Sessions
from placements.errors import PlacementsError
from placements.models import AcceptanceTally, Offer, PlacementRequest
from tests.conftest import NOW
from tests.placements.workflow import SETTINGS, director, synthetic_facts

CLARE, SWANWICK = "clare-lodge", "swanwick-lodge"
UNITS = {CLARE: "clare-lodge/nene", SWANWICK: "swanwick-lodge/1"}
SEQUENCE = count()


def kind(legal_basis: str, sex: str, age: int, flags: list[str]) -> PlacementRequest:
    """A request of this kind (not stored)."""
    n = next(SEQUENCE)
    return PlacementRequest(
        id=f"REQ-T{n:05d}", authority_id="southwark", case_reference=f"ACC-{n}", age=age,
        sex=sex, legal_basis=legal_basis, grounds=["harm_to_self"], needs=[], flags=flags,
        home_lat=51.5, home_lon=-0.1, exclusion_zones=[], order_kind="none", status="waiting",
        declined_by=[], created_at=NOW, created_by="test", updated_at=NOW,
    )  # fmt: skip


def answered(sessions: Sessions, provider_id: str, request: PlacementRequest, status: str) -> None:
    """Store the request and one offer of it to the provider, in this status."""
    with sessions.begin() as session:
        session.add(request)
        session.flush()
        session.add(
            Offer(
                id=f"OFF-T{next(SEQUENCE):05d}", request_id=request.id,
                unit_id=UNITS[provider_id], provider_id=provider_id, status=status,
                created_at=NOW, created_by="test", expires_at=NOW + timedelta(days=1),
            )
        )  # fmt: skip


@pytest.fixture
def history(seeded: Sessions) -> History:
    """Clare: 2 accepted and 2 declined (a release is a decline); Swanwick: 2 accepted."""
    older = ["cse_victim", "absconding_risk"]
    answered(seeded, CLARE, kind("welfare", "F", 15, older), "accepted")
    answered(seeded, CLARE, kind("welfare", "F", 16, older[::-1]), "declined")  # same kind
    answered(seeded, CLARE, kind("welfare", "F", 17, older), "released")
    answered(seeded, CLARE, kind("welfare", "F", 13, []), "accepted")
    answered(seeded, CLARE, kind("welfare", "F", 14, []), "pending")  # not an answer
    answered(seeded, SWANWICK, kind("remand", "M", 16, []), "accepted")
    answered(seeded, SWANWICK, kind("remand", "M", 16, []), "accepted")
    answered(seeded, SWANWICK, kind("remand", "M", 16, []), "cancelled")  # nor this
    answered(seeded, SWANWICK, kind("remand", "M", 16, []), "expired")  # nor this
    with seeded.read() as session:
        return recount(session)


def test_answers_are_tallied_nationally_by_provider_and_by_kind_of_request(
    history: History,
) -> None:
    assert history.national == Tally(accepted=4, declined=2)
    assert history.by_provider == {CLARE: Tally(2, 2), SWANWICK: Tally(2, 0)}
    assert history.by_segment == {
        (CLARE, ("welfare", "F", "15-17", ("absconding_risk", "cse_victim"))): Tally(1, 2),
        (CLARE, ("welfare", "F", "13-14", ())): Tally(1, 0),
        (SWANWICK, ("remand", "M", "15-17", ())): Tally(2, 0),
    }


def test_the_estimates_shrink_each_segment_towards_the_providers_own_rate(
    history: History,
) -> None:
    # National (4 + 1) / (6 + 2) = 0.625; Clare's prior (2 + 4 x 0.625) / (4 + 4) = 0.5625.
    assert history.prior(CLARE) == pytest.approx(0.5625)
    assert history.prior(SWANWICK) == pytest.approx(0.75)  # (2 + 2.5) / (2 + 4)
    assert history.prior("no-such-home") == pytest.approx(0.625)
    flagged = kind("welfare", "F", 15, ["absconding_risk", "cse_victim"])
    assert history.likelihood(CLARE, flagged) == 0.4643  # (1 + 4 x 0.5625) / (3 + 4)
    assert history.likelihood(SWANWICK, kind("remand", "M", 17, [])) == 0.8333  # 5 / 6
    assert history.likelihood(SWANWICK, flagged) == 0.75  # no answers of this kind: the prior


def home(provider_id: str) -> Actor:
    """The home's manager."""
    return Actor(f"manager@{provider_id}", "provider", provider_id=provider_id)


def tallies_match_the_offers(sessions: Sessions) -> History:
    """The kept tallies, after checking them against a recount of the answered offers."""
    with sessions.read() as session:
        kept, counted = load_history(session), recount(session)
    assert kept == counted
    return kept


def test_the_tallies_kept_with_each_answer_equal_a_recount_of_the_offers(
    seeded: Sessions,
) -> None:
    """Accepts, declines, releases, withdrawals of reserved requests and changed facts, in a
    random order: after each, the tallies equal what the offers say."""
    rng = random.Random(11)
    done: Counter[str] = Counter()
    for n in range(36):
        at = NOW + timedelta(minutes=10 * n)
        authority, facts = synthetic_facts(rng, n, now=at)
        made = requests.create(seeded, director(authority), facts, now=at)
        try:
            choice = offers.OfferChoice(top=3)
            sent = offers.create_offers(
                seeded, director(authority), made.id, choice, settings=SETTINGS, now=at
            )
        except PlacementsError:
            continue
        accepted = None
        for offer in sent:
            try:
                if accepted is None and rng.random() < 0.4:
                    offers.accept(seeded, home(offer.provider_id), offer.id, settings=SETTINGS,
                                  now=at)  # fmt: skip
                    accepted, done["accept"] = offer, done["accept"] + 1
                elif accepted is None:
                    offers.decline(seeded, home(offer.provider_id), offer.id, "needs_not_met",
                                   None, now=at)  # fmt: skip
                    done["decline"] += 1
            except PlacementsError:
                continue
            tallies_match_the_offers(seeded)
        roll = rng.random()
        if accepted is not None and roll < 0.3:
            offers.release(seeded, home(accepted.provider_id), accepted.id, "needs_not_met", None,
                           now=at)  # fmt: skip
            done["release"] += 1
        elif accepted is not None and roll < 0.5:
            requests.withdraw(seeded, director(authority), made.id, now=at)
            done["withdraw reserved"] += 1
        status = requests.get(seeded, director(authority), made.id, now=at).status
        if status in ("waiting", "offered") and rng.random() < 0.6:
            changes = {"age": rng.choice([13, 14, 15, 16, 17]), "sex": rng.choice(["F", "M"]),
                       "flags": tuple(rng.sample(["absconding_risk", "violence_risk"],
                                                 rng.choice([0, 1, 2])))}  # fmt: skip
            requests.update_facts(seeded, director(authority), made.id, changes,
                                  settings=SETTINGS, now=at)  # fmt: skip
            done["facts changed"] += 1
        tallies_match_the_offers(seeded)
    kept = tallies_match_the_offers(seeded)
    assert min(done.values()) >= 2 and len(done) == 5, done
    kinds = sorted({segment for _, segment in kept.by_segment})
    with seeded.read() as session:  # a ranking reads only its requests' kinds
        some = load_history(session, kinds[::2])
        assert load_history(session, ()).by_segment == {}
    assert (some.national, some.by_provider) == (kept.national, kept.by_provider)
    assert some.by_segment == {k: t for k, t in kept.by_segment.items() if k[1] in kinds[::2]}
    assert 0 < len(some.by_segment) < len(kept.by_segment)
    assert kept.national.answers >= done["accept"] + done["decline"] - done["withdraw reserved"]
    with seeded.read() as session:
        assert session.scalars(select(AcceptanceTally)).first() is not None


def test_the_rankings_read_the_kept_tallies(seeded: Sessions) -> None:
    """A decline through the service lowers that home's estimate for that kind of request."""
    authority, facts = synthetic_facts(random.Random(3), 0, now=NOW)
    made = requests.create(seeded, director(authority), facts, now=NOW)
    sent = offers.create_offers(seeded, director(authority), made.id, offers.OfferChoice(top=1),
                                settings=SETTINGS, now=NOW)  # fmt: skip
    provider_id = sent[0].provider_id
    with seeded.read() as session:
        row = session.get(PlacementRequest, made.id)
        assert row is not None
        before = load_history(session).likelihood(provider_id, row)
    offers.decline(seeded, home(provider_id), sent[0].id, "needs_not_met", None, now=NOW)
    with seeded.read() as session:
        row = session.get(PlacementRequest, made.id)
        assert row is not None
        history = load_history(session)
    assert history.by_provider[provider_id] == Tally(0, 1)
    assert history.likelihood(provider_id, row) < before
