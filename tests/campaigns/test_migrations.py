"""The campaigns branch creates exactly what its models declare, after the leads branch."""

from __future__ import annotations


def test_models_and_migrations_agree(accord_db, accord_cli):
    result = accord_cli("db", "check")
    assert result.exit_code == 0, result.output
