"""The scheduled jobs: each a few lines calling a use case with the clock it is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from placements import demand, notifications, offers, reviews
from placements.config import Settings
from placements.db import Sessions
from placements.errors import NotFound

Job = Callable[[Sessions, Settings, datetime], str]


def demand_check(sessions: Sessions, settings: Settings, now: datetime) -> str:
    """Open, raise or close escalation episodes from the current demand."""
    result = demand.check(sessions, settings, now=now)
    return f"episode {result.episode} ({result.level or 'clear'}), meeting {result.meeting_id}"


def review_calls(sessions: Sessions, settings: Settings, now: datetime) -> str:
    """Call the statutory reviews coming due; flag overdue ones; cancel discharged ones."""
    result = reviews.call_reviews(sessions, settings, now=now)
    return (
        f"called {len(result.called)}, overdue {len(result.overdue)}, "
        f"cancelled {len(result.cancelled)}, without a panel {len(result.without_panel)}"
    )


def offer_expiry(sessions: Sessions, settings: Settings, now: datetime) -> str:
    """Expire pending offers past their deadline."""
    return f"expired {offers.expire_offers(sessions, now=now)}"


def notify(sessions: Sessions, settings: Settings, now: datetime) -> str:
    """Deliver due notifications by email and webhook."""
    result = notifications.deliver(sessions, settings, now=now)
    return (
        f"sent {result.sent}, retrying {result.retrying}, failed {result.failed}, "
        f"deferred {result.deferred}"
    )


JOBS: dict[str, Job] = {
    "demand-check": demand_check,
    "review-calls": review_calls,
    "offer-expiry": offer_expiry,
    "notify": notify,
}


def interval_seconds(name: str, settings: Settings) -> float:
    """How often the scheduler runs a job."""
    return float(getattr(settings, name.replace("-", "_") + "_seconds"))


def run(name: str, sessions: Sessions, settings: Settings, *, now: datetime) -> str:
    """Run one job once with the given clock."""
    job = JOBS.get(name)
    if job is None:
        raise NotFound(f"no job {name!r}; jobs are {', '.join(JOBS)}")
    return job(sessions, settings, now)
