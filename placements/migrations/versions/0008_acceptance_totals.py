"""each provider's answers in all, kept as they are given

A ranking reads every home's total beside the tallies of its own kind of request; summing the
tallies for it on every read grew with the kinds of request answered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: the table, filled from the tallies."""
    op.create_table(
        "acceptance_total",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("declined", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "accepted >= 0 AND declined >= 0", name=op.f("ck_acceptance_total_counts")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_acceptance_total_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_acceptance_total")),
    )
    op.execute(
        "INSERT INTO acceptance_total (provider_id, accepted, declined)"
        " SELECT provider_id, SUM(accepted), SUM(declined) FROM acceptance_tally"
        " GROUP BY provider_id"
    )


def downgrade() -> None:
    """Revert this revision: drop the table."""
    op.drop_table("acceptance_total")
