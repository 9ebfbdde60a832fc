"""estate, availability, authorities, tokens, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-21 07:25:25.275849
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import placements.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=130), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_event_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "local_authority",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("nation", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "nation IN ('england', 'wales')", name=op.f("ck_local_authority_nation")
        ),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180",
            name=op.f("ck_local_authority_position"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_authority")),
    )
    op.create_table(
        "provider",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("town", sa.String(length=100), nullable=False),
        sa.Column("nation", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint("nation IN ('england', 'wales')", name=op.f("ck_provider_nation")),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'closed')", name=op.f("ck_provider_status")
        ),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name=op.f("ck_provider_position")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("authority_id", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("panel_id", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'director', 'provider', 'panel')", name=op.f("ck_api_token_role")
        ),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["local_authority.id"],
            name=op.f("fk_api_token_authority_id_local_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_api_token_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("label", name=op.f("uq_api_token_label")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "unit",
        sa.Column("id", sa.String(length=130), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("approved_beds", sa.Integer(), nullable=False),
        sa.Column("designation", sa.String(length=16), nullable=False),
        sa.Column(
            "sexes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("min_age", sa.Integer(), nullable=False),
        sa.Column("max_age", sa.Integer(), nullable=False),
        sa.Column(
            "specialisms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("staffed_beds", sa.Integer(), nullable=False),
        sa.Column("occupied_beds", sa.Integer(), nullable=False),
        sa.Column("reserved_beds", sa.Integer(), nullable=False),
        sa.Column("out_of_use_reason", sa.String(length=32), nullable=True),
        sa.Column(
            "resident_flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "designation IN ('welfare', 'justice', 'mixed')", name=op.f("ck_unit_designation")
        ),
        sa.CheckConstraint("min_age <= max_age", name=op.f("ck_unit_ages")),
        sa.CheckConstraint(
            "occupied_beds >= 0 AND reserved_beds >= 0"
            " AND occupied_beds + reserved_beds <= staffed_beds"
            " AND staffed_beds <= approved_beds",
            name=op.f("ck_unit_beds"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_unit_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
    )
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.create_index("ix_unit_provider_id", ["provider_id"], unique=False)

    op.create_table(
        "availability_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=130), nullable=False),
        sa.Column("at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("staffed_beds", sa.Integer(), nullable=False),
        sa.Column("occupied_beds", sa.Integer(), nullable=False),
        sa.Column("reserved_beds", sa.Integer(), nullable=False),
        sa.Column("out_of_use_reason", sa.String(length=32), nullable=True),
        sa.Column(
            "resident_flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_availability_change_unit_id_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_change")),
    )
    with op.batch_alter_table("availability_change", schema=None) as batch_op:
        batch_op.create_index("ix_availability_change_unit_id_at", ["unit_id", "at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""

    with op.batch_alter_table("availability_change", schema=None) as batch_op:
        batch_op.drop_index("ix_availability_change_unit_id_at")

    op.drop_table("availability_change")
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_provider_id")

    op.drop_table("unit")
    op.drop_table("api_token")
    op.drop_table("provider")
    op.drop_table("local_authority")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_object")
        batch_op.drop_index("ix_audit_event_at")

    op.drop_table("audit_event")
