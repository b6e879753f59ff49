"""Settings: precedence default < file < environment, and errors that name key and source."""

from pathlib import Path

import pytest

from accord.core.errors import SettingsError
from accord.core.settings import load_settings

SECRET = 'secret_key = "s3cret-for-tests-only"\n'


@pytest.fixture
def config(tmp_path: Path, accord_clean_environment: None) -> Path:
    return tmp_path / "accord.toml"


def test_database_defaults_to_sqlite_file_beside_the_config(config: Path):
    config.write_text(SECRET)
    settings = load_settings(config)
    assert settings.database_url == f"sqlite:///{config.parent.resolve() / 'accord.db'}"
    assert settings.plugins == ()


def test_file_overrides_default_and_environment_overrides_file(config: Path, monkeypatch):
    config.write_text(SECRET + 'database_url = "sqlite:////tmp/from-file.db"\n')
    assert load_settings(config).database_url == "sqlite:////tmp/from-file.db"
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql://bob@db.example:5432/crm")
    assert load_settings(config).database_url == "postgresql+psycopg://bob@db.example:5432/crm"


def test_config_path_comes_from_accord_config_variable(config: Path, monkeypatch, tmp_path):
    config.write_text(SECRET + "trace_hooks = true\n")
    monkeypatch.setenv("ACCORD_CONFIG", str(config))
    monkeypatch.chdir(tmp_path.parent)
    assert load_settings().trace_hooks is True


def test_unknown_key_in_file_names_key_and_file(config: Path):
    config.write_text(SECRET + "databse_url = 'x'\n")
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    assert (
        str(error.value) == f"{config}, databse_url: unknown key; remove it or check its spelling"
    )


def test_unknown_environment_variable_is_named(config: Path, monkeypatch):
    config.write_text(SECRET)
    monkeypatch.setenv("ACCORD_DATABSE_URL", "sqlite://")
    with pytest.raises(SettingsError, match="environment variable ACCORD_DATABSE_URL: unknown key"):
        load_settings(config)


def test_wrong_type_in_environment_names_the_variable(config: Path, monkeypatch):
    config.write_text(SECRET)
    monkeypatch.setenv("ACCORD_TRACE_HOOKS", "perhaps")
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    message = str(error.value)
    assert message.startswith("environment variable ACCORD_TRACE_HOOKS: ")
    assert "'perhaps'" in message


def test_missing_secret_key_says_where_to_set_it(config: Path):
    config.write_text("trace_hooks = false\n")
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    assert str(error.value) == (
        f"{config}, secret_key: required but not set (set it in the file or as ACCORD_SECRET_KEY)"
    )


def test_secret_value_is_never_echoed_in_errors(config: Path):
    config.write_text('secret_key = ["do-not-print-me"]\n')
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    assert "secret_key" in str(error.value)
    assert "do-not-print-me" not in str(error.value)


def test_broken_toml_names_the_file(config: Path):
    config.write_text("secret_key = 'unterminated\n")
    with pytest.raises(SettingsError, match=rf"^{config}: not valid TOML: "):
        load_settings(config)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "not a database URL"),
        ("mysql://root@127.0.0.1/test", "database 'mysql' is not supported"),
    ],
)
def test_bad_database_url_is_refused(config: Path, url: str, problem: str):
    config.write_text(SECRET + f"database_url = {url!r}\n")
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    assert str(error.value).startswith(f"{config}, database_url: {problem}")


def test_unknown_plugin_in_list_names_the_key(config: Path):
    config.write_text(SECRET + 'plugins = ["no_such_plugin"]\n')
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    assert str(error.value).startswith(f"{config}, plugins: unknown plugin 'no_such_plugin'")


def test_plugin_list_from_environment_accepts_commas(config: Path, monkeypatch):
    config.write_text(SECRET)
    monkeypatch.setenv("ACCORD_PLUGINS", "no_such_plugin, other")
    with pytest.raises(SettingsError, match="environment variable ACCORD_PLUGINS: unknown plugin"):
        load_settings(config)


def test_section_of_unknown_plugin_is_an_unknown_key(config: Path):
    config.write_text(SECRET + "[nonexistent]\nx = 1\n")
    with pytest.raises(SettingsError, match=r"nonexistent: unknown key"):
        load_settings(config)


def test_database_password_is_masked_in_errors(config: Path):
    config.write_text(SECRET + 'database_url = "mysql://root:hunter22@db/crm"\n')
    with pytest.raises(SettingsError) as error:
        load_settings(config)
    assert "hunter22" not in str(error.value)
    assert "mysql://root:***@db/crm" in str(error.value)
