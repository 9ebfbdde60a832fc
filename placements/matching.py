"""Matching on the live state: one request's ranked options, and batch runs over all waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

import solver
from placements import audit
from placements.acceptance import load_history
from placements.auth import Actor
from placements.config import Settings
from placements.db import Sessions
from placements.errors import NotFound, PlacementsError
from placements.ids import new_id
from placements.live import child_of, live_units, problem, rank_request
from placements.models import MatchingRun, PlacementRequest, Unit
from placements.offers import OfferChoice, OfferView, create_offers
from placements.requests import audit_read, load_request


@dataclass(frozen=True)
class OptionsView:
    """A request's ranked options and excluded units, with unit and home names."""

    request_id: str
    options: list[dict[str, Any]]
    excluded: list[dict[str, Any]]


def _named(unit: Unit | None, item: dict[str, Any]) -> dict[str, Any]:
    if unit is None:
        return item
    return {**item, "unit_name": unit.name, "provider_name": unit.provider.name}


def options(sessions: Sessions, actor: Actor, request_id: str, *, settings: Settings,
            now: datetime) -> OptionsView:  # fmt: skip
    """Rank every unit for a request on the live state."""
    with sessions.begin() as session:
        request = load_request(session, actor, request_id)
        audit_read(session, actor, request, now)
        rows, ranking = rank_request(session, request, settings, now)
        ranked = solver.ranking_to_dict(ranking)
        return OptionsView(
            request_id,
            [_named(rows.get(o["unit_id"]), o) for o in ranked["options"]],
            [_named(rows.get(e["unit_id"]), e) for e in ranked["excluded"]],
        )


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


def run_batch(sessions: Sessions, actor: Actor, *, settings: Settings, now: datetime,
              time_limit_s: float = 2.0) -> RunView:  # fmt: skip
    """Match every waiting request to free beds at once; propose, never place."""
    actor.require("admin")
    with sessions.begin() as session:
        rows, units = live_units(session)
        history = load_history(session)
        providers = sorted({u.provider_id for u in units})
        waiting = session.scalars(
            select(PlacementRequest)
            .where(PlacementRequest.status == "waiting")
            .order_by(PlacementRequest.created_at, PlacementRequest.id)
        ).all()
        children = [child_of(r, history, providers, now=now) for r in waiting]
        solution = solver.match(
            problem(units, children, settings), time_limit_s=time_limit_s, workers=2
        )
        names = {u.id: u for u in rows}
        result = solver.solution_to_dict(solution)
        run = MatchingRun(
            id=new_id("RUN"), created_at=now, created_by=actor.label, status=solution.status,
            placed=solution.placed, placed_bound=solution.placed_bound, score=solution.score,
            score_bound=solution.score_bound, solve_seconds=solution.solve_seconds,
            proposals=[_named(names.get(a["unit_id"]), a) for a in result["assignments"]],
            unplaced=list(result["unplaced"]),
        )  # fmt: skip
        session.add(run)
        audit.record(session, actor, "matching.run", "matching_run", run.id, at=now,
                     after={"placed": run.placed, "waiting": len(children)})  # fmt: skip
        return _run_view(run)


def get_run(sessions: Sessions, actor: Actor, run_id: str) -> RunView:
    """A batch matching run (admin)."""
    actor.require("admin")
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
    sent: list[OfferView] = []
    skipped: list[dict[str, Any]] = []
    for proposal in run.proposals:
        choice = OfferChoice(unit_ids=(proposal["unit_id"],))
        try:
            sent += create_offers(sessions, actor, proposal["child_id"], choice,
                                  settings=settings, now=now, run_id=run_id)  # fmt: skip
        except PlacementsError as refused:
            reasons = refused.errors or {"request": [refused.message]}
            skipped.append({"child_id": proposal["child_id"], "unit_id": proposal["unit_id"],
                            "reasons": reasons})  # fmt: skip
    return RunOffers(sent, skipped)
