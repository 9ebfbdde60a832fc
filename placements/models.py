"""SQLAlchemy models: homes, units and their live bed counts, authorities, tokens, the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store in UTC; naive values are refused rather than guessed."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text parsed straight to an aware UTC datetime: one call a value
        instead of the parse and `process_result_value` in turn (the same values, in less time;
        timestamps are read by the hundred thousand in a simulated year)."""
        if dialect.name == "sqlite":
            return _utc_from_text
        return super().result_processor(dialect, coltype)


def _utc_from_text(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        # As SQLAlchemy writes it (no offset): parsed with UTC's offset, five times faster than
        # parsing and then `replace(tzinfo=UTC)`.
        fast = datetime.fromisoformat(value + "+00:00")
        if fast.tzinfo is not None:  # not so for a date alone: its "+" reads as the separator
            return fast
    except ValueError:  # written with an offset of its own
        pass
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so that migrations can name constraints."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Provider(Base):
    """A secure children's home."""

    __tablename__ = "provider"
    __table_args__ = (
        CheckConstraint("nation IN ('england', 'wales')", name="nation"),
        CheckConstraint("status IN ('active', 'paused', 'closed')", name="status"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="position"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(200))
    town: Mapped[str] = mapped_column(String(100))
    nation: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float]
    lon: Mapped[float]
    status: Mapped[str] = mapped_column(String(16))
    units: Mapped[list[Unit]] = relationship(
        back_populates="provider", order_by="Unit.id", cascade="all, delete-orphan"
    )


class Unit(Base):
    """A unit of a home with its live bed counts; `version` is the ETag of the availability."""

    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint(
            "occupied_beds >= 0 AND reserved_beds >= 0"
            " AND occupied_beds + reserved_beds <= staffed_beds"
            " AND staffed_beds <= approved_beds",
            name="beds",
        ),
        CheckConstraint("designation IN ('welfare', 'justice', 'mixed')", name="designation"),
        CheckConstraint("min_age <= max_age", name="ages"),
        Index("ix_unit_provider_id", "provider_id"),
    )

    id: Mapped[str] = mapped_column(String(130), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"))
    name: Mapped[str] = mapped_column(String(200))
    approved_beds: Mapped[int] = mapped_column(Integer)
    designation: Mapped[str] = mapped_column(String(16))
    sexes: Mapped[list[str]] = mapped_column(Json)
    min_age: Mapped[int]
    max_age: Mapped[int]
    specialisms: Mapped[list[str]] = mapped_column(Json)
    staffed_beds: Mapped[int]
    occupied_beds: Mapped[int]
    reserved_beds: Mapped[int] = mapped_column(default=0)
    out_of_use_reason: Mapped[str | None] = mapped_column(String(32))
    resident_flags: Mapped[dict[str, int]] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)
    provider: Mapped[Provider] = relationship(back_populates="units")


class AvailabilityChange(Base):
    """One entry of a unit's availability history: the counts after each change, and why."""

    __tablename__ = "availability_change"
    __table_args__ = (Index("ix_availability_change_unit_id_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(String(200))
    cause: Mapped[str] = mapped_column(String(64))
    staffed_beds: Mapped[int]
    occupied_beds: Mapped[int]
    reserved_beds: Mapped[int]
    out_of_use_reason: Mapped[str | None] = mapped_column(String(32))
    resident_flags: Mapped[dict[str, int]] = mapped_column(Json)
    version: Mapped[int]


class LocalAuthority(Base):
    """A placing local authority."""

    __tablename__ = "local_authority"
    __table_args__ = (
        CheckConstraint("nation IN ('england', 'wales')", name="nation"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="position"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    nation: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float]
    lon: Mapped[float]


class ApiToken(Base):
    """A bearer token: only its SHA-256 is kept; the role and scope say what it may do."""

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'director', 'provider', 'panel')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    authority_id: Mapped[str | None] = mapped_column(ForeignKey("local_authority.id"))
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("provider.id"))
    panel_id: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEvent(Base):
    """Who did or read what, when, with the object's state before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        Index("ix_audit_event_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_label: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(130))
    before: Mapped[Any | None] = mapped_column(Json)
    after: Mapped[Any | None] = mapped_column(Json)
    note: Mapped[str | None] = mapped_column(Text)


class PlacementRequest(Base):
    """A director's request to place a child: the authority's case reference and matching facts."""

    __tablename__ = "placement_request"
    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting', 'offered', 'reserved', 'placed', 'discharged', 'withdrawn')",
            name="status",
        ),
        CheckConstraint("legal_basis IN ('welfare', 'remand', 'sentence')", name="legal_basis"),
        CheckConstraint("sex IN ('F', 'M')", name="sex"),
        CheckConstraint(
            "order_kind IN ('none', 'interim_order', 'full_order', 'remand', 'sentence')",
            name="order_kind",
        ),
        Index("ix_placement_request_authority_id_status", "authority_id", "status"),
        Index("ix_placement_request_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    authority_id: Mapped[str] = mapped_column(ForeignKey("local_authority.id"))
    case_reference: Mapped[str] = mapped_column(String(64))
    age: Mapped[int]
    sex: Mapped[str] = mapped_column(String(1))
    legal_basis: Mapped[str] = mapped_column(String(16))
    grounds: Mapped[list[str]] = mapped_column(Json)
    needs: Mapped[list[str]] = mapped_column(Json)
    flags: Mapped[list[str]] = mapped_column(Json)
    under_13_approval: Mapped[str | None] = mapped_column(String(200))
    home_lat: Mapped[float]
    home_lon: Mapped[float]
    max_distance_km: Mapped[float | None]
    exclusion_zones: Mapped[list[dict[str, float]]] = mapped_column(Json)
    order_kind: Mapped[str] = mapped_column(String(16))
    order_renewal: Mapped[bool] = mapped_column(default=False)
    order_granted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    order_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    needed_by: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    declined_by: Mapped[list[str]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(default=1)


class IdempotencyKey(Base):
    """A client's Idempotency-Key for creating a request, kept 24 hours."""

    __tablename__ = "idempotency_key"

    actor_label: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(ForeignKey("placement_request.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Offer(Base):
    """A targeted offer of a child's placement to one unit, answered by its provider."""

    __tablename__ = "offer"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'expired', 'cancelled', 'released')",
            name="status",
        ),
        Index("ix_offer_request_id", "request_id"),
        Index("ix_offer_provider_id_status", "provider_id", "status"),
        Index("ix_offer_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("placement_request.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id"))
    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"))
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(200))
    decline_reason: Mapped[str | None] = mapped_column(String(32))
    decline_note: Mapped[str | None] = mapped_column(Text)
    matching_run_id: Mapped[str | None] = mapped_column(String(32))
    # Why the service cancelled it: withdrawn_by_placer, accepted_elsewhere, no_longer_eligible.
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    cancel_detail: Mapped[str | None] = mapped_column(Text)
    # A home's release of an offer it had accepted, before the child arrived.
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    released_by: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(String(32))
    release_note: Mapped[str | None] = mapped_column(Text)


class AcceptanceTally(Base):
    """A provider's answers to one kind of request, kept up to date with each answer so that a
    ranking reads a few rows rather than every offer ever answered (`placements.acceptance`)."""

    __tablename__ = "acceptance_tally"
    __table_args__ = (CheckConstraint("accepted >= 0 AND declined >= 0", name="counts"),)

    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"), primary_key=True)
    legal_basis: Mapped[str] = mapped_column(String(16), primary_key=True)
    sex: Mapped[str] = mapped_column(String(8), primary_key=True)
    age_band: Mapped[str] = mapped_column(String(8), primary_key=True)
    # The request's flags, sorted and joined by commas ("" for none).
    flags: Mapped[str] = mapped_column(String(400), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    declined: Mapped[int] = mapped_column(Integer, default=0)


class AcceptanceTotal(Base):
    """A provider's answers in all, kept with each answer beside its tally (`acceptance_tally`),
    so that a ranking reads every home's total without summing the tallies."""

    __tablename__ = "acceptance_total"
    __table_args__ = (CheckConstraint("accepted >= 0 AND declined >= 0", name="counts"),)

    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    declined: Mapped[int] = mapped_column(Integer, default=0)


class CourtOrder(Base):
    """A court's authority to keep a child in secure accommodation, recorded on a request."""

    __tablename__ = "court_order"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('interim_order', 'full_order', 'remand', 'sentence')", name="kind"
        ),
        CheckConstraint("expires_at > granted_at", name="period"),
        Index("ix_court_order_request_id", "request_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("placement_request.id"))
    kind: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    renewal: Mapped[bool] = mapped_column(default=False)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))


class Placement(Base):
    """A child admitted to a unit; the child's flags count as a resident's until discharge."""

    __tablename__ = "placement"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'discharged')", name="status"),
        Index("ix_placement_unit_id_status", "unit_id", "status"),
        Index("ix_placement_authority_id", "authority_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("placement_request.id"), unique=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("unit.id"))
    provider_id: Mapped[str] = mapped_column(ForeignKey("provider.id"))
    authority_id: Mapped[str] = mapped_column(ForeignKey("local_authority.id"))
    legal_basis: Mapped[str] = mapped_column(String(16))
    flags: Mapped[list[str]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    admitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    admitted_by: Mapped[str] = mapped_column(String(200))
    discharged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    destination: Mapped[str | None] = mapped_column(String(200))
    next_review_due: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MatchingRun(Base):
    """A batch match of every waiting request: proposals, and why others are unplaced."""

    __tablename__ = "matching_run"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    placed: Mapped[int]
    placed_bound: Mapped[int]
    score: Mapped[int]
    score_bound: Mapped[int]
    solve_seconds: Mapped[float]
    proposals: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    unplaced: Mapped[list[dict[str, Any]]] = mapped_column(Json)


class Panel(Base):
    """A panel that meets: an authority's statutory review panel or an escalation panel."""

    __tablename__ = "panel"
    __table_args__ = (
        CheckConstraint("kind IN ('review', 'escalation')", name="kind"),
        CheckConstraint(
            "(kind = 'review' AND authority_id IS NOT NULL)"
            " OR (kind = 'escalation' AND authority_id IS NULL)",
            name="authority",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    # One review panel per placing authority; escalation panels have none (NULLs are distinct).
    authority_id: Mapped[str | None] = mapped_column(ForeignKey("local_authority.id"), unique=True)
    region: Mapped[str | None] = mapped_column(String(100))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    members: Mapped[list[PanelMember]] = relationship(
        back_populates="panel", order_by="PanelMember.id", cascade="all, delete-orphan"
    )


class PanelMember(Base):
    """A member of a panel, reached by email; `independent` of the placing authority or not."""

    __tablename__ = "panel_member"
    __table_args__ = (
        CheckConstraint("role IN ('chair', 'member')", name="role"),
        UniqueConstraint("panel_id", "email", name="uq_panel_member_panel_id_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    panel_id: Mapped[str] = mapped_column(ForeignKey("panel.id"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    independent: Mapped[bool]
    panel: Mapped[Panel] = relationship(back_populates="members")


class ThresholdRule(Base):
    """An escalation rule's setting as changed by an admin; rules never changed use defaults."""

    __tablename__ = "threshold_rule"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool]
    amber: Mapped[float | None]
    red: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class EscalationEpisode(Base):
    """A spell of breached demand thresholds; `open_key` is set only while it lasts."""

    __tablename__ = "escalation_episode"
    __table_args__ = (
        CheckConstraint("level IN ('amber', 'red')", name="level"),
        Index("ix_escalation_episode_opened_at", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    # Unique while open, NULL once closed: the database allows one open episode per scope.
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    level: Mapped[str] = mapped_column(String(8))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    snapshot: Mapped[dict[str, Any]] = mapped_column(Json)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Meeting(Base):
    """A meeting the service called: a child's statutory review or an escalation meeting."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint("kind IN ('review', 'escalation')", name="kind"),
        CheckConstraint("status IN ('called', 'held', 'cancelled', 'overdue')", name="status"),
        CheckConstraint("priority IS NULL OR priority IN ('amber', 'red')", name="priority"),
        CheckConstraint(
            "recommendation IS NULL"
            " OR recommendation IN ('continue', 'end', 'alternative_accommodation')",
            name="recommendation",
        ),
        Index("ix_meeting_panel_id_status", "panel_id", "status"),
        Index("ix_meeting_placement_id", "placement_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # "episode:<id>" or "review:<placement id>:<due date>": a meeting is called once per key.
    call_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    panel_id: Mapped[str] = mapped_column(ForeignKey("panel.id"))
    episode_id: Mapped[str | None] = mapped_column(ForeignKey("escalation_episode.id"))
    placement_id: Mapped[str | None] = mapped_column(ForeignKey("placement.id"))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(8))
    due_by: Mapped[datetime | None] = mapped_column(UtcDateTime())
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime())
    request_ids: Mapped[list[str]] = mapped_column(Json)
    agenda: Mapped[dict[str, Any]] = mapped_column(Json)
    sequence: Mapped[int] = mapped_column(default=0)
    called_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    held_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attendees: Mapped[list[str] | None] = mapped_column(Json)
    recommendation: Mapped[str | None] = mapped_column(String(32))
    outcome_text: Mapped[str | None] = mapped_column(Text)
    outcome_by: Mapped[str | None] = mapped_column(String(200))


class MeetingAcknowledgement(Base):
    """A member's acknowledgement of a meeting call."""

    __tablename__ = "meeting_acknowledgement"

    meeting_id: Mapped[str] = mapped_column(ForeignKey("meeting.id"), primary_key=True)
    member_email: Mapped[str] = mapped_column(String(254), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class Notification(Base):
    """One message to one member on one channel, kept in the outbox until delivered or failed."""

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook')", name="channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        UniqueConstraint(
            "meeting_id",
            "sequence",
            "channel",
            "member_email",
            name="uq_notification_meeting_id_sequence_channel_member_email",
        ),
        Index("ix_notification_status_next_attempt_at", "status", "next_attempt_at"),
    )

    # Also the webhook id: stable across retries, so that receivers can drop duplicates.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # None for a message about no meeting (a sign-in link).
    meeting_id: Mapped[str | None] = mapped_column(ForeignKey("meeting.id"))
    sequence: Mapped[int]
    event: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    member_email: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(500))
    content: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(Base):
    """Who runs the scheduled jobs, until when (with an advisory lock beside it on PostgreSQL)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JobRun(Base):
    """The last successful run of each scheduled job, so that a new leader knows what is due."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Real (system) time, like the lease: when a job is due does not follow a fixed service clock.
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
    holder: Mapped[str] = mapped_column(String(200))
    result: Mapped[str] = mapped_column(String(500))


class Person(Base):
    """Someone who signs in to the pages: an email address, a role and its scope."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'director', 'provider', 'panel')", name="role"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    authority_id: Mapped[str | None] = mapped_column(ForeignKey("local_authority.id"))
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("provider.id"))
    panel_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SignInLink(Base):
    """A one-time sign-in link: only its SHA-256 is kept; good once, until it expires."""

    __tablename__ = "sign_in_link"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SignInAttempt(Base):
    """One request for a sign-in link, known address or not, counted for the rate limits."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_email_hash_at", "email_hash", "at"),
        Index("ix_sign_in_attempt_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebSession(Base):
    """A browser's session, kept on the server: the cookie holds a random key whose SHA-256 is
    this row's id; `data` holds what the pages keep between requests (the CSRF token)."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("person.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ServiceSecret(Base):
    """A random secret the service made for itself once (the key that signs CSRF tokens), shared
    by every worker and host on the database."""

    __tablename__ = "service_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
