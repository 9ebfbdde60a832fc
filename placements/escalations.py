"""Escalation as the coordinator reads it: the episodes so far, and demand measured now against
the thresholds (the same measures the demand check uses, read without writing anything)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from placements import access, demand, thresholds
from placements.auth import Actor
from placements.config import Settings
from placements.db import Sessions
from placements.models import EscalationEpisode
from placements.paging import Page, window


@dataclass(frozen=True)
class EpisodeView:
    """A spell of breached thresholds: its level, the rules breached when last checked, and when."""

    id: str
    scope: str
    level: str
    rules: list[dict[str, Any]]
    opened_at: datetime
    last_checked_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        """Whether the episode lasts (no check has found every rule clear since it opened)."""
        return self.closed_at is None


@dataclass(frozen=True)
class RuleNow:
    """A threshold rule, its setting and what it measures now."""

    rule: str
    description: str
    comparison: str
    enabled: bool
    amber: float | None
    red: float | None
    value: float | None
    level: str | None
    concerned: int


def list_episodes(sessions: Sessions, actor: Actor, *, page: int = 1,
                  page_size: int = 20) -> Page[EpisodeView]:  # fmt: skip
    """A page of escalation episodes, latest first (admin)."""
    access.require(actor, "escalations.list")
    statement = select(EscalationEpisode).order_by(
        EscalationEpisode.opened_at.desc(), EscalationEpisode.id
    )
    with sessions.read() as session:
        rows, total = window(session, statement, page=page, page_size=page_size)
        views = [
            EpisodeView(
                e.id, e.scope, e.level, list(e.rules), e.opened_at, e.last_checked_at, e.closed_at
            )
            for (e,) in rows
        ]
    return Page(views, total, page, page_size)


def demand_now(sessions: Sessions, actor: Actor, *, settings: Settings,
               now: datetime) -> list[RuleNow]:  # fmt: skip
    """Every threshold rule with the value it measures now and the level reached (admin)."""
    access.require(actor, "escalations.list")
    with sessions.read() as session:
        _, measures = demand.measure(session, settings, now=now)
        rules = thresholds.current(session)
    breached = {b.rule: b for b in demand.breaches_of(measures, rules)}
    return [
        RuleNow(
            rule=name,
            description=setting.description,
            comparison=setting.comparison,
            enabled=setting.enabled,
            amber=setting.amber,
            red=setting.red,
            value=measures[name].value,
            level=breached[name].level if name in breached else None,
            concerned=len(breached[name].concerned) if name in breached else 0,
        )
        for name, setting in rules.items()
    ]
