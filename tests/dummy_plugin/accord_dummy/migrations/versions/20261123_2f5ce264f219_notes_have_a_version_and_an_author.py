"""notes have a version and an author

Revision ID: 2f5ce264f219
Revises: 266f0d055c0a
Create Date: 2026-11-23 11:04:38.796575

A note becomes a workflow record: ``version`` guards its transitions against concurrent
changes (existing notes start at 1), ``author_id`` names who wrote it, for the four-eyes
rule on publishing. ``state`` grows to the length of WorkflowMixin's column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2f5ce264f219"
down_revision: str | Sequence[str] | None = "266f0d055c0a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dummy_note", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.alter_column(
            "state",
            existing_type=sa.VARCHAR(length=20),
            type_=sa.String(length=40),
            existing_nullable=False,
        )
        batch_op.create_index(batch_op.f("ix_dummy_note_author_id"), ["author_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_dummy_note_author_id_core_user"),
            "core_user",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("dummy_note", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_dummy_note_author_id_core_user"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_dummy_note_author_id"))
        batch_op.alter_column(
            "state",
            existing_type=sa.String(length=40),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )
        batch_op.drop_column("version")
        batch_op.drop_column("author_id")
