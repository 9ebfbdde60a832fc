"""Matching on the live state: one request's ranked options, and batch runs over all waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

import solver
from placements import access, audit
from placements.acceptance import Segment, load_history, segment_of
from placements.auth import Actor
from placements.config import Settings
from placements.db import Sessions
from placements.errors import NotFound, PlacementsError
from placements.ids import new_id
from placements.live import (
    WAITING_FACTS,
    LiveState,
    Ranker,
    UnitName,
    child_of,
    live_units,
    matching_facts,
    problem,
    rank_request,
)
from placements.models import MatchingRun, PlacementRequest, Provider, Unit
from placements.offers import OfferChoice, OfferView, create_offers_many, offer_each


@dataclass(frozen=True)
class OptionsView:
    """A request's ranked options and excluded units, with unit and home names."""

    request_id: str
    options: list[dict[str, Any]]
    excluded: list[dict[str, Any]]


def _named(unit: UnitName | None, item: dict[str, Any]) -> dict[str, Any]:
    if unit is None:
        return item
    return {**item, "unit_name": unit.name, "provider_name": unit.provider_name}


def options(sessions: Sessions, actor: Actor, request_id: str, *, settings: Settings,
            now: datetime) -> OptionsView:  # fmt: skip
    """Rank every unit for a request on the live state (a read from outside is audited)."""
    access.require(actor, "requests.options")
    with sessions.read() as session:
        request = access.load_request(session, actor, request_id)
        rows, ranking = rank_request(session, request, settings, now)
    access.audit_read(sessions, actor, request, now)  # a short write of its own, if any
    ranked = solver.ranking_to_dict(ranking)
    return OptionsView(
        request_id,
        [_named(rows.get(o["unit_id"]), o) for o in ranked["options"]],
        [_named(rows.get(e["unit_id"]), e) for e in ranked["excluded"]],
    )


def waiting_with_options(sessions: Sessions, actor: Actor, *, settings: Settings,
                         now: datetime) -> list[str]:  # fmt: skip
    """The waiting requests that have at least one eligible unit now, oldest first.

    One read of the live state (a batch run's) ranks them all: a coordinator's question after a
    bed comes free, who could be offered it? Offering still goes through `offers.create_offers`.
    """
    access.require(actor, "matching.run")
    matched = _read_snapshot(sessions, settings, now).problem
    return [c.id for c in matched.children if solver.rank(matched, c.id, top=1).options]


@dataclass(frozen=True)
class RunView:
    """A batch matching run: proposals, unplaced requests with reasons, status and gap."""

    id: str
    created_at: datetime
    status: str
    placed: int
    placed_bound: int
    score: int
    score_bound: int
    gap: float
    solve_seconds: float
    proposals: list[dict[str, Any]]
    unplaced: list[dict[str, Any]]


def _run_view(run: MatchingRun) -> RunView:
    gap = 0.0 if run.score_bound <= 0 else round((run.score_bound - run.score) / run.score_bound, 6)
    return RunView(
        run.id, run.created_at, run.status, run.placed, run.placed_bound, run.score,
        run.score_bound, gap, run.solve_seconds, list(run.proposals), list(run.unplaced),
    )  # fmt: skip


@dataclass(frozen=True)
class _Snapshot:
    """What a batch run read: the matcher's problem and what each proposal depends on."""

    problem: solver.Problem
    request_versions: dict[str, datetime]
    unit_versions: dict[str, int]
    state: LiveState  # the units' names, the units, the history and the homes, as read
    kinds: set[Segment]


def run_batch(sessions: Sessions, actor: Actor, *, settings: Settings, now: datetime,
              time_limit_s: float | None = None) -> RunView:  # fmt: skip
    """Match every waiting request to free beds at once; propose, never place.

    The state is read in a read transaction and solved outside any transaction, so no writer
    waits on the solve; the run is then written in a short transaction that drops each proposal
    whose request or unit changed meanwhile (see `_still_valid`).
    """
    access.require(actor, "matching.run")
    snapshot, solution = _solve(sessions, settings, now, time_limit_s)
    with sessions.begin() as session:
        return _run_view(_record(session, actor, snapshot, solution, now))


@dataclass(frozen=True)
class RunAndOffers:
    """A batch run, the offers sent for its proposals and the proposals skipped, with why."""

    run: RunView
    offers: list[OfferView]
    skipped: list[dict[str, Any]]


def run_and_offer(sessions: Sessions, actor: Actor, *, settings: Settings, now: datetime,
                  time_limit_s: float | None = None) -> RunAndOffers:  # fmt: skip
    """`run_batch` then `offer_run` in one step: the run is recorded, and its proposals offered,
    in one transaction.

    A proposal kept by `_still_valid` is of a unit and a request unchanged since the run read
    them, so it is ranked on that read rather than read again; it is otherwise checked as
    `offer_run` checks it (the request still waiting, the unit still one of its options, not
    already offered to it).
    """
    access.require(actor, "matching.run")
    access.require(actor, "matching.offer_run")
    snapshot, solution = _solve(sessions, settings, now, time_limit_s)
    with sessions.begin() as session:
        run = _run_view(_record(session, actor, snapshot, solution, now))
        ranker = Ranker(session, settings, now, snapshot.state, snapshot.kinds)
        made = offer_each(session, actor, _choices(run), ranker, now=now, run_id=run.id)
        return RunAndOffers(run, *_sent(run, made))


def _solve(sessions: Sessions, settings: Settings, now: datetime,
           time_limit_s: float | None) -> tuple[_Snapshot, solver.Solution]:  # fmt: skip
    snapshot = _read_snapshot(sessions, settings, now)
    limit = settings.matching_time_limit_s if time_limit_s is None else time_limit_s
    solution = solver.match(snapshot.problem, time_limit_s=limit, workers=settings.matching_workers)
    return snapshot, solution


def _record(session: Session, actor: Actor, snapshot: _Snapshot, solution: solver.Solution,
            now: datetime) -> MatchingRun:  # fmt: skip
    """Write the run: the proposals still valid, the others as unplaced with why."""
    result = solver.solution_to_dict(solution)
    kept, dropped = _still_valid(session, snapshot, result["assignments"])
    row = {
        "id": new_id("RUN"), "created_at": now, "created_by": actor.label,
        "status": solution.status if not dropped else "feasible",
        "placed": len(kept), "placed_bound": solution.placed_bound,
        "score": solution.score - sum(d["score"] for d in dropped),
        "score_bound": solution.score_bound, "solve_seconds": solution.solve_seconds,
        "proposals": [_named(snapshot.state[0].get(a["unit_id"]), a) for a in kept],
        "unplaced": list(result["unplaced"]) + [_changed(d) for d in dropped],
    }  # fmt: skip
    # Written as a row, with its audit event: no object for the session to flush.
    session.connection().execute(insert(MatchingRun), [row])
    run = MatchingRun(**row)
    after = {"placed": run.placed, "waiting": len(snapshot.problem.children),
             "changed_during_run": len(dropped)}  # fmt: skip
    audit.record_all(session, [audit.event(actor, "matching.run", "matching_run", run.id, at=now,
                                           after=after)])  # fmt: skip
    return run


def _read_snapshot(sessions: Sessions, settings: Settings, now: datetime) -> _Snapshot:
    with sessions.read() as session:
        rows, units = live_units(session)
        providers = sorted({u.provider_id for u in units})
        waiting = matching_facts(session, WAITING_FACTS)
        kinds = {segment_of(r) for r in waiting}
        history = load_history(session, kinds)
        children = [child_of(r, history, providers, now=now) for r in waiting]
        names = {u.id: UnitName(u.name, u.provider_name) for u in rows}
        return _Snapshot(
            problem(units, children, settings),
            {r.id: r.updated_at for r in waiting},
            {u.id: u.version for u in rows},
            (names, units, history, providers),
            kinds,
        )


# What `_still_valid` compares: the requests still waiting, and the units of open homes.
WAITING_VERSIONS = select(PlacementRequest.id, PlacementRequest.updated_at).where(
    PlacementRequest.id.in_(bindparam("ids", expanding=True)), PlacementRequest.status == "waiting"
)
OPEN_UNIT_VERSIONS = (
    select(Unit.id, Unit.version)
    .join(Provider)
    .where(Unit.id.in_(bindparam("ids", expanding=True)), Provider.status != "closed")
)


def _still_valid(session: Session, snapshot: _Snapshot, assignments: list[dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """Split proposals into those still valid and those whose request or unit changed.

    A request changed if it is no longer waiting or was edited (`updated_at`); a unit changed if
    its version moved (every change of its counts, flags or reservations moves it) or its home
    closed. Proposals are only proposals: offering one re-checks the live state again.
    """
    if not assignments:
        return [], []
    connection = session.connection()
    ids = {"ids": [a["child_id"] for a in assignments]}
    requests_now = dict(connection.execute(WAITING_VERSIONS, ids).all())
    unit_ids = {"ids": sorted({a["unit_id"] for a in assignments})}
    units_now = dict(connection.execute(OPEN_UNIT_VERSIONS, unit_ids).all())
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for assignment in assignments:
        child, unit = assignment["child_id"], assignment["unit_id"]
        same_request = requests_now.get(child) == snapshot.request_versions.get(child)
        same_unit = units_now.get(unit) == snapshot.unit_versions.get(unit)
        if same_request and same_unit:
            kept.append(assignment)
        else:
            dropped.append({**assignment, "request": not same_request, "unit": not same_unit})
    return kept, dropped


def _changed(dropped: dict[str, Any]) -> dict[str, Any]:
    """A proposal dropped because its request or unit changed during the run, as unplaced."""
    changed = {"request": int(dropped["request"]), "unit": int(dropped["unit"])}
    return {
        "child_id": dropped["child_id"],
        "reasons": {"changed_during_run": changed},
        "proposed_unit_id": dropped["unit_id"],
    }


def get_run(sessions: Sessions, actor: Actor, run_id: str) -> RunView:
    """A batch matching run (admin)."""
    access.require(actor, "matching.get_run")
    with sessions.read() as session:
        run = session.get(MatchingRun, run_id)
        if run is None:
            raise NotFound(f"matching run {run_id!r} does not exist")
        return _run_view(run)


@dataclass(frozen=True)
class RunOffers:
    """Offers sent for a run's proposals, and the proposals no longer valid, with why."""

    offers: list[OfferView]
    skipped: list[dict[str, Any]]


def offer_run(sessions: Sessions, actor: Actor, run_id: str, *, settings: Settings,
              now: datetime) -> RunOffers:  # fmt: skip
    """Send an offer for each of a run's proposals that is still valid on the live state."""
    run = get_run(sessions, actor, run_id)
    made = create_offers_many(sessions, actor, _choices(run), settings=settings, now=now,
                              run_id=run_id)  # fmt: skip
    return RunOffers(*_sent(run, made))


def _choices(run: RunView) -> list[tuple[str, OfferChoice]]:
    """An offer of its proposed unit for each proposal's request."""
    return [(p["child_id"], OfferChoice(unit_ids=(p["unit_id"],))) for p in run.proposals]


def _sent(run: RunView, made: list[list[OfferView] | PlacementsError]
          ) -> tuple[list[OfferView], list[dict[str, Any]]]:  # fmt: skip
    """The offers sent for a run's proposals, and the proposals refused, with why."""
    sent: list[OfferView] = []
    skipped: list[dict[str, Any]] = []
    for proposal, result in zip(run.proposals, made, strict=True):
        if isinstance(result, PlacementsError):
            reasons = result.errors or {"request": [result.message]}
            skipped.append({"child_id": proposal["child_id"], "unit_id": proposal["unit_id"],
                            "reasons": reasons})  # fmt: skip
        else:
            sent += result
    return sent, skipped
