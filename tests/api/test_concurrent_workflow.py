"""Races against `placements serve --workers 2`: accepts for scarce beds, idempotent creates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import Engine, func, select

from placements.db import Sessions
from placements.models import PlacementRequest
from placements.seeding import seed
from tests.api.test_concurrent_updates import call
from tests.conftest import NOW, empty_tables
from tests.placements.workflow import counts, offered_request, set_free_beds

UNIT = "swanwick-lodge/1"


def race(calls: list[Callable[[], int]]) -> list[int]:
    """Start every call at once on its own thread; return the statuses."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = []

    def run(call_once: Callable[[], int]) -> None:
        barrier.wait()
        statuses.append(call_once())

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.slow
def test_twenty_accepts_for_three_beds_reserve_exactly_three_ten_times_over(
    server: str, engine: Engine, sessions: Sessions, token: Callable[..., str]
) -> None:
    for round_ in range(10):
        empty_tables(engine)
        seed(sessions, now=NOW)
        provider = token("provider", provider_id="swanwick-lodge")
        set_free_beds(sessions, UNIT, 3, now=NOW)
        offer_ids = [offered_request(sessions, UNIT, f"R{round_}-{n}", now=NOW) for n in range(20)]
        occupied = counts(sessions, UNIT)[0]

        def accept(offer_id: str, provider: str = provider) -> int:
            return call("POST", f"{server}/offers/{offer_id}/accept", provider)[0]

        def provider_update(provider: str = provider, occupied: int = occupied) -> int:
            _, headers, unit = call("GET", f"{server}/units/{UNIT}", provider)
            body = {"staffed_beds": unit["staffed_beds"], "occupied_beds": occupied}
            put = call(
                "PUT", f"{server}/units/{UNIT}/availability", provider, body,
                {"If-Match": headers["ETag"]},
            )  # fmt: skip
            return -put[0]  # negative: an update, not an accept

        statuses = race([partial(accept, o) for o in offer_ids] + [provider_update] * 4)
        accepts = sorted(s for s in statuses if s > 0)
        assert accepts == [200] * 3 + [409] * 17, f"round {round_}: {accepts}"
        assert all(-s in (200, 412) for s in statuses if s < 0)
        _, reserved, free = counts(sessions, UNIT)
        assert (reserved, free) == (3, 0), f"round {round_}"


@pytest.mark.slow
def test_the_same_idempotency_key_sent_concurrently_creates_one_request(
    server: str, seeded: Sessions, token: Callable[..., str]
) -> None:
    director = token("director", authority_id="southwark")
    body = {"case_reference": "SWK-IDEM", "age": 15, "sex": "F", "legal_basis": "welfare",
            "grounds": ["harm_to_self"]}  # fmt: skip
    ids: list[str] = []

    def create() -> int:
        status, _, made = call("POST", f"{server}/requests", director, body,
                               {"Idempotency-Key": "same-key"})  # fmt: skip
        ids.append(made.get("id", ""))
        return status

    assert race([create] * 10) == [201] * 10
    assert len(set(ids)) == 1
    with seeded.read() as session:
        assert session.scalar(select(func.count()).select_from(PlacementRequest)) == 1
