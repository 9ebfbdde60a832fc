"""each provider's answers by kind of request, kept as they are given

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 23:20:00
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERED = ("accepted", "declined", "released")


def _band(age: int) -> str:
    return "10-12" if age <= 12 else "13-14" if age <= 14 else "15-17"


def upgrade() -> None:
    """Apply this revision: the table, filled from the answered offers."""
    tally = op.create_table(
        "acceptance_tally",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("legal_basis", sa.String(length=16), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("age_band", sa.String(length=8), nullable=False),
        sa.Column("flags", sa.String(length=400), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("declined", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "accepted >= 0 AND declined >= 0", name=op.f("ck_acceptance_tally_counts")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["provider.id"],
            name=op.f("fk_acceptance_tally_provider_id_provider"),
        ),
        sa.PrimaryKeyConstraint(
            "provider_id",
            "legal_basis",
            "sex",
            "age_band",
            "flags",
            name=op.f("pk_acceptance_tally"),
        ),
    )
    # The answers so far, counted as `placements.acceptance.recount` counts them (the flags are
    # JSON: each dialect's JSON type reads them back as lists).
    offer = sa.table(
        "offer", sa.column("request_id"), sa.column("provider_id"), sa.column("status")
    )
    request = sa.table(
        "placement_request",
        sa.column("id"),
        sa.column("legal_basis"),
        sa.column("sex"),
        sa.column("age"),
        sa.column("flags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    )
    counts: dict[tuple[str, str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = op.get_bind().execute(
        sa.select(
            offer.c.provider_id,
            request.c.legal_basis,
            request.c.sex,
            request.c.age,
            request.c.flags,
            offer.c.status,
        )
        .select_from(offer.join(request, request.c.id == offer.c.request_id))
        .where(offer.c.status.in_(ANSWERED))
    )
    for provider_id, basis, sex, age, flags, status in rows:
        key = (provider_id, basis, sex, _band(age), ",".join(sorted(set(flags))))
        counts[key][0 if status == "accepted" else 1] += 1
    if counts:
        op.bulk_insert(
            tally,
            [
                dict(
                    zip(
                        ("provider_id", "legal_basis", "sex", "age_band", "flags"), key, strict=True
                    )
                )
                | {"accepted": a, "declined": d}
                for key, (a, d) in sorted(counts.items())
            ],
        )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("acceptance_tally")
