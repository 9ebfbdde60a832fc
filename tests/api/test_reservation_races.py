"""Withdrawals, releases and accepts racing over HTTP: each bed freed once, and in the history."""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from placements import offers, requests
from placements.acceptance import load_history, recount
from placements.auth import Actor
from placements.db import Sessions
from placements.models import AvailabilityChange, Offer, PlacementRequest, Unit
from placements.seeding import seed
from tests.conftest import NOW, empty_tables
from tests.placements.workflow import SETTINGS, SOUTHWARK, set_free_beds, welfare_facts

UNIT = "swanwick-lodge/1"
HOME = Actor("staff-swanwick", "provider", provider_id="swanwick-lodge")
BEDS = 3
ROUNDS = 10
RELEASE = {"reason": "no_staffed_bed"}
# What each cause of a history row does to (staffed, occupied, reserved); None: counts reported.
DELTAS: dict[str, tuple[int, int, int] | None] = {
    "registered": None,
    "provider_update": None,
    "offer_accepted": (0, 0, +1),
    "offer_released": (0, 0, -1),
    "request_withdrawn": (0, 0, -1),
}
FREEING = ("offer_released", "request_withdrawn")


@dataclass(frozen=True)
class Case:
    """One request of the round and its offer to the unit (none for a request left waiting)."""

    request_id: str
    offer_id: str | None


@dataclass(frozen=True)
class Outcome:
    """One HTTP call of the race and what the server answered."""

    kind: str
    case: Case
    status: int
    body: dict[str, Any]


def call(method: str, url: str, token: str, body: object = None) -> tuple[int, dict[str, Any]]:
    """One HTTP call; returns (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, dict(json.loads(text))
        except ValueError:
            return error.code, {"text": text.decode(errors="replace")}


def race(calls: list[Callable[[], Outcome]]) -> list[Outcome]:
    """Start every call at once on its own thread; return the outcomes in the order given."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome | None] = [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        outcomes[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(o is not None for o in outcomes), "a call of the race did not finish"
    return [o for o in outcomes if o is not None]


class Round:
    """A fresh estate with UNIT holding exactly BEDS free beds, and HTTP callers for the race."""

    def __init__(self, server: str, engine: Engine, sessions: Sessions,
                 token: Callable[..., str], name: str) -> None:  # fmt: skip
        empty_tables(engine)
        seed(sessions, now=NOW)
        set_free_beds(sessions, UNIT, BEDS, now=NOW)
        self.server, self.sessions, self.name = server, sessions, name
        self.home = token("provider", provider_id="swanwick-lodge")
        self.director = token("director", authority_id="southwark")
        self.made = 0

    def waiting(self) -> Case:
        """A new waiting request, offered to nobody."""
        self.made += 1
        reference = f"{self.name}-{self.made}"
        return Case(requests.create(self.sessions, SOUTHWARK, welfare_facts(reference), now=NOW).id,
                    None)  # fmt: skip

    def offered(self) -> Case:
        """A new request with one pending offer to UNIT."""
        request_id = self.waiting().request_id
        made = offers.create_offers(self.sessions, SOUTHWARK, request_id,
                                    offers.OfferChoice(unit_ids=(UNIT,)), settings=SETTINGS,
                                    now=NOW)  # fmt: skip
        return Case(request_id, made[0].id)

    def hold(self, *cases: Case) -> None:
        """Accept the cases' offers up front (once every offer is made: a full unit gets none)."""
        for case in cases:
            assert case.offer_id is not None
            offers.accept(self.sessions, HOME, case.offer_id, settings=SETTINGS, now=NOW)

    def accept(self, case: Case) -> Callable[[], Outcome]:
        """The home accepting the case's offer over HTTP."""
        return lambda: self._call("accept", case, f"/offers/{case.offer_id}/accept", self.home)

    def release(self, case: Case) -> Callable[[], Outcome]:
        """The home giving back the case's accepted offer over HTTP."""
        return lambda: self._call("release", case, f"/offers/{case.offer_id}/release", self.home,
                                  RELEASE)  # fmt: skip

    def withdraw(self, case: Case) -> Callable[[], Outcome]:
        """The director withdrawing the case's request over HTTP."""
        path = f"/requests/{case.request_id}/withdraw"
        return lambda: self._call("withdraw", case, path, self.director)

    def _call(self, kind: str, case: Case, path: str, token: str, body: object = None) -> Outcome:
        status, answer = call("POST", f"{self.server}{path}", token, body)
        return Outcome(kind, case, status, answer)

    def race(self, calls: list[Callable[[], Outcome]]) -> list[Outcome]:
        """Run the calls together, in an order shuffled per round."""
        order = list(range(len(calls)))
        random.Random(self.name).shuffle(order)
        shuffled = race([calls[n] for n in order])
        outcomes: list[Outcome | None] = [None] * len(calls)
        for n, outcome in zip(order, shuffled, strict=True):
            outcomes[n] = outcome
        return [o for o in outcomes if o is not None]


def server_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tail of the test server's log, for a failure message."""
    logs = sorted(tmp_path_factory.getbasetemp().glob("server*/serve.log"))
    return "\n".join(f"--- {log}\n{log.read_text()[-6000:]}" for log in logs)


def unit_counts(sessions: Sessions) -> tuple[int, int, int, int]:
    """UNIT's (staffed, occupied, reserved, version) as stored."""
    with sessions.read() as session:
        unit = session.get(Unit, UNIT)
        assert unit is not None
        return unit.staffed_beds, unit.occupied_beds, unit.reserved_beds, unit.version


def history(sessions: Sessions) -> list[AvailabilityChange]:
    """UNIT's availability history in the order the service wrote it (its id)."""
    with sessions.read() as session:
        return list(session.scalars(
            select(AvailabilityChange)
            .where(AvailabilityChange.unit_id == UNIT)
            .order_by(AvailabilityChange.id)
        ))  # fmt: skip


def statuses(sessions: Sessions, case: Case) -> tuple[str, str | None, str | None]:
    """The case's request status, and its offer's status and cancel reason, as stored."""
    with sessions.read() as session:
        request = session.get(PlacementRequest, case.request_id)
        assert request is not None
        offer = session.get(Offer, case.offer_id) if case.offer_id else None
        return (
            request.status,
            offer.status if offer else None,
            offer.cancel_reason if offer else None,
        )


def check_responses(outcomes: list[Outcome], log: Callable[[], str]) -> None:
    """Only 200 and 409 came back; a 409 names a bed gone or a state moved on; bodies agree."""
    unexpected = [(o.kind, o.status, o.body) for o in outcomes if o.status not in (200, 409)]
    assert not unexpected, f"{unexpected}\n{log()}"
    for o in outcomes:
        if o.status == 409:
            allowed = ("NoBedLeft", "InvalidTransition") if o.kind == "accept" else (
                "InvalidTransition",)  # fmt: skip
            assert o.body.get("error") in allowed, (o.kind, o.body)
        elif o.kind == "accept":
            assert (o.body["id"], o.body["status"]) == (o.case.offer_id, "accepted")
        elif o.kind == "release":
            assert (o.body["id"], o.body["status"]) == (o.case.offer_id, "released")
            assert o.body["release_reason"] == "no_staffed_bed"
        else:
            assert (o.body["id"], o.body["status"]) == (o.case.request_id, "withdrawn")
            assert o.body["reservation"] is None


def check_beds(sessions: Sessions) -> None:
    """The invariant holds; reserved beds are exactly the reserved requests and accepted offers;
    the acceptance tallies count every answer once, whoever won."""
    staffed, occupied, reserved, _ = unit_counts(sessions)
    assert min(reserved, occupied) >= 0 and occupied + reserved <= staffed
    with sessions.read() as session:
        assert load_history(session) == recount(session)
        accepted = session.scalar(
            select(func.count()).select_from(Offer)
            .where(Offer.unit_id == UNIT, Offer.status == "accepted")
        )  # fmt: skip
        holding = session.scalar(
            select(func.count()).select_from(PlacementRequest)
            .join(Offer, Offer.request_id == PlacementRequest.id)
            .where(PlacementRequest.status == "reserved", Offer.status == "accepted",
                   Offer.unit_id == UNIT)
        )  # fmt: skip
        reserved_anywhere = session.scalar(
            select(func.count()).select_from(PlacementRequest)
            .where(PlacementRequest.status == "reserved")
        )  # fmt: skip
    counted = {"unit": reserved, "accepted offers": accepted, "requests holding one": holding,
               "reserved requests": reserved_anywhere}  # fmt: skip
    assert len(set(counted.values())) == 1, counted


def check_history(sessions: Sessions, since_version: int) -> Counter[str]:
    """Every change is in the history with the delta of its cause; the causes since a version."""
    rows = history(sessions)
    versions = [r.version for r in rows]
    assert versions == list(range(versions[0], versions[0] + len(rows))), versions
    for before, after in pairwise(rows):
        delta = DELTAS[after.cause]
        if delta is not None:
            moved = (after.staffed_beds - before.staffed_beds,
                     after.occupied_beds - before.occupied_beds,
                     after.reserved_beds - before.reserved_beds)  # fmt: skip
            assert moved == delta, (after.version, after.cause, moved)
            assert after.out_of_use_reason == before.out_of_use_reason
            assert after.resident_flags == before.resident_flags
    last = rows[-1]
    latest = (last.staffed_beds, last.occupied_beds, last.reserved_beds, last.version)
    assert latest == unit_counts(sessions), (
        "history ends at",
        latest,
        "unit",
        unit_counts(sessions),
    )
    return Counter(r.cause for r in rows if r.version > since_version)


@pytest.mark.slow
def test_twenty_withdrawals_releases_and_accepts_on_three_beds_free_each_bed_once(
    server: str,
    engine: Engine,
    sessions: Sessions,
    token: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for round_ in range(ROUNDS):
        game = Round(server, engine, sessions, token, f"MIX{round_}")
        released, contested, twice, *pending = [game.offered() for _ in range(BEDS + 10)]
        game.hold(released, contested, twice)
        idle = [game.waiting() for _ in range(2)]
        _, _, reserved_before, version_before = unit_counts(sessions)
        assert reserved_before == BEDS  # no bed is free when the race starts
        outcomes = game.race(
            [game.release(released), game.release(contested), game.withdraw(contested)]
            + [game.withdraw(twice)] * 2
            + [game.accept(c) for c in pending]
            + [game.withdraw(c) for c in pending[7:]]
            + [game.withdraw(c) for c in idle]
        )  # fmt: skip
        check_responses(outcomes, lambda: server_log(tmp_path_factory))
        by_call = {(o.kind, o.case): o.status for o in outcomes}
        where = f"round {round_}: {[(o.kind, o.status, o.body.get('error')) for o in outcomes]}"

        # Which call freed which bed, from the responses alone.
        assert by_call["release", released] == 200, where
        assert by_call["withdraw", contested] == 200, where  # reserved, or waiting once released
        assert sorted(o.status for o in outcomes if o.case == twice) == [200, 409], where
        assert all(by_call["withdraw", c] == 200 for c in pending[7:] + idle), where
        for o in outcomes:
            if o.kind == "accept" and o.status == 409 and o.case in pending[:7]:
                assert o.body["error"] == "NoBedLeft", where  # only a withdrawal ends an offer
        accepted = [c for c in pending if by_call["accept", c] == 200]
        release_won = by_call["release", contested] == 200
        releases = 1 + release_won
        withdrawals = (not release_won) + 1 + len([c for c in pending[7:] if c in accepted])
        assert len(accepted) <= releases + withdrawals, where  # no bed was free at the start

        # The stored state agrees with the responses.
        assert statuses(sessions, released) == ("waiting", "released", None)
        assert statuses(sessions, contested) == (
            ("withdrawn", "released", None) if release_won
            else ("withdrawn", "cancelled", "withdrawn_by_placer"))  # fmt: skip
        assert statuses(sessions, twice) == ("withdrawn", "cancelled", "withdrawn_by_placer")
        for case in pending:
            withdrawn = case in pending[7:]
            expected = (
                ("withdrawn", "cancelled", "withdrawn_by_placer") if withdrawn
                else ("reserved", "accepted", None) if case in accepted
                else ("offered", "pending", None))  # fmt: skip
            assert statuses(sessions, case) == expected, (where, case)
        assert all(statuses(sessions, c) == ("withdrawn", None, None) for c in idle)

        check_beds(sessions)
        causes = check_history(sessions, version_before)
        assert causes == Counter(offer_accepted=len(accepted), offer_released=releases,
                                 request_withdrawn=withdrawals), where  # fmt: skip
        _, _, reserved_after, _ = unit_counts(sessions)
        assert causes["offer_accepted"] - sum(causes[c] for c in FREEING) == (
            reserved_after - reserved_before
        )


@pytest.mark.slow
def test_a_reservation_released_and_withdrawn_at_once_frees_its_one_bed_once(
    server: str,
    engine: Engine,
    sessions: Sessions,
    token: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for round_ in range(ROUNDS):
        game = Round(server, engine, sessions, token, f"ONE{round_}")
        held = [game.offered() for _ in range(BEDS)]
        pending = [game.offered() for _ in range(2)]
        game.hold(*held)
        _, _, reserved_before, version_before = unit_counts(sessions)
        calls = [game.accept(c) for c in pending]
        for case in held:
            calls += [game.release(case)] + [game.withdraw(case)] * 5
        outcomes = game.race(calls)
        check_responses(outcomes, lambda: server_log(tmp_path_factory))
        where = f"round {round_}: {[(o.kind, o.status, o.body.get('error')) for o in outcomes]}"

        releases = withdrawals = 0
        for case in held:
            mine = [o for o in outcomes if o.case == case]
            released = [o.status for o in mine if o.kind == "release"] == [200]
            # A release leaves the request waiting, which one withdrawal then ends with no bed;
            # otherwise the first withdrawal frees the bed and the release finds it cancelled.
            withdrawn = sorted(o.status for o in mine if o.kind == "withdraw")
            assert withdrawn == [200] + [409] * 4, where
            releases += released
            withdrawals += not released
            assert statuses(sessions, case) == (
                ("withdrawn", "released", None) if released
                else ("withdrawn", "cancelled", "withdrawn_by_placer"))  # fmt: skip
        accepted = [o for o in outcomes if o.kind == "accept" and o.status == 200]
        assert releases + withdrawals == BEDS

        check_beds(sessions)
        causes = check_history(sessions, version_before)
        assert causes == Counter(offer_accepted=len(accepted), offer_released=releases,
                                 request_withdrawn=withdrawals), where  # fmt: skip
        _, _, reserved_after, _ = unit_counts(sessions)
        assert reserved_after == len(accepted) == reserved_before - BEDS + len(accepted)
