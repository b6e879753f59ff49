"""security version: raised by the database with every change to users, roles and teams

A process may keep the principals it built until the version changes.

Revision ID: 8688cccb6abf
Revises: 5d1e0a7c4b21
Create Date: 2026-11-23 16:30:00.000000

The triggers are the point: they raise the counter in the transaction of the change, whatever
wrote it. On SQLite a later migration that rebuilds one of these tables (a batch "move and
copy") drops its triggers with it and must create them again; tests/ui/test_principal_cache.py
fails if one is missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8688cccb6abf"
down_revision: str | Sequence[str] | None = "5d1e0a7c4b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = "UPDATE core_security_version SET version = version + 1"
FUNCTION = "core_security_version_bump"
# What a principal is made of: the user's login, password, being active and team; their
# role grants; the roles; the team tree. A sign-in's last_login_at and a new e-mail address
# change no principal, so they leave the counter alone.
WATCHED = {
    "core_user": "UPDATE OF login, password_hash, active, team_id",
    "core_user_role": "UPDATE",
    "core_role": "UPDATE",
    "core_team": "UPDATE",
}


def upgrade() -> None:
    table = op.create_table(
        "core_security_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_security_version")),
    )
    op.bulk_insert(table, [{"id": 1, "version": 1}])
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for name, update in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER {name}_security AFTER INSERT OR DELETE OR {update} ON {name} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )
            op.execute(
                f"CREATE TRIGGER {name}_security_truncate AFTER TRUNCATE ON {name} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )
        return
    for name, update in WATCHED.items():
        for event in ("INSERT", "DELETE", update):
            trigger = f"{name}_security_{event.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {trigger} AFTER {event} ON {name} BEGIN {BUMP}; END")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name in WATCHED:
            op.execute(f"DROP TRIGGER {name}_security ON {name}")
            op.execute(f"DROP TRIGGER {name}_security_truncate ON {name}")
        op.execute(f"DROP FUNCTION {FUNCTION}()")
    else:
        for name in WATCHED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {name}_security_{event}")
    op.drop_table("core_security_version")
