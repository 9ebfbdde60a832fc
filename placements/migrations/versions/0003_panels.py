"""panels meetings notifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:34:52.761177
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import placements.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "escalation_episode",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column(
            "rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("opened_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("level IN ('amber', 'red')", name=op.f("ck_escalation_episode_level")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_episode")),
        sa.UniqueConstraint("open_key", name=op.f("uq_escalation_episode_open_key")),
    )
    with op.batch_alter_table("escalation_episode", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_episode_opened_at", ["opened_at"], unique=False)

    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    op.create_table(
        "threshold_rule",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("amber", sa.Double(), nullable=True),
        sa.Column("red", sa.Double(), nullable=True),
        sa.Column("updated_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("rule", name=op.f("pk_threshold_rule")),
    )
    op.create_table(
        "panel",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("authority_id", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("webhook_secret", sa.String(length=200), nullable=True),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'review' AND authority_id IS NOT NULL)"
            " OR (kind = 'escalation' AND authority_id IS NULL)",
            name=op.f("ck_panel_authority"),
        ),
        sa.CheckConstraint("kind IN ('review', 'escalation')", name=op.f("ck_panel_kind")),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["local_authority.id"],
            name=op.f("fk_panel_authority_id_local_authority"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel")),
        sa.UniqueConstraint("authority_id", name=op.f("uq_panel_authority_id")),
    )
    op.create_table(
        "panel_member",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("panel_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("independent", sa.Boolean(), nullable=False),
        sa.CheckConstraint("role IN ('chair', 'member')", name=op.f("ck_panel_member_role")),
        sa.ForeignKeyConstraint(
            ["panel_id"], ["panel.id"], name=op.f("fk_panel_member_panel_id_panel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_member")),
        sa.UniqueConstraint("panel_id", "email", name="uq_panel_member_panel_id_email"),
    )
    op.create_table(
        "meeting",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("call_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("panel_id", sa.String(length=64), nullable=False),
        sa.Column("episode_id", sa.String(length=32), nullable=True),
        sa.Column("placement_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=True),
        sa.Column("due_by", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("scheduled_for", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "request_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "agenda",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("called_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("held_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column(
            "attendees",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("recommendation", sa.String(length=32), nullable=True),
        sa.Column("outcome_text", sa.Text(), nullable=True),
        sa.Column("outcome_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("kind IN ('review', 'escalation')", name=op.f("ck_meeting_kind")),
        sa.CheckConstraint(
            "priority IS NULL OR priority IN ('amber', 'red')", name=op.f("ck_meeting_priority")
        ),
        sa.CheckConstraint(
            "recommendation IS NULL"
            " OR recommendation IN ('continue', 'end', 'alternative_accommodation')",
            name=op.f("ck_meeting_recommendation"),
        ),
        sa.CheckConstraint(
            "status IN ('called', 'held', 'cancelled', 'overdue')", name=op.f("ck_meeting_status")
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["escalation_episode.id"],
            name=op.f("fk_meeting_episode_id_escalation_episode"),
        ),
        sa.ForeignKeyConstraint(["panel_id"], ["panel.id"], name=op.f("fk_meeting_panel_id_panel")),
        sa.ForeignKeyConstraint(
            ["placement_id"], ["placement.id"], name=op.f("fk_meeting_placement_id_placement")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("call_key", name=op.f("uq_meeting_call_key")),
    )
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_panel_id_status", ["panel_id", "status"], unique=False)
        batch_op.create_index("ix_meeting_placement_id", ["placement_id"], unique=False)

    op.create_table(
        "meeting_acknowledgement",
        sa.Column("meeting_id", sa.String(length=32), nullable=False),
        sa.Column("member_email", sa.String(length=254), nullable=False),
        sa.Column("at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_meeting_acknowledgement_meeting_id_meeting"),
        ),
        sa.PrimaryKeyConstraint(
            "meeting_id", "member_email", name=op.f("pk_meeting_acknowledgement")
        ),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("meeting_id", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("member_email", sa.String(length=254), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_notification_channel")),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_notification_status")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meeting.id"], name=op.f("fk_notification_meeting_id_meeting")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint(
            "meeting_id",
            "sequence",
            "channel",
            "member_email",
            name="uq_notification_meeting_id_sequence_channel_member_email",
        ),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_status_next_attempt_at")

    op.drop_table("notification")
    op.drop_table("meeting_acknowledgement")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_placement_id")
        batch_op.drop_index("ix_meeting_panel_id_status")

    op.drop_table("meeting")
    op.drop_table("panel_member")
    op.drop_table("panel")
    op.drop_table("threshold_rule")
    op.drop_table("scheduler_lease")
    with op.batch_alter_table("escalation_episode", schema=None) as batch_op:
        batch_op.drop_index("ix_escalation_episode_opened_at")

    op.drop_table("escalation_episode")
