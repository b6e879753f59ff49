"""Per-plugin migrations: models and migrations agree, and each branch moves on its own."""

import pytest
from sqlalchemy import inspect

from accord.core.migrate import KERNEL


def test_kernel_models_and_migrations_agree(accord_db, accord_runtime):
    assert accord_runtime.migrator.differences(KERNEL) == []


def test_upgrade_reports_each_revision_and_current_shows_branches(accord_cli):
    result = accord_cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "core: upgrading to its newest revision" in result.output
    assert "database is up to date" in result.output
    current = accord_cli("db", "current")
    assert current.exit_code == 0, current.output
    assert "(newest)" in current.output.splitlines()[0]
    assert current.output.startswith("core: ")
    history = accord_cli("db", "history", "--plugin", "core")
    assert history.output.startswith("[x] core: ")


def test_current_before_any_upgrade_says_not_migrated(accord_cli):
    result = accord_cli("db", "current")
    assert result.exit_code == 0, result.output
    core, *plugins = result.output.strip().splitlines()
    assert core == "core: not migrated (enabled)"
    # The built-in plugins are installed but none is enabled in this configuration.
    assert all(line.endswith("not migrated (disabled)") for line in plugins), plugins


def test_kernel_downgrade_to_base_asks_and_drops_tables(accord_cli, accord_db):
    refused = accord_cli("db", "downgrade", "core", "base", input="n\n")
    assert refused.exit_code != 0
    assert "core_partner" in inspect(accord_db.engine).get_table_names()
    done = accord_cli("db", "downgrade", "core", "base", "--yes")
    assert done.exit_code == 0, done.output
    assert "core_partner" not in inspect(accord_db.engine).get_table_names()


def test_db_check_passes_when_migrations_match(accord_cli, accord_db):
    result = accord_cli("db", "check")
    assert result.exit_code == 0, result.output
    assert "models and migrations agree" in result.output


@pytest.mark.parametrize("url", ["postgresql://nobody@127.0.0.1:1/nowhere"])
def test_unreachable_database_is_one_line(url, tmp_path, accord_clean_environment):
    from click.testing import CliRunner

    from accord.core.cli import cli
    from accord.core.config_file import write_new_config

    config = tmp_path / "accord.toml"
    write_new_config(config, database_url=url)
    result = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        "Error: cannot connect to the database postgresql+psycopg://nobody@127.0.0.1:1/nowhere"
        in result.output
    )


def test_downgrade_accepts_a_relative_target(accord_cli, accord_db, accord_runtime):
    (head,) = accord_runtime.migrator.script().get_revisions("core@head")
    result = accord_cli("db", "downgrade", "core", "-1", "--yes")
    assert result.exit_code == 0, result.output
    assert "core: downgraded to -1" in result.output
    assert accord_runtime.migrator.current()["core"] == head.down_revision


def test_every_plugin_models_and_migrations_agree_and_downgrade_to_base(
    dummy_plugin_installed, accord_config, accord_clean_environment
):
    """Every plugin's models and migrations agree, and its downgrades undo exactly what its
    upgrades made (what `accord plugins drop` relies on): with every branch back at base
    only the kernel's tables are left, and upgrading again finds nothing in its way (no
    leftover index, type or sequence)."""
    from accord.core.config_file import set_plugin_list
    from accord.core.plugin import discover_plugins
    from accord.core.runtime import Runtime

    every = sorted(discover_plugins())
    assert "dummy" in every  # the test add-on is part of "every plugin"
    set_plugin_list(accord_config, every)
    runtime = Runtime(accord_config)
    try:
        migrator = runtime.migrator
        migrator.upgrade(report=lambda line: None)
        owners = runtime.pm.owned_tables()
        assert KERNEL in owners.values()
        for branch in sorted(set(owners.values())):
            assert migrator.differences(branch) == [], branch
        kernel = {table for table, owner in owners.items() if owner == KERNEL}
        plugins = [found.name for found in runtime.pm.loaded if found.name != KERNEL]
        for name in reversed(plugins):  # dependents first
            if migrator.current().get(name) is not None:
                migrator.downgrade(name, "base", report=lambda line: None)
        assert set(inspect(runtime.db.engine).get_table_names()) == {*kernel, "alembic_version"}
        assert {branch for branch, at in migrator.current().items() if at} == {KERNEL}
        migrator.upgrade(report=lambda line: None)
        for branch in sorted(set(owners.values())):
            assert migrator.differences(branch) == [], branch
    finally:
        runtime.close()
