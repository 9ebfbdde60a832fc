"""The demand check: a snapshot of demand, thresholds breached, and escalation episodes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import solver
from placements import audit, meetings, orders, statutory, thresholds
from placements.acceptance import History, Tally
from placements.auth import SYSTEM
from placements.config import Settings
from placements.db import Sessions
from placements.ids import new_id
from placements.live import FACTS_BY_ID, child_of, live_units, matching_facts, problem
from placements.models import (
    EscalationEpisode,
    Meeting,
    Panel,
    PanelMember,
    Placement,
    PlacementRequest,
)
from placements.panels import MemberSpec, sitting_problems
from placements.requests import OPEN_STATUSES

NATIONAL = "national"
LEVEL_ORDER = {"amber": 1, "red": 2}
RED_DEADLINE = timedelta(hours=4)
# Requests still in the child's journey: the 72-hour clock matters for all of them.
LIVE_STATUSES = ("waiting", "offered", "reserved", "placed")


@dataclass(frozen=True)
class Measure:
    """One rule's measured value and the requests (or homes) behind it."""

    value: float | None
    items: dict[str, float]


@dataclass(frozen=True)
class Breach:
    """A rule in breach: its level, the measured value and what is concerned."""

    rule: str
    description: str
    level: str
    value: float
    threshold: float
    concerned: list[str]


@dataclass(frozen=True)
class DemandCheck:
    """What one demand check saw and did."""

    snapshot: dict[str, Any]
    breaches: list[Breach]
    level: str | None
    episode_id: str | None
    episode: str
    meeting_id: str | None


# The live requests' columns the snapshot needs (no facts: those are read for open requests only).
LIVE_REQUESTS = (
    select(PlacementRequest.id, PlacementRequest.status, PlacementRequest.legal_basis,
           PlacementRequest.created_at)
    .where(PlacementRequest.status.in_(LIVE_STATUSES))
    .order_by(PlacementRequest.created_at, PlacementRequest.id)
)  # fmt: skip


def measure(
    session: Session, settings: Settings, *, now: datetime
) -> tuple[dict[str, Any], dict[str, Measure]]:
    """The demand snapshot (request ids only, never case references) and each rule's measure."""
    live = session.connection().execute(LIVE_REQUESTS).all()
    open_requests = [r for r in live if r.status in OPEN_STATUSES]
    rows, units = live_units(session)
    free: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row, unit in zip(rows, units, strict=True):
        free[row.nation][unit.designation] += unit.free_beds
    welfare_beds = sum(u.free_beds for u in units if u.designation in ("welfare", "mixed"))
    waits = {r.id: round((now - r.created_at).total_seconds() / 86400, 2) for r in open_requests}
    hours = _hours_without_order(session, now)
    stale = _stale_homes(rows, now)
    by_basis: dict[str, int] = defaultdict(int)
    for r in open_requests:
        by_basis[r.legal_basis] += 1
    welfare = [r.id for r in open_requests if r.legal_basis == "welfare"]
    snapshot = {
        "taken_at": now.isoformat(),
        "open_requests": dict(sorted(by_basis.items())),
        "free_beds": {n: dict(sorted(d.items())) for n, d in sorted(free.items())},
        "free_welfare_beds": welfare_beds,
        "longest_wait_days": max(waits.values(), default=0.0),
        "near_72_hour_limit": [
            {"request_id": k, "hours": v}
            for k, v in hours.items() if statutory.without_order_warning(v)
        ],
        "over_72_hour_limit": [
            {"request_id": k, "hours": v}
            for k, v in hours.items() if statutory.without_order_breach(v)
        ],
        "stale_homes": [{"provider_id": k, "hours": v} for k, v in stale.items()
                        if v > settings.stale_hours],
        "without_eligible_unit": _without_eligible_unit(
            session, units, [r.id for r in open_requests], settings, now
        ),
        **_panels_in_question(session),
    }  # fmt: skip
    measures = {
        "open_welfare_requests": Measure(len(welfare), dict.fromkeys(welfare, 1.0)),
        "free_welfare_beds": Measure(welfare_beds, {}),
        "longest_wait_days": Measure(max(waits.values(), default=None), waits),
        "hours_without_order": Measure(max(hours.values(), default=None), hours),
        "stale_availability_hours": Measure(max(stale.values(), default=None), stale),
    }
    return snapshot, measures


# The live welfare requests of each child (authority, case reference).
LIVE_WELFARE_CHILDREN = (
    select(PlacementRequest.id, PlacementRequest.authority_id, PlacementRequest.case_reference)
    .where(PlacementRequest.status.in_(LIVE_STATUSES), PlacementRequest.legal_basis == "welfare")
    .order_by(PlacementRequest.created_at, PlacementRequest.id)
)


def _hours_without_order(session: Session, now: datetime) -> dict[str, float]:
    """Hours each welfare child has spent in secure accommodation with no order in force (28 days),
    by live request.

    An expired order counts as none, so a placed child whose order ran out shows here too.
    """
    welfare = session.connection().execute(LIVE_WELFARE_CHILDREN).all()
    clocks = orders.child_hours_without_order(
        session, [(authority_id, case) for _, authority_id, case in welfare], now=now
    )
    hours = {}
    for request_id, authority_id, case_reference in welfare:
        found = clocks.get((authority_id, case_reference), 0.0)
        if found > 0:
            hours[request_id] = found
    return hours


def _stale_homes(rows: Any, now: datetime) -> dict[str, float]:
    """Hours since each active home's oldest unit was updated."""
    oldest: dict[str, datetime] = {}
    for row in rows:
        if row.provider_status == "active":
            seen = oldest.get(row.provider_id)
            oldest[row.provider_id] = min(seen, row.updated_at) if seen else row.updated_at
    return {k: round((now - v).total_seconds() / 3600, 2) for k, v in sorted(oldest.items())}


NO_ANSWERS = History(Tally(), {}, {})


def _without_eligible_unit(session: Session, units: list[solver.Unit], request_ids: list[str],
                           settings: Settings, now: datetime) -> list[str]:  # fmt: skip
    """Open requests that no unit of the estate can take at all right now."""
    if not request_ids:
        return []
    requests = matching_facts(session, FACTS_BY_ID, ids=request_ids)
    # Eligibility is the hard rules alone: no acceptance history is needed.
    children = [child_of(r, NO_ANSWERS, (), now=now) for r in requests]
    matched = problem(units, children, settings)
    return list(solver.without_option(matched))


# Review panels with their members, one row per member (none for a panel without members).
REVIEW_PANEL_MEMBERS = (
    select(Panel.id, Panel.authority_id, PanelMember.name, PanelMember.email, PanelMember.role,
           PanelMember.independent)
    .outerjoin(PanelMember, PanelMember.panel_id == Panel.id)
    .where(Panel.kind == "review")
    .order_by(Panel.id, PanelMember.id)
)  # fmt: skip
WELFARE_PLACING_AUTHORITIES = (
    select(Placement.authority_id)
    .where(Placement.status == "active", Placement.legal_basis == "welfare")
    .distinct()
)


def _panels_in_question(session: Session) -> dict[str, Any]:
    """Review panels that cannot lawfully sit, and authorities placing children with none."""
    connection = session.connection()
    panels: dict[str, tuple[str | None, list[MemberSpec]]] = {}
    for panel_id, authority_id, name, email, role, independent in connection.execute(
        REVIEW_PANEL_MEMBERS
    ):
        members = panels.setdefault(panel_id, (authority_id, []))[1]
        if email is not None:
            members.append(MemberSpec(name, email, role, independent))
    unable = [
        {"panel_id": panel_id, "authority_id": authority_id, "reasons": problems}
        for panel_id, (authority_id, members) in panels.items()
        if (problems := sitting_problems("review", members))
    ]
    placing = set(connection.execute(WELFARE_PLACING_AUTHORITIES).scalars())
    covered = {authority_id for authority_id, _ in panels.values()}
    return {
        "review_panels_unable_to_sit": unable,
        "authorities_without_review_panel": sorted(placing - covered),
    }


def breaches_of(measures: dict[str, Measure],
                rules: dict[str, thresholds.RuleSetting]) -> list[Breach]:  # fmt: skip
    """Every rule in breach, with the requests or homes concerned."""
    found = []
    for name, setting in rules.items():
        measured = measures[name]
        level = thresholds.level_of(setting, measured.value)
        if level is None or measured.value is None:
            continue
        bound = getattr(setting, level)
        # A request (or home) is concerned when it reaches the rule's lowest level on its own.
        lowest = setting.amber if setting.amber is not None else bound
        concerned = (
            sorted(measured.items)
            if name == "open_welfare_requests"
            else sorted(k for k, v in measured.items.items()
                        if thresholds.breaches(setting.comparison, v, lowest))
        )  # fmt: skip
        found.append(Breach(name, setting.description, level, measured.value, bound, concerned))
    return found


def check(sessions: Sessions, settings: Settings, *, now: datetime) -> DemandCheck:
    """Measure demand; open an episode (and call one meeting), raise it to red, or close it."""
    with sessions.begin() as session:
        snapshot, measures = measure(session, settings, now=now)
        breaches = breaches_of(measures, thresholds.current(session))
        level = max((b.level for b in breaches), key=LEVEL_ORDER.__getitem__, default=None)
        episode = _open_episode(session)
        if level is None:
            closed = episode is not None and _close(session, episode, snapshot, now)
            return DemandCheck(snapshot, [], None, episode.id if episode else None,
                               "closed" if closed else "clear", None)  # fmt: skip
        if episode is None:
            opened = _open(session, level, breaches, snapshot, settings, now)
            if opened is not None:
                return DemandCheck(snapshot, breaches, level, *opened)
            episode = _open_episode(session)  # another check opened it just now
            assert episode is not None
        return _continue(session, episode, level, breaches, snapshot, settings, now)


def _open_episode(session: Session) -> EscalationEpisode | None:
    return session.scalars(
        select(EscalationEpisode)
        .where(EscalationEpisode.open_key == NATIONAL)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _rules(breaches: list[Breach]) -> list[dict[str, Any]]:
    return [asdict(b) for b in breaches]


def _concerned_requests(breaches: list[Breach]) -> list[str]:
    homes = {"stale_availability_hours"}
    return sorted({r for b in breaches if b.rule not in homes for r in b.concerned})


def _agenda(episode_id: str, level: str, breaches: list[Breach],
            snapshot: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "episode_id": episode_id,
        "level": level,
        "rules": _rules(breaches),
        "request_ids": _concerned_requests(breaches),
        "snapshot": snapshot,
    }


def escalation_panel(session: Session) -> Panel | None:
    """The panel escalation meetings go to: the national one, or else any escalation panel."""
    return session.scalars(
        select(Panel)
        .where(Panel.kind == "escalation")
        .order_by(Panel.region.is_not(None), Panel.id)
    ).first()


def _open(session: Session, level: str, breaches: list[Breach], snapshot: dict[str, Any],
          settings: Settings, now: datetime) -> tuple[str, str, str | None] | None:  # fmt: skip
    """Open an episode and call its meeting; None when another check holds the open key."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    episode_id = session.execute(
        insert(EscalationEpisode)
        .values(id=new_id("EPI"), scope=NATIONAL, open_key=NATIONAL, level=level,
                rules=_rules(breaches), snapshot=snapshot, opened_at=now, last_checked_at=now)
        .on_conflict_do_nothing()
        .returning(EscalationEpisode.id)
    ).scalar_one_or_none()  # fmt: skip
    if episode_id is None:
        return None
    panel = escalation_panel(session)
    audit.record(session, SYSTEM, "episode.open", "escalation_episode", episode_id, at=now,
                 after={"level": level, "rules": [b.rule for b in breaches]},
                 note=None if panel else "no escalation panel to call")  # fmt: skip
    if panel is None:
        return episode_id, "opened", None
    red = level == "red"
    scheduled = meetings.soon(now) if red else meetings.next_working_day_meeting(now)
    meeting = meetings.call(
        session,
        meetings.MeetingCall(
            call_key=f"episode:{episode_id}", kind="escalation", panel_id=panel.id,
            scheduled_for=scheduled, due_by=now + RED_DEADLINE if red else scheduled,
            agenda=_agenda(episode_id, level, breaches, snapshot),
            request_ids=tuple(_concerned_requests(breaches)), priority=level,
            episode_id=episode_id,
        ),
        settings=settings, now=now,
    )  # fmt: skip
    return episode_id, "opened", meeting.id if meeting else None


def _continue(
    session: Session,
    episode: EscalationEpisode,
    level: str,
    breaches: list[Breach],
    snapshot: dict[str, Any],
    settings: Settings,
    now: datetime,
) -> DemandCheck:
    """Keep the episode; a rise from amber to red updates its meeting and notifies again."""
    episode.rules, episode.snapshot, episode.last_checked_at = _rules(breaches), snapshot, now
    meeting_id = session.scalars(
        select(Meeting.id).where(Meeting.call_key == f"episode:{episode.id}")
    ).one_or_none()
    raised = level == "red" and session.execute(
        update(EscalationEpisode)
        .where(EscalationEpisode.id == episode.id, EscalationEpisode.level == "amber")
        .values(level="red")
        .returning(EscalationEpisode.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none() is not None  # fmt: skip
    if not raised:
        return DemandCheck(snapshot, breaches, level, episode.id, "continued", meeting_id)
    audit.record(session, SYSTEM, "episode.raise", "escalation_episode", episode.id, at=now,
                 before={"level": "amber"}, after={"level": "red"})  # fmt: skip
    if meeting_id is not None:
        current = session.get(Meeting, meeting_id)
        assert current is not None
        meetings.change(
            session, SYSTEM, meeting_id, "meeting.updated",
            when=[Meeting.priority == "amber", Meeting.status.in_(meetings.OPEN_STATUSES)],
            values={
                "priority": "red",
                "scheduled_for": min(current.scheduled_for, meetings.soon(now)),
                "due_by": now + RED_DEADLINE,
                "agenda": _agenda(episode.id, "red", breaches, snapshot),
                "request_ids": _concerned_requests(breaches),
            },
            settings=settings, now=now,
        )  # fmt: skip
    return DemandCheck(snapshot, breaches, "red", episode.id, "raised", meeting_id)


def _close(session: Session, episode: EscalationEpisode, snapshot: dict[str, Any],
           now: datetime) -> bool:  # fmt: skip
    """Close the episode after a check with every rule clear; a later breach opens a new one."""
    closed = session.execute(
        update(EscalationEpisode)
        .where(EscalationEpisode.id == episode.id, EscalationEpisode.open_key.is_not(None))
        .values(open_key=None, closed_at=now, last_checked_at=now, snapshot=snapshot, rules=[])
        .returning(EscalationEpisode.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if closed is not None:
        audit.record(session, SYSTEM, "episode.close", "escalation_episode", episode.id, at=now)
    return closed is not None
