"""Races against `placements serve --workers 2`: accepts for scarce beds, idempotent creates."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
from sqlalchemy import Engine, func, select

from placements import offers, requests
from placements.db import Sessions
from placements.models import PlacementRequest
from placements.seeding import seed
from tests.api.test_concurrent_updates import call
from tests.conftest import NOW, empty_tables
from tests.placements.workflow import (
    SETTINGS,
    SOUTHWARK,
    counts,
    offered_request,
    set_free_beds,
    welfare_facts,
)

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
            body = {"staffed_beds": unit["staffed_beds"], "occupied_beds": occupied,
                    "resident_flags": {}}  # fmt: skip
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


@pytest.mark.slow
def test_two_homes_accepting_one_request_at_once_reserve_one_bed(
    server: str, engine: Engine, sessions: Sessions, token: Callable[..., str]
) -> None:
    units = ("swanwick-lodge/1", "clare-lodge/nene")
    for round_ in range(5):
        empty_tables(engine)
        seed(sessions, now=NOW)
        for unit in units:
            set_free_beds(sessions, unit, 2, now=NOW)
        request = requests.create(sessions, SOUTHWARK, welfare_facts(f"BOTH-{round_}"), now=NOW)
        made = offers.create_offers(sessions, SOUTHWARK, request.id, offers.OfferChoice(units),
                                    settings=SETTINGS, now=NOW)  # fmt: skip
        homes = {o.unit_id: token("provider", provider_id=o.provider_id) for o in made}

        def accept(offer: offers.OfferView, homes: dict[str, str] = homes) -> int:
            return call("POST", f"{server}/offers/{offer.id}/accept", homes[offer.unit_id])[0]

        assert sorted(race([partial(accept, o) for o in made])) == [200, 409], f"round {round_}"
        assert sum(counts(sessions, unit)[1] for unit in units) == 1
        director = token("director", authority_id="southwark")

        def admit(request_id: str = request.id, director: str = director) -> int:
            body = {"admitted_at": NOW.isoformat()}
            return call("POST", f"{server}/requests/{request_id}/admission", director, body)[0]

        assert sorted(race([admit, admit])) == [201, 409], f"round {round_}"
        assert sum(counts(sessions, unit)[1] for unit in units) == 0


@pytest.mark.slow
def test_renaming_and_creating_requests_for_one_case_reference_at_once_leaves_one_open(
    server: str, seeded: Sessions, token: Callable[..., str]
) -> None:
    director = token("director", authority_id="southwark")
    for round_ in range(3):
        target = f"SWK-SAME-{round_}"
        others = [
            requests.create(seeded, SOUTHWARK, welfare_facts(f"SWK-OTHER-{round_}-{n}"), now=NOW).id
            for n in range(4)
        ]
        body = {"case_reference": target, "age": 15, "sex": "F", "legal_basis": "welfare",
                "grounds": ["harm_to_self"]}  # fmt: skip

        def rename(request_id: str, target: str = target) -> int:
            return call("PATCH", f"{server}/requests/{request_id}", director,
                        {"case_reference": target})[0]  # fmt: skip

        def create(body: dict[str, object] = body) -> int:
            return call("POST", f"{server}/requests", director, body)[0]

        statuses = race([partial(rename, r) for r in others] + [create, create])
        assert sorted(statuses) == [200 if 200 in statuses else 201] + [409] * 5, statuses
        with seeded.read() as session:
            open_ones = session.scalar(
                select(func.count())
                .select_from(PlacementRequest)
                .where(PlacementRequest.case_reference == target)
            )
        assert open_ones == 1, f"round {round_}"
