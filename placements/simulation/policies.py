"""The policies compared: today's send-all round, ranked offers and batch matching.

A policy is a small object: the service settings it runs under, the processes it starts, what it
does when a request is made or a child's offers all end, and when homes answer. Adding one is a
class here and an entry in `POLICIES`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from placements import matching
from placements.auth import SYSTEM
from placements.config import Settings
from placements.offers import OfferChoice, OfferView
from placements.simulation.arrivals import Arrival
from placements.simulation.world import Process, World

# Offers to every eligible unit at once: more than the estate has.
EVERY_UNIT = 1000


def _working_day(world: World, hours: float) -> bool:
    return world.at(hours).weekday() < 5


@dataclass
class SendAll:
    """Today: a daily round in office hours; the referral goes to every home with a declared bed;
    the first home to accept takes the child; homes judge the mix of residents themselves."""

    name: str = "send_all"

    def settings(self, base: Settings) -> Settings:
        """No central mix check (nobody does one today); offers last the office day."""
        return replace(base, incompatible_flags=(), offer_hours=self._office_hours(base))

    def _office_hours(self, base: Settings) -> float:
        del base
        return 8.5

    def start(self, world: World) -> None:
        """The daily round."""
        world.env.process(self._rounds(world))

    def _rounds(self, world: World) -> Process:
        open_h = world.parameters.policies.send_all_round_hour
        while True:
            day_start = world.env.now - world.env.now % 24
            next_round = day_start + open_h
            if next_round <= world.env.now:
                next_round += 24
            yield world.env.timeout(next_round - world.env.now)
            if _working_day(world, world.env.now):
                waiting = [r for r in world.by_request.values() if r.status == "waiting"]
                world.offer_round(waiting, OfferChoice(top=EVERY_UNIT))

    def requested(self, world: World, child: Arrival) -> None:
        """A referral waits for the next round."""

    def reopened(self, world: World, child: Arrival) -> None:
        """Declined everywhere: the next round sends it again."""

    def answer_delay(self, world: World, delay_h: float) -> float | None:
        """Homes answer within the office day, or the referral lapses."""
        close_h = world.parameters.policies.office_close_hour
        now_h = world.env.now % 24
        return delay_h if now_h + delay_h <= close_h else None


@dataclass
class Ranked:
    """The service: options ranked on the live state, offers to the top few at once, day and
    night, re-offered when a home declines or lets an offer lapse."""

    name: str = "ranked"

    def settings(self, base: Settings) -> Settings:
        """The service's own settings."""
        return base

    def start(self, world: World) -> None:
        """Children with no eligible unit try again whenever a bed comes free."""
        world.env.process(self._retry(world))

    def _retry(self, world: World) -> Process:
        while True:
            yield world.beds_changed
            # One read of the live state says who could use the freed bed; only they are offered.
            for request_id in world.call(
                matching.waiting_with_options, SYSTEM, settings=world.settings
            ):
                record = world.by_request[request_id]
                if record.status == "waiting":
                    self._offer(world, record.child)

    def _offer(self, world: World, child: Arrival) -> None:
        top = world.parameters.policies.ranked_top
        world.offer(world.records[child.id], OfferChoice(top=top))

    def requested(self, world: World, child: Arrival) -> None:
        """Offer at once."""
        self._offer(world, child)

    def reopened(self, world: World, child: Arrival) -> None:
        """Offer to the next best at once."""
        self._offer(world, child)

    def answer_delay(self, world: World, delay_h: float) -> float | None:
        """Homes answer when they answer; the offer's expiry decides if it counts."""
        return delay_h


@dataclass
class Batch(Ranked):
    """Batch matching: a run across everyone waiting every hour, then an offer per proposal."""

    name: str = "batch"

    def start(self, world: World) -> None:
        """The hourly run."""
        world.env.process(self._runs(world))

    def _runs(self, world: World) -> Process:
        every = world.parameters.policies.batch_every_hours
        last: tuple[int, ...] | None = None
        # The changes counted when the last run was made, and the children it found with no
        # eligible unit at all.
        last_changes, hopeless = -1, frozenset[str]()
        while True:
            yield world.env.timeout(every)
            waiting = [r for r in world.by_request.values() if r.status == "waiting"]
            if not waiting:
                continue
            # A run on the same waiting list and estate as the last would propose the same.
            state = (len(waiting), world.changes)
            if state == last:
                continue
            last = state
            # Nor can a run propose anything when only children the last run found with no
            # eligible unit still wait and nothing has changed since: eligibility depends on the
            # beds, the residents and the child's own facts, and only what `world.changes`
            # counts (a request, a bed come free, a child waiting again) can widen it.
            if world.changes == last_changes and {r.request_id for r in waiting} <= hopeless:
                continue
            # The run and the offers of its proposals in one step (`matching.run_and_offer`).
            sent = world.call(matching.run_and_offer, SYSTEM, settings=world.settings)
            last_changes = world.changes
            hopeless = frozenset(
                u["child_id"] for u in sent.run.unplaced if "no_eligible_unit" in u["reasons"]
            )
            by_child: dict[str, list[OfferView]] = {}
            for offer in sent.offers:
                by_child.setdefault(offer.request_id, []).append(offer)
            for request_id, made in by_child.items():
                world.sent(world.by_request[request_id], made)

    def requested(self, world: World, child: Arrival) -> None:
        """The child waits for the next run."""

    def reopened(self, world: World, child: Arrival) -> None:
        """The child waits for the next run."""


POLICIES: dict[str, type[SendAll] | type[Ranked] | type[Batch]] = {
    "send_all": SendAll,
    "ranked": Ranked,
    "batch": Batch,
}
