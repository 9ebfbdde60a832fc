"""people who sign in to the pages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 14:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import placements.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "service_secret",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_secret")),
    )
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempt")),
    )
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempt_client_at", ["client", "at"], unique=False)
        batch_op.create_index(
            "ix_sign_in_attempt_email_hash_at", ["email_hash", "at"], unique=False
        )

    op.create_table(
        "person",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("authority_id", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("panel_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'director', 'provider', 'panel')", name=op.f("ck_person_role")
        ),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["local_authority.id"],
            name=op.f("fk_person_authority_id_local_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_person_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("email", name=op.f("uq_person_email")),
    )
    op.create_table(
        "sign_in_link",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_sign_in_link_person_id_person")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sign_in_link")),
    )
    with op.batch_alter_table("sign_in_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_link_person_id"), ["person_id"], unique=False)

    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=40), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", placements.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", placements.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_web_session_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_session_last_seen_at"), ["last_seen_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_session_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("meeting_id", existing_type=sa.VARCHAR(length=32), nullable=True)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("meeting_id", existing_type=sa.VARCHAR(length=32), nullable=False)

    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_person_id"))
        batch_op.drop_index(batch_op.f("ix_web_session_last_seen_at"))

    op.drop_table("web_session")
    with op.batch_alter_table("sign_in_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_link_person_id"))

    op.drop_table("sign_in_link")
    op.drop_table("person")
    with op.batch_alter_table("sign_in_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempt_email_hash_at")
        batch_op.drop_index("ix_sign_in_attempt_client_at")

    op.drop_table("sign_in_attempt")
    op.drop_table("service_secret")
