"""court orders, offer releases and cancel reasons

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 08:56:07.300966
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import placements.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ORDER_KINDS = "order_kind IN ('none', 'interim_order', 'full_order', 'remand')"
NEW_ORDER_KINDS = "order_kind IN ('none', 'interim_order', 'full_order', 'remand', 'sentence')"
OLD_OFFER_STATUSES = "status IN ('pending', 'accepted', 'declined', 'expired', 'cancelled')"
NEW_OFFER_STATUSES = (
    "status IN ('pending', 'accepted', 'declined', 'expired', 'cancelled', 'released')"
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "court_order",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("granted_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("renewal", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "kind IN ('interim_order', 'full_order', 'remand', 'sentence')",
            name=op.f("ck_court_order_kind"),
        ),
        sa.CheckConstraint("expires_at > granted_at", name=op.f("ck_court_order_period")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["placement_request.id"],
            name=op.f("fk_court_order_request_id_placement_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_court_order")),
    )
    with op.batch_alter_table("court_order", schema=None) as batch_op:
        batch_op.create_index("ix_court_order_request_id", ["request_id"], unique=False)

    # Every order already held on a request becomes that request's first recorded order.
    op.execute(
        "INSERT INTO court_order (id, request_id, kind, granted_at, expires_at, renewal,"
        " recorded_at, recorded_by)"
        " SELECT 'ORD-' || id, id, order_kind, order_granted_at, order_expires_at, order_renewal,"
        " created_at, created_by FROM placement_request"
        " WHERE order_kind <> 'none' AND order_granted_at IS NOT NULL"
        " AND order_expires_at IS NOT NULL AND order_expires_at > order_granted_at"
    )

    with op.batch_alter_table("placement_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_placement_request_order_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_placement_request_order_kind"), sa.text(NEW_ORDER_KINDS)
        )

    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("cancel_detail", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("released_at", placements.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("released_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("release_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("release_note", sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f("ck_offer_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_offer_status"), sa.text(NEW_OFFER_STATUSES))


def downgrade() -> None:
    """Revert this revision (released offers become cancelled, sentences lose their order)."""
    op.execute("UPDATE offer SET status = 'cancelled' WHERE status = 'released'")
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_offer_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_offer_status"), sa.text(OLD_OFFER_STATUSES))
        batch_op.drop_column("release_note")
        batch_op.drop_column("release_reason")
        batch_op.drop_column("released_by")
        batch_op.drop_column("released_at")
        batch_op.drop_column("cancel_detail")
        batch_op.drop_column("cancel_reason")

    op.execute(
        "UPDATE placement_request SET order_kind = 'none', order_granted_at = NULL,"
        " order_expires_at = NULL WHERE order_kind = 'sentence'"
    )
    with op.batch_alter_table("placement_request", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_placement_request_order_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_placement_request_order_kind"), sa.text(OLD_ORDER_KINDS)
        )

    with op.batch_alter_table("court_order", schema=None) as batch_op:
        batch_op.drop_index("ix_court_order_request_id")

    op.drop_table("court_order")
