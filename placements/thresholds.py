"""Escalation thresholds: the demand rules, their amber and red levels, and who may change them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from placements import access, audit, statutory
from placements.auth import Actor
from placements.config import DEFAULT_STALE_HOURS
from placements.db import Sessions
from placements.errors import InvalidInput
from placements.models import ThresholdRule

LEVELS = ("amber", "red")
# DESIGN defaults for escalation (not law): open welfare requests above 25 (amber) or 37 (red), and
# any child waiting more than 14 days; the 48-hour mark and staleness come from their own modules.
OPEN_WELFARE_AMBER, OPEN_WELFARE_RED = 25, 37
LONG_WAIT_DAYS = 14


@dataclass(frozen=True)
class RuleSetting:
    """A demand rule: breached when the measure compares to a level as `comparison` says."""

    rule: str
    description: str
    comparison: str
    enabled: bool
    amber: float | None
    red: float | None


@dataclass(frozen=True)
class RuleChange:
    """An admin's new setting of one rule."""

    enabled: bool
    amber: float | None = None
    red: float | None = None


# The escalation defaults (docs/statutory.md lists them with the statutory clocks).
DEFAULTS = {
    r.rule: r
    for r in (
        RuleSetting("open_welfare_requests", "open welfare requests", "above", True,
                    OPEN_WELFARE_AMBER, OPEN_WELFARE_RED),
        RuleSetting("free_welfare_beds", "free beds for welfare children, nationally",
                    "at_or_below", True, None, 0),
        RuleSetting("longest_wait_days", "days the longest-waiting request has waited",
                    "above", True, LONG_WAIT_DAYS, None),
        RuleSetting("hours_without_order", "hours a child has spent without an order (of 72)",
                    "at_or_above", True, None, statutory.WITHOUT_ORDER_WARNING_HOURS),
        RuleSetting("stale_availability_hours", "hours since a home's availability was updated",
                    "above", True, DEFAULT_STALE_HOURS, None),
    )
}  # fmt: skip


def breaches(comparison: str, value: float, level: float) -> bool:
    """Whether the measured value breaches a level."""
    if comparison == "above":
        return value > level
    if comparison == "at_or_above":
        return value >= level
    return value <= level


def level_of(setting: RuleSetting, value: float | None) -> str | None:
    """The level a measured value reaches under a rule: red, amber or None."""
    if not setting.enabled or value is None:
        return None
    for level in ("red", "amber"):
        bound = getattr(setting, level)
        if bound is not None and breaches(setting.comparison, value, bound):
            return level
    return None


def current(session: Session) -> dict[str, RuleSetting]:
    """Every rule with the admin's setting or its default."""
    stored = {row.rule: row for row in session.scalars(select(ThresholdRule))}
    settings = {}
    for name, default in DEFAULTS.items():
        row = stored.get(name)
        settings[name] = (
            replace(default, enabled=row.enabled, amber=row.amber, red=row.red) if row else default
        )
    return settings


def list_rules(sessions: Sessions, actor: Actor) -> dict[str, RuleSetting]:
    """The escalation rules in force (admin, directors and panel members)."""
    access.require(actor, "thresholds.list")
    with sessions.read() as session:
        return current(session)


def _errors(name: str, change: RuleChange) -> list[str]:
    comparison = DEFAULTS[name].comparison
    if change.enabled and change.amber is None and change.red is None:
        return ["an enabled rule needs an amber or a red level"]
    if change.amber is not None and change.red is not None:
        ordered = (
            change.amber > change.red
            if comparison == "at_or_below"
            else (change.amber < change.red)
        )
        if not ordered:
            side = "above" if comparison == "at_or_below" else "below"
            return [f"the amber level must be {side} the red level"]
    return []


def change(sessions: Sessions, actor: Actor, changes: dict[str, RuleChange], *,
           now: datetime) -> dict[str, RuleSetting]:  # fmt: skip
    """Change the named rules (admin); rules not named keep their setting."""
    access.require(actor, "thresholds.change")
    unknown = sorted(set(changes) - set(DEFAULTS))
    errors = {name: ["no such rule"] for name in unknown}
    for name, wanted in changes.items():
        if name in DEFAULTS and (problems := _errors(name, wanted)):
            errors[name] = problems
    if errors:
        raise InvalidInput("invalid thresholds", errors=errors)
    with sessions.begin() as session:
        before = current(session)
        for name, wanted in changes.items():
            row = session.get(ThresholdRule, name) or ThresholdRule(rule=name)
            row.enabled, row.amber, row.red = wanted.enabled, wanted.amber, wanted.red
            row.updated_at, row.updated_by = now, actor.label
            session.add(row)
        session.flush()
        after = current(session)
        audit.record(session, actor, "thresholds.update", "thresholds", "escalation", at=now,
                     before={k: asdict(v) for k, v in before.items() if k in changes},
                     after={k: asdict(v) for k, v in after.items() if k in changes})  # fmt: skip
        return after
