"""an index on the kind of request of the acceptance tallies

A ranking reads the tallies of its requests' kinds of request across every home; the primary key
leads with the home, so without this index each such read scans the whole table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 02:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: the index."""
    op.create_index(
        "ix_acceptance_tally_kind",
        "acceptance_tally",
        ["legal_basis", "sex", "age_band", "flags"],
    )


def downgrade() -> None:
    """Revert this revision: drop the index."""
    op.drop_index("ix_acceptance_tally_kind", table_name="acceptance_tally")
