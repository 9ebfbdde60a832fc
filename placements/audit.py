"""The audit log: every change, and every read of a child's request outside its authority."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from placements.auth import Actor
from placements.db import Sessions
from placements.models import AuditEvent


@dataclass(frozen=True)
class AuditView:
    """One audit event as the API shows it."""

    id: int
    at: datetime
    actor_label: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    note: str | None


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to list."""

    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 50


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    *,
    at: datetime,
    before: Any = None,
    after: Any = None,
    note: str | None = None,
) -> None:
    """Add an audit event to the caller's transaction."""
    add(session, event(actor, action, object_type, object_id, at=at, before=before, after=after,
                       note=note))  # fmt: skip


def add(session: Session, row: dict[str, Any]) -> None:
    """Add an audit event (a row of `event`) to the caller's transaction, written at its flush."""
    session.add(AuditEvent(**row))


def event(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    *,
    at: datetime,
    before: Any = None,
    after: Any = None,
    note: str | None = None,
) -> dict[str, Any]:
    """An audit event as a row, for `record_all`."""
    return {"at": at, "actor_label": actor.label, "actor_role": actor.role, "action": action,
            "object_type": object_type, "object_id": object_id, "before": before, "after": after,
            "note": note}  # fmt: skip


def record_all(session: Session, events: list[dict[str, Any]]) -> None:
    """Write several audit events (rows of `event`) in the caller's transaction, at once."""
    if events:
        session.connection().execute(insert(AuditEvent), events)


def list_events(sessions: Sessions, actor: Actor, query: AuditFilter) -> list[AuditView]:
    """List audit events, newest first (admin only)."""
    actor.require("admin")
    statement = select(AuditEvent)
    if query.object_type:
        statement = statement.where(AuditEvent.object_type == query.object_type)
    if query.object_id:
        statement = statement.where(AuditEvent.object_id == query.object_id)
    if query.action:
        statement = statement.where(AuditEvent.action == query.action)
    if query.since:
        statement = statement.where(AuditEvent.at >= query.since)
    if query.until:
        statement = statement.where(AuditEvent.at < query.until)
    statement = (
        statement.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    with sessions.read() as session:
        return [
            AuditView(
                e.id,
                e.at,
                e.actor_label,
                e.actor_role,
                e.action,
                e.object_type,
                e.object_id,
                e.before,
                e.after,
                e.note,
            )
            for e in session.scalars(statement)
        ]
