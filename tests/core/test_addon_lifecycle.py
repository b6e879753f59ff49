"""A partner's add-on, installed as a package with an entry point, goes through the same
life as a built-in plugin: listed, planned, enabled, migrated, disabled with data kept."""

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text


def write_addon(
    root: Path, name: str, depends: tuple[str, ...] = (), version: str = "1.0.0"
) -> None:
    """A minimal installed add-on: a package and the dist-info pip would write for it."""
    package = root / f"accord_{name}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(f"""
        from accord.api import Plugin

        plugin = Plugin(name={name!r}, version={version!r}, summary="test add-on",
                        package=__name__, depends={depends!r})
        """)
    )
    info = root / f"accord_{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: accord-{name}\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[accord.plugins]\n{name} = accord_{name}:plugin\n")


@pytest.fixture
def more_addons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    # Each test writes its own versions of these packages: forget the imported ones.
    for folder in root.glob("accord_*"):
        sys.modules.pop(folder.name, None)


def test_addon_is_listed_with_its_package(dummy_plugin_installed, accord_cli):
    result = accord_cli("plugins", "list")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("dummy "))
    assert row.split() == ["dummy", "1.0.0", "package", "accord-dummy", "1.0.0", "disabled", "-"]


def test_plan_shows_tables_and_changes_nothing(dummy_plugin_installed, accord_cli, accord_config):
    before = accord_config.read_text()
    result = accord_cli("plugins", "plan", "dummy")
    assert result.exit_code == 0, result.output
    assert "  enable plugin dummy 1.0.0" in result.output
    assert "  create table dummy_note (dummy)" in result.output
    assert "Nothing was changed." in result.output
    assert accord_config.read_text() == before


def test_enable_migrate_disable_keeps_data(
    dummy_plugin_installed, accord_cli, accord_config, accord_db
):
    assert accord_cli("plugins", "enable", "dummy").exit_code == 0
    assert 'plugins = ["dummy"]' in accord_config.read_text()
    assert "# Plugins to enable" in accord_config.read_text()  # comments survive

    upgrade = accord_cli("db", "upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert "dummy: upgrading to its newest revision" in upgrade.output
    assert "dummy_note" in inspect(accord_db.engine).get_table_names()
    with accord_db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO core_partner (kind, name, email, phone, website, vat_number, active) "
                "VALUES ('company', 'Acme', '', '', '', '', true)"
            )
        )
        partner_id = connection.execute(text("SELECT id FROM core_partner")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO dummy_note (partner_id, body, state, created_at, updated_at) "
                "VALUES (:p, 'kept', 'draft', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"p": partner_id},
        )

    disable = accord_cli("plugins", "disable", "dummy")
    assert disable.exit_code == 0, disable.output
    assert "its tables and data are kept" in disable.output
    assert accord_cli("db", "upgrade").exit_code == 0
    with accord_db.engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM dummy_note")).scalar_one() == "kept"
    current = accord_cli("db", "current")
    assert any(
        line.startswith("dummy: ") and line.endswith("(disabled)")
        for line in current.output.splitlines()
    ), current.output

    assert accord_cli("plugins", "enable", "dummy").exit_code == 0
    assert accord_cli("db", "upgrade").exit_code == 0
    with accord_db.engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM dummy_note")).scalar_one() == "kept"


def test_upgrade_migrates_only_enabled_plugins(dummy_plugin_installed, accord_cli, accord_db):
    assert accord_cli("db", "upgrade").exit_code == 0
    assert "dummy_note" not in inspect(accord_db.engine).get_table_names()


def test_enabling_pulls_in_dependencies(
    dummy_plugin_installed, more_addons, accord_cli, accord_config
):
    write_addon(more_addons, "reports", depends=("dummy>=1.0",))
    result = accord_cli("plugins", "enable", "reports")
    assert result.exit_code == 0, result.output
    assert "with its dependencies dummy" in result.output
    assert 'plugins = ["dummy", "reports"]' in accord_config.read_text()


def test_disabling_a_needed_plugin_is_refused_with_the_chain(
    dummy_plugin_installed, more_addons, accord_cli, accord_config
):
    write_addon(more_addons, "reports", depends=("dummy",))
    write_addon(more_addons, "exports", depends=("reports",))
    assert accord_cli("plugins", "enable", "exports").exit_code == 0
    before = accord_config.read_text()
    result = accord_cli("plugins", "disable", "dummy")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: cannot disable 'dummy': enabled plugins depend on it "
        "(exports -> reports -> dummy; reports -> dummy); disable those first"
    )
    assert accord_config.read_text() == before


def test_missing_dependency_is_refused(more_addons, accord_cli, accord_config):
    write_addon(more_addons, "reports", depends=("warehouse",))
    before = accord_config.read_text()
    result = accord_cli("plugins", "enable", "reports")
    assert result.exit_code == 1
    assert "plugin 'reports' depends on 'warehouse', which is not installed" in result.output
    assert accord_config.read_text() == before


def test_cyclic_dependencies_are_refused(more_addons, accord_cli):
    write_addon(more_addons, "alpha", depends=("beta",))
    write_addon(more_addons, "beta", depends=("alpha",))
    result = accord_cli("plugins", "enable", "alpha")
    assert result.exit_code == 1
    assert "Error: dependency cycle: alpha -> beta -> alpha" in result.output


def test_version_conflict_is_refused(dummy_plugin_installed, more_addons, accord_cli):
    write_addon(more_addons, "reports", depends=("dummy>=2",))
    result = accord_cli("plugins", "enable", "reports")
    assert result.exit_code == 1
    assert "plugin 'reports' needs dummy>=2, but 'dummy' 1.0.0 is installed" in result.output


def test_unknown_plugin_name_is_one_line(accord_cli):
    for command in (("plugins", "enable", "nope"), ("plugins", "plan", "nope")):
        result = accord_cli(*command)
        assert result.exit_code == 1
        assert result.output.startswith("Error: unknown plugin 'nope'")
        assert "Traceback" not in result.output


def test_current_still_shows_the_kernel_once_a_plugin_is_migrated(
    dummy_plugin_installed, accord_cli
):
    assert accord_cli("plugins", "enable", "dummy").exit_code == 0
    assert accord_cli("db", "upgrade").exit_code == 0
    lines = accord_cli("db", "current").output.splitlines()
    assert lines[0].startswith("core: ")
    assert lines[0].endswith("(newest) (enabled)")
    assert any(line.startswith("dummy: ") and "(newest)" in line for line in lines)
    history = accord_cli("db", "history").output.splitlines()
    # Every revision of the enabled branches is applied (built-in plugins that are not
    # enabled list theirs as not applied).
    assert not [line for line in history if line.startswith(("[ ] core:", "[ ] dummy:"))]
    assert any(line.startswith("[x] dummy:") for line in history)
