"""The simulated world: SimPy processes acting as directors, homes, courts and panels.

Every change goes through the service's own use cases, called with the simulation's time as
`now` (and the service clock set to it): requests, offers, answers, admissions, orders,
discharges, availability updates and the scheduled jobs. The world reads the database directly
only for what its people know without asking the service (a home knows its own residents) and
for the measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

import simpy
from sqlalchemy import bindparam, func, select

from placements import admissions, availability, jobs, meetings, offers, requests, reviews
from placements.auth import SYSTEM, Actor
from placements.clock import FixedClock
from placements.config import Settings
from placements.db import Sessions
from placements.errors import PlacementsError
from placements.live import live_unit
from placements.models import Meeting, Panel, PlacementRequest, Provider, Unit
from placements.offers import OfferChoice, OfferView
from placements.orders import LegalAuthority
from placements.simulation import homes
from placements.simulation.arrivals import Arrival, Shortfall
from placements.simulation.parameters import Parameters
from solver.rules import haversine_km

T = TypeVar("T")
Process = Generator[simpy.Event, Any, Any]
UNFINISHED = ("waiting", "offered")
# A sentence's order is recorded as lasting well beyond the stay (the stay ends it).
SENTENCE_MARGIN = timedelta(days=30)


# What the world reads of a request after an offer of it ends: whether it waits again.
REQUEST_STATUS = select(PlacementRequest.status).where(PlacementRequest.id == bindparam("id"))


class Policy(Protocol):
    """How children are matched to homes: today's process or one of the service's."""

    name: str

    def settings(self, base: Settings) -> Settings:
        """The service's settings under this policy."""

    def start(self, world: World) -> None:
        """Start the policy's own processes."""

    def requested(self, world: World, child: Arrival) -> None:
        """A request has just been made."""

    def reopened(self, world: World, child: Arrival) -> None:
        """A child's offers have all ended without a yes: it waits again."""

    def answer_delay(self, world: World, delay_h: float) -> float | None:
        """When a home answers an offer made now (hours from now), or None if not in time."""


@dataclass
class ChildRecord:
    """What happened to one child, as the world saw it."""

    child: Arrival
    request_id: str | None = None
    status: str = "new"
    offers: int = 0
    declines: int = 0
    homes_asked: set[str] = field(default_factory=set)
    had_option: bool = False
    admitted_h: float | None = None
    unit_id: str | None = None
    placement_id: str | None = None
    distance_km: float | None = None
    order_h: float | None = None
    left_h: float | None = None
    reason: str | None = None


@dataclass
class Resident:
    """A child already in a unit when the year starts (not known to the service by name)."""

    unit_id: str
    flags: frozenset[str]
    leaves_h: float


class World:
    """The simulated year: the clock, the database, the people and what they did."""

    def __init__(
        self,
        *,
        parameters: Parameters,
        sessions: Sessions,
        clock: FixedClock,
        settings: Settings,
        policy: Policy,
        seed: int,
        days: int,
        children: list[Arrival],
        shortfalls: list[Shortfall],
        residents: list[Resident],
        true_pairs: tuple[tuple[str, str], ...],
        out_of_use: dict[str, list[tuple[float, float, int]]],
    ) -> None:
        self.env = simpy.Environment()
        self.parameters, self.sessions, self.clock = parameters, sessions, clock
        self.policy, self.seed, self.days = policy, seed, days
        self.settings = policy.settings(settings)
        self.children = children
        self.records = {c.id: ChildRecord(c) for c in children}
        self.by_request: dict[str, ChildRecord] = {}
        self.shortfalls, self.residents = shortfalls, residents
        self.initial_residents = list(residents)
        # Bumped whenever beds, requests or answers change: a batch run on an unchanged state
        # would propose what the last one did.
        self.changes = 0
        self.true_pairs = true_pairs
        self.out_of_use = out_of_use
        self.beds_changed = self.env.event()
        self.samples: list[dict[str, Any]] = []
        self.review_due: dict[str, datetime] = {}
        self.answers: dict[tuple[str, str], int] = {}
        # The children whose offers end at each instant (hours), for the expiry job then.
        self.expiries: dict[float, list[ChildRecord]] = {}

    # ---------------------------------------------------------------- time and calls
    def at(self, hours: float | None = None) -> datetime:
        """The moment `hours` (now by default) after the start."""
        return self.parameters.start + timedelta(hours=self.env.now if hours is None else hours)

    def hours(self, moment: datetime) -> float:
        """Hours from the start to a moment."""
        return (moment - self.parameters.start).total_seconds() / 3600.0

    def call(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a use case now, with the service's clock set to the simulation's time."""
        now = self.at()
        self.clock.set(now)
        return use_case(self.sessions, *args, now=now, **kwargs)

    def attempt(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Like `call`, but a refusal by the service (the rules said no) is None."""
        try:
            return self.call(use_case, *args, **kwargs)
        except PlacementsError:
            return None

    def job(self, name: str) -> str:
        """Run one of the service's scheduled jobs now."""
        now = self.at()
        self.clock.set(now)
        return jobs.run(name, self.sessions, self.settings, now=now)

    def after(self, hours: float, action: Callable[[], Any]) -> None:
        """Do something `hours` from now."""

        def later() -> Process:
            yield self.env.timeout(max(0.0, hours))
            action()

        self.env.process(later())

    def signal_beds(self) -> None:
        """Wake whoever waits for a bed to come free."""
        self.changes += 1
        fired, self.beds_changed = self.beds_changed, self.env.event()
        fired.succeed()

    # ---------------------------------------------------------------- actors
    @staticmethod
    def director(authority_id: str) -> Actor:
        """The placing authority's director."""
        return Actor(
            label=f"director@{authority_id}.example.org", role="director", authority_id=authority_id
        )

    @staticmethod
    def manager(provider_id: str) -> Actor:
        """The home's manager."""
        return Actor(
            label=f"manager@{provider_id}.example.org", role="provider", provider_id=provider_id
        )

    # ---------------------------------------------------------------- the year
    def run(self) -> None:
        """Run the whole horizon."""
        self.env.process(self._arrivals())
        self.env.process(self._daily_updates())
        self.env.process(self._daily_samples())
        jobs_ = self.parameters.jobs
        self.env.process(self._job("demand-check", jobs_.demand_check_minutes / 60.0))
        self.env.process(self._job("review-calls", jobs_.review_calls_minutes / 60.0))
        self.policy.start(self)
        self.env.run(until=self.days * 24.0)

    def _arrivals(self) -> Process:
        for child in self.children:
            yield self.env.timeout(max(0.0, child.at_h - self.env.now))
            self._request(child)

    def _request(self, child: Arrival) -> None:
        record = self.records[child.id]
        view = self.call(requests.create, self.director(child.authority_id), self._facts(child))
        record.request_id, record.status = view.id, "waiting"
        self.by_request[view.id] = record
        self.changes += 1
        self.after(child.patience_h, lambda: self._give_up(record))
        self.policy.requested(self, child)

    def _facts(self, child: Arrival) -> requests.RequestFacts:
        now = self.at()
        authority = LegalAuthority()
        if child.legal_basis == "welfare" and child.order_at_request:
            authority = LegalAuthority("interim_order", now, now + timedelta(days=84))
        elif child.legal_basis == "remand":
            authority = LegalAuthority("remand", now, now + timedelta(days=28))
        elif child.legal_basis == "sentence":
            until = now + timedelta(hours=child.patience_h + child.stay_h) + SENTENCE_MARGIN
            authority = LegalAuthority("sentence", now, until)
        approval = "granted" if child.age < 13 else None
        return requests.RequestFacts(
            case_reference=f"SIM-{child.id}",
            age=child.age,
            sex=child.sex,
            legal_basis=child.legal_basis,
            grounds=child.grounds,
            needs=child.needs,
            flags=child.flags,
            under_13_approval=approval,
            home=child.home,
            exclusion_zones=child.exclusion_zones,
            authority=authority,
        )

    def _give_up(self, record: ChildRecord) -> None:
        """The authority makes other arrangements for a child still not placed."""
        if record.status not in UNFINISHED or record.request_id is None:
            return
        if (
            self.attempt(
                requests.withdraw, self.director(record.child.authority_id), record.request_id
            )
            is None
        ):
            return
        record.status, record.left_h = "withdrawn", self.env.now
        if not record.had_option:
            record.reason = "no_eligible_bed"
        elif record.declines and record.declines >= len(record.homes_asked):
            record.reason = "declined_by_every_home_asked"
        else:
            record.reason = "waited_too_long"

    # ---------------------------------------------------------------- offers and answers
    def offer(self, record: ChildRecord, choice: OfferChoice) -> list[OfferView]:
        """Offer a child to units through the service; nothing when no unit is eligible."""
        if record.request_id is None or record.status not in UNFINISHED:
            return []
        made = self.attempt(
            offers.create_offers,
            self.director(record.child.authority_id),
            record.request_id,
            choice,
            settings=self.settings,
        )
        if not made:
            return []
        self.sent(record, made)
        return made

    def offer_round(self, records: list[ChildRecord], choice: OfferChoice) -> None:
        """Offer several children at once (one read of the live state), as a coordinator would."""
        records = [r for r in records if r.request_id is not None and r.status in UNFINISHED]
        if not records:
            return
        choices = [(r.request_id, choice) for r in records if r.request_id is not None]
        made = self.call(offers.create_offers_many, SYSTEM, choices, settings=self.settings)
        for record, result in zip(records, made, strict=True):
            if isinstance(result, list) and result:
                self.sent(record, result)

    def sent(self, record: ChildRecord, made: Iterable[OfferView]) -> None:
        """Offers have gone out: each home will answer (or not) in its own time."""
        made = list(made)
        record.status, record.had_option = "offered", True
        record.offers += len(made)
        for offer in made:
            record.homes_asked.add(offer.provider_id)
            self.env.process(self._answer(record, offer))
            self._expire_at(self.hours(offer.expires_at), record)

    def _expire_at(self, expires_h: float, record: ChildRecord) -> None:
        """At an offer's expiry the expiry job runs (once for all offers ending then), and each
        child whose offers have all ended waits again."""
        due = self.expiries.get(expires_h)
        if due is None:
            due = self.expiries[expires_h] = []
            self.after(expires_h - self.env.now, partial(self._expire, expires_h))
        if not any(r is record for r in due):
            due.append(record)

    def _answer(self, record: ChildRecord, offer: OfferView) -> Process:
        child = record.child
        attempt = self.answers.get((child.id, offer.provider_id), 0) + 1
        self.answers[(child.id, offer.provider_id)] = attempt
        conflict = self._mix_conflict(child, offer.unit_id)
        answer = homes.answer(
            self.parameters.homes,
            child,
            offer.provider_id,
            attempt,
            self.seed,
            mix_conflict=conflict,
        )
        delay = self.policy.answer_delay(self, answer.after_h)
        if answer.silent or delay is None:
            return
        yield self.env.timeout(delay)
        manager = self.manager(offer.provider_id)
        if answer.accept:
            if self.attempt(offers.accept, manager, offer.id, settings=self.settings):
                self._accepted(record, offer)
            return
        assert answer.reason is not None
        if self.attempt(offers.decline, manager, offer.id, answer.reason, None):
            record.declines += 1
            self._maybe_reopened(record)

    def _mix_conflict(self, child: Arrival, unit_id: str) -> bool:
        """Whether the unit holds a child this one must not meet (the home knows its own)."""
        with self.sessions.read_rows() as connection:
            unit = live_unit(connection, unit_id)
        if unit is None:
            return False
        present = set().union(*unit.resident_flags) if unit.resident_flags else set()
        return any(
            (a in child.flags and b in present) or (b in child.flags and a in present)
            for a, b in self.true_pairs
        )

    def _expire(self, expires_h: float) -> None:
        self.job("offer-expiry")
        for record in self.expiries.pop(expires_h):
            self._maybe_reopened(record)

    def _maybe_reopened(self, record: ChildRecord) -> None:
        if record.status != "offered" or record.request_id is None:
            return
        if self._status(record.request_id) == "waiting":
            record.status = "waiting"
            self.changes += 1
            self.policy.reopened(self, record.child)

    def _status(self, request_id: str) -> str:
        with self.sessions.read_rows() as connection:
            return str(connection.execute(REQUEST_STATUS, {"id": request_id}).scalar_one())

    def _accepted(self, record: ChildRecord, offer: OfferView) -> None:
        record.status, record.unit_id = "reserved", offer.unit_id
        self.after(record.child.travel_h, lambda: self._admit(record))

    # ---------------------------------------------------------------- the stay
    def _admit(self, record: ChildRecord) -> None:
        child = record.child
        assert record.request_id is not None
        director = self.director(child.authority_id)
        placement = self.call(admissions.admit, director, record.request_id, self.at())
        record.status, record.admitted_h = "placed", self.env.now
        record.placement_id = placement.id
        record.distance_km = self._distance(child, placement.unit_id)
        if child.legal_basis == "welfare" and not child.order_at_request:
            self.after(child.order_after_admission_h, lambda: self._order(record, renewal=False))
        else:
            record.order_h = child.at_h
        self._renewals(record)
        self.after(child.stay_h, lambda: self._discharge(record))

    def _distance(self, child: Arrival, unit_id: str) -> float:
        with self.sessions.read() as session:
            lat, lon = session.execute(
                select(Provider.lat, Provider.lon).join(Unit).where(Unit.id == unit_id)
            ).one()
        return float(haversine_km(child.home[0], child.home[1], lat, lon))

    def _order(self, record: ChildRecord, *, renewal: bool) -> None:
        if record.status != "placed" or record.request_id is None:
            return
        now = self.at()
        child = record.child
        if child.legal_basis == "welfare":
            kind = "full_order" if renewal else "interim_order"
            until = now + timedelta(days=170 if renewal else 84)
        else:
            kind, until = "remand", now + timedelta(days=28)
        self.call(
            requests.record_order,
            self.director(child.authority_id),
            record.request_id,
            LegalAuthority(kind, now, until, renewal),
            settings=self.settings,
        )
        if record.order_h is None:
            record.order_h = self.env.now
        self._renewals(record)

    def _renewals(self, record: ChildRecord) -> None:
        """Before the current order runs out, the court renews it (if the child is still there)."""
        if record.request_id is None or record.child.legal_basis == "sentence":
            return
        with self.sessions.read() as session:
            row = session.get(PlacementRequest, record.request_id)
            expires = row.order_expires_at if row is not None else None
        if expires is None:
            return
        renew_h = self.hours(expires) - 24.0
        self.after(renew_h - self.env.now, lambda: self._order(record, renewal=True))

    def _discharge(self, record: ChildRecord) -> None:
        if record.placement_id is None or record.status != "placed":
            return
        self.call(
            admissions.discharge,
            self.director(record.child.authority_id),
            record.placement_id,
            self.at(),
            "home",
            settings=self.settings,
        )
        record.status, record.left_h = "discharged", self.env.now
        self.signal_beds()

    # ---------------------------------------------------------------- homes' day
    def _daily_updates(self) -> Process:
        """Each morning every home reports its staffed beds and the residents who have left."""
        while True:
            # Until the next 07:00 (a full day when it is 07:00 now).
            yield self.env.timeout((7.0 - self.env.now) % 24 or 24.0)
            self.update_estate()

    def update_estate(self) -> None:
        """Every unit's morning report: staffed beds after shortfalls, residents gone."""
        now_h = self.env.now
        with self.sessions.read() as session:
            units = session.execute(
                select(
                    Unit.id,
                    Unit.provider_id,
                    Unit.approved_beds,
                    Unit.staffed_beds,
                    Unit.occupied_beds,
                    Unit.reserved_beds,
                    Unit.out_of_use_reason,
                    Unit.resident_flags,
                ).order_by(Unit.id)
            ).all()
        freed = False
        reports: dict[str, dict[str, availability.AvailabilityUpdate]] = {}
        for unit in units:
            gone = [r for r in self.residents if r.unit_id == unit.id and r.leaves_h <= now_h]
            for r in gone:
                self.residents.remove(r)
            shortfall = self._shortfall(unit.id, now_h)
            occupied = unit.occupied_beds - len(gone)
            staffed = max(occupied + unit.reserved_beds, unit.approved_beds - shortfall)
            flags: dict[str, int] = {}
            for r in self.residents:
                if r.unit_id == unit.id:
                    for flag in r.flags:
                        flags[flag] = flags.get(flag, 0) + 1
            reports.setdefault(unit.provider_id, {})[unit.id] = availability.AvailabilityUpdate(
                staffed_beds=staffed,
                occupied_beds=occupied,
                out_of_use_reason="staffing" if staffed < unit.approved_beds else None,
                resident_flags=flags,
            )
            was_free = unit.staffed_beds - unit.occupied_beds - unit.reserved_beds
            freed = freed or staffed - occupied - unit.reserved_beds > was_free
        for provider_id, changes in sorted(reports.items()):
            self.call(
                availability.report_home,
                self.manager(provider_id),
                changes,
                settings=self.settings,
            )
        if freed:
            self.signal_beds()

    def _shortfall(self, unit_id: str, now_h: float) -> int:
        staff = sum(
            s.beds for s in self.shortfalls if s.unit_id == unit_id and s.from_h <= now_h < s.to_h
        )
        closed = sum(b for f, t, b in self.out_of_use.get(unit_id, []) if f <= now_h < t)
        return staff + closed

    # ---------------------------------------------------------------- jobs and panels
    def _job(self, name: str, every_h: float) -> Process:
        while True:
            yield self.env.timeout(every_h)
            if name == "review-calls":
                called = self.call(reviews.call_reviews, self.settings).called
                for meeting_id in called:
                    self.env.process(self._hold(meeting_id))
            else:
                self.job(name)

    def _hold(self, meeting_id: str) -> Process:
        """The panel meets when called (at the meeting's time, even if it was moved)."""
        while True:
            with self.sessions.read() as session:
                meeting = session.get(Meeting, meeting_id)
                assert meeting is not None
                if meeting.status not in meetings.OPEN_STATUSES:
                    return
                at_h = self.hours(meeting.scheduled_for)
                panel = session.get(Panel, meeting.panel_id)
                assert panel is not None
                chair = next(m.email for m in panel.members if m.role == "chair")
                attendees = tuple(m.email for m in panel.members)
                if meeting.due_by is not None and meeting.placement_id is not None:
                    self.review_due[meeting_id] = meeting.due_by
            if at_h > self.env.now:
                yield self.env.timeout(at_h - self.env.now)
                continue
            actor = Actor(label=chair, role="panel", panel_id=panel.id)
            outcome = meetings.Outcome(self.at(), attendees, "continue", "")
            self.attempt(
                meetings.record_outcome, actor, meeting_id, outcome, settings=self.settings
            )
            return

    # ---------------------------------------------------------------- samples
    def _daily_samples(self) -> Process:
        while True:
            yield self.env.timeout(12.0 if self.env.now == 0 else 24.0)
            self.samples.append(self.sample())

    def sample(self) -> dict[str, Any]:
        """The state at this moment: children waiting, beds by unit."""
        with self.sessions.read() as session:
            counts = session.execute(
                select(PlacementRequest.legal_basis, func.count())
                .where(PlacementRequest.status.in_(UNFINISHED))
                .group_by(PlacementRequest.legal_basis)
            ).all()
            units = session.execute(
                select(
                    Unit.id,
                    Unit.designation,
                    Provider.nation,
                    Unit.staffed_beds,
                    Unit.occupied_beds,
                    Unit.reserved_beds,
                )
                .join(Provider)
                .order_by(Unit.id)
            ).all()
        waiting = {str(basis): int(n) for basis, n in counts}
        return {
            "h": self.env.now,
            "waiting": sum(waiting.values()),
            "welfare_waiting": waiting.get("welfare", 0),
            "units": [tuple(u) for u in units],
        }
