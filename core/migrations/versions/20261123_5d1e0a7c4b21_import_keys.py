"""import keys: which record each imported external id became

Revision ID: 5d1e0a7c4b21
Revises: 663b0e20899c
Create Date: 2026-11-23 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accord.api

revision: str = "5d1e0a7c4b21"
down_revision: str | Sequence[str] | None = "663b0e20899c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_import_key",
        sa.Column("importer", sa.String(length=80), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("record_id", sa.String(length=120), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("imported_at", accord.api.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("importer", "external_id", name=op.f("pk_core_import_key")),
    )


def downgrade() -> None:
    op.drop_table("core_import_key")
