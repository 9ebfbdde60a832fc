"""Settings of the service, read once from a mapping (the environment by default)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import solver

DEFAULT_DATABASE_URL = "sqlite:///var/placements.db"
# A home's availability not updated for this long is stale (and, by default, escalated).
DEFAULT_STALE_HOURS = 24.0
# How long an SQLite connection waits for the write lock before the request is refused (503).
DEFAULT_SQLITE_BUSY_TIMEOUT_S = 30.0
DEFAULT_INCOMPATIBLE_FLAGS: tuple[tuple[str, str], ...] = (("cse_victim", "sexual_harm_risk"),)


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the service, with the defaults of DESIGN.md."""

    database_url: str = DEFAULT_DATABASE_URL
    stale_hours: float = DEFAULT_STALE_HOURS
    offer_hours: float = 4.0
    incompatible_flags: tuple[tuple[str, str], ...] = field(default=DEFAULT_INCOMPATIBLE_FLAGS)
    smtp_url: str | None = None
    mail_from: str = "placements@example.org"
    # Where people reach the pages: sign-in links in emails start with it; https makes the session
    # cookie Secure.
    public_url: str = "http://127.0.0.1:8000"
    # Signs CSRF tokens; when unset, a random key the service keeps in its database.
    secret_key: str | None = None
    review_lead_days: int = 7
    scheduler_lease_seconds: float = 30.0
    demand_check_seconds: float = 300.0
    review_calls_seconds: float = 3600.0
    offer_expiry_seconds: float = 60.0
    notify_seconds: float = 30.0
    delivery_timeout_seconds: float = 10.0
    clock: str = "system"
    id_seed: int | None = None
    sqlite_busy_timeout_s: float = DEFAULT_SQLITE_BUSY_TIMEOUT_S
    matching_time_limit_s: float = 2.0
    # CP-SAT workers of a batch run; one makes a run repeatable (the simulation uses one).
    matching_workers: int = 2
    # The matcher's score weights (solver.Weights); a what-if simulation may change them.
    weights: solver.Weights = field(default_factory=solver.Weights)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Settings:
        """Build settings from `PLACEMENTS_*` keys, ignoring everything else."""
        pairs = values.get("PLACEMENTS_INCOMPATIBLE_FLAGS")
        return cls(
            database_url=values.get("PLACEMENTS_DATABASE_URL") or DEFAULT_DATABASE_URL,
            stale_hours=float(values.get("PLACEMENTS_STALE_HOURS") or DEFAULT_STALE_HOURS),
            offer_hours=float(values.get("PLACEMENTS_OFFER_HOURS") or 4.0),
            incompatible_flags=(
                tuple((str(a), str(b)) for a, b in json.loads(pairs))
                if pairs
                else DEFAULT_INCOMPATIBLE_FLAGS
            ),
            smtp_url=values.get("PLACEMENTS_SMTP_URL") or None,
            mail_from=values.get("PLACEMENTS_MAIL_FROM") or "placements@example.org",
            public_url=(values.get("PLACEMENTS_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            secret_key=values.get("PLACEMENTS_SECRET_KEY") or None,
            review_lead_days=int(values.get("PLACEMENTS_REVIEW_LEAD_DAYS") or 7),
            scheduler_lease_seconds=float(values.get("PLACEMENTS_SCHEDULER_LEASE_SECONDS") or 30),
            demand_check_seconds=float(values.get("PLACEMENTS_DEMAND_CHECK_SECONDS") or 300),
            review_calls_seconds=float(values.get("PLACEMENTS_REVIEW_CALLS_SECONDS") or 3600),
            offer_expiry_seconds=float(values.get("PLACEMENTS_OFFER_EXPIRY_SECONDS") or 60),
            notify_seconds=float(values.get("PLACEMENTS_NOTIFY_SECONDS") or 30),
            delivery_timeout_seconds=float(values.get("PLACEMENTS_DELIVERY_TIMEOUT_SECONDS") or 10),
            clock=values.get("PLACEMENTS_CLOCK") or "system",
            id_seed=int(seed) if (seed := values.get("PLACEMENTS_ID_SEED")) else None,
            sqlite_busy_timeout_s=float(
                values.get("PLACEMENTS_SQLITE_BUSY_TIMEOUT") or DEFAULT_SQLITE_BUSY_TIMEOUT_S
            ),
            matching_time_limit_s=float(values.get("PLACEMENTS_MATCHING_TIME_LIMIT") or 2.0),
        )

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from the process environment."""
        return cls.from_mapping(os.environ)
