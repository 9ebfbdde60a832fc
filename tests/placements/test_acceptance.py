"""Likely acceptance counted from the answered offers: the tallies and the estimates, by hand."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest

from placements.acceptance import History, Tally, load_history
from placements.db import Sessions
from placements.models import Offer, PlacementRequest
from tests.conftest import NOW

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
        return load_history(session)


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
