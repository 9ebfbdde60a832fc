"""requests, offers, placements, matching runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:32:16.421216
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import placements.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "matching_run",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("placed", sa.Integer(), nullable=False),
        sa.Column("placed_bound", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("score_bound", sa.Integer(), nullable=False),
        sa.Column("solve_seconds", sa.Double(), nullable=False),
        sa.Column(
            "proposals",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "unplaced",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matching_run")),
    )
    op.create_table(
        "placement_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("authority_id", sa.String(length=64), nullable=False),
        sa.Column("case_reference", sa.String(length=64), nullable=False),
        sa.Column("age", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("legal_basis", sa.String(length=16), nullable=False),
        sa.Column(
            "grounds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "needs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("under_13_approval", sa.String(length=200), nullable=True),
        sa.Column("home_lat", sa.Double(), nullable=False),
        sa.Column("home_lon", sa.Double(), nullable=False),
        sa.Column("max_distance_km", sa.Double(), nullable=True),
        sa.Column(
            "exclusion_zones",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("order_kind", sa.String(length=16), nullable=False),
        sa.Column("order_renewal", sa.Boolean(), nullable=False),
        sa.Column("order_granted_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("order_expires_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("needed_by", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "declined_by",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "legal_basis IN ('welfare', 'remand', 'sentence')",
            name=op.f("ck_placement_request_legal_basis"),
        ),
        sa.CheckConstraint(
            "order_kind IN ('none', 'interim_order', 'full_order', 'remand')",
            name=op.f("ck_placement_request_order_kind"),
        ),
        sa.CheckConstraint("sex IN ('F', 'M')", name=op.f("ck_placement_request_sex")),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'reserved', 'placed', 'discharged', 'withdrawn')",
            name=op.f("ck_placement_request_status"),
        ),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["local_authority.id"],
            name=op.f("fk_placement_request_authority_id_local_authority"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement_request")),
    )
    with op.batch_alter_table("placement_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_placement_request_authority_id_status", ["authority_id", "status"], unique=False
        )
        batch_op.create_index("ix_placement_request_status", ["status"], unique=False)

    op.create_table(
        "idempotency_key",
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["placement_request.id"],
            name=op.f("fk_idempotency_key_request_id_placement_request"),
        ),
        sa.PrimaryKeyConstraint("actor_label", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_table(
        "offer",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.String(length=130), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("expires_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("decline_reason", sa.String(length=32), nullable=True),
        sa.Column("decline_note", sa.Text(), nullable=True),
        sa.Column("matching_run_id", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'declined', 'expired', 'cancelled')",
            name=op.f("ck_offer_status"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_offer_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["placement_request.id"],
            name=op.f("fk_offer_request_id_placement_request"),
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_offer_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
    )
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_offer_provider_id_status", ["provider_id", "status"], unique=False
        )
        batch_op.create_index("ix_offer_request_id", ["request_id"], unique=False)
        batch_op.create_index("ix_offer_status_expires_at", ["status", "expires_at"], unique=False)

    op.create_table(
        "placement",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.String(length=130), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("authority_id", sa.String(length=64), nullable=False),
        sa.Column("legal_basis", sa.String(length=16), nullable=False),
        sa.Column(
            "flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admitted_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("admitted_by", sa.String(length=200), nullable=False),
        sa.Column("discharged_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("destination", sa.String(length=200), nullable=True),
        sa.Column("next_review_due", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'discharged')", name=op.f("ck_placement_status")),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["local_authority.id"],
            name=op.f("fk_placement_authority_id_local_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_placement_provider_id_provider")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["placement_request.id"],
            name=op.f("fk_placement_request_id_placement_request"),
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_placement_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placement")),
        sa.UniqueConstraint("request_id", name=op.f("uq_placement_request_id")),
    )
    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.create_index("ix_placement_authority_id", ["authority_id"], unique=False)
        batch_op.create_index("ix_placement_unit_id_status", ["unit_id", "status"], unique=False)


def downgrade() -> None:
    """Revert this revision."""

    with op.batch_alter_table("placement", schema=None) as batch_op:
        batch_op.drop_index("ix_placement_unit_id_status")
        batch_op.drop_index("ix_placement_authority_id")

    op.drop_table("placement")
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_status_expires_at")
        batch_op.drop_index("ix_offer_request_id")
        batch_op.drop_index("ix_offer_provider_id_status")

    op.drop_table("offer")
    op.drop_table("idempotency_key")
    with op.batch_alter_table("placement_request", schema=None) as batch_op:
        batch_op.drop_index("ix_placement_request_status")
        batch_op.drop_index("ix_placement_request_authority_id_status")

    op.drop_table("placement_request")
    op.drop_table("matching_run")
