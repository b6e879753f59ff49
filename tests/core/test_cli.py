"""The accord command: init, config show, user create, and one-line errors for bad input."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from accord.core.access import Principal
from accord.core.cli import cli
from accord.core.security import User, verify_password


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_init_writes_commented_config_with_a_secret(tmp_path, accord_clean_environment):
    config = tmp_path / "accord.toml"
    result = run("--config", str(config), "init")
    assert result.exit_code == 0, result.output
    content = config.read_text()
    assert content.startswith("# Accord settings.")
    assert 'secret_key = "' in content
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    again = run("--config", str(config), "init")
    assert again.exit_code == 1
    assert again.output.strip() == f"Error: {config} exists already; use --force to replace it"


def test_two_inits_get_different_secrets(tmp_path, accord_clean_environment):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    run("--config", str(first), "init")
    run("--config", str(second), "init")
    secret = [line for line in first.read_text().splitlines() if line.startswith("secret_key")]
    assert secret
    assert secret[0] not in second.read_text()


def test_config_show_masks_secrets_and_names_sources(
    tmp_path, monkeypatch, accord_clean_environment
):
    config = tmp_path / "accord.toml"
    run("--config", str(config), "init")
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql://crm:hunter22@db.internal/crm")
    result = run("--config", str(config), "config", "show")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    shown = 'database_url = "postgresql+psycopg://crm:***@db.internal/crm"'
    assert f"{shown}  # environment ACCORD_DATABASE_URL" in lines
    assert f'secret_key = "********"  # file {config}' in lines
    assert "trace_hooks = false  # file" in result.output
    assert "hunter22" not in result.output


def test_config_show_says_default_for_unset_keys(tmp_path, accord_clean_environment, monkeypatch):
    config = tmp_path / "accord.toml"
    config.write_text("")
    monkeypatch.setenv("ACCORD_SECRET_KEY", "from-env")
    result = run("--config", str(config), "config", "show")
    assert "plugins = []  # default" in result.output
    assert 'secret_key = "********"  # environment ACCORD_SECRET_KEY' in result.output


def test_broken_config_is_one_line_and_non_zero(tmp_path, accord_clean_environment):
    config = tmp_path / "accord.toml"
    config.write_text("plugins = [\n")
    result = run("--config", str(config), "plugins", "list")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {config}: not valid TOML")
    assert len(result.output.strip().splitlines()) == 1


def test_errors_never_show_a_traceback_in_a_real_process(tmp_path):
    config = tmp_path / "accord.toml"
    config.write_text('secret_key = "x"\ndatabase_url = "oracle://scott@tiger/db"\n')
    accord = Path(sys.executable).parent / "accord"
    done = subprocess.run(
        [str(accord), "--config", str(config), "db", "upgrade"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"Error: {config}, database_url: database 'oracle' is not supported; use sqlite or "
        "postgresql, got 'oracle://scott@tiger/db'"
    )


def test_user_create_stores_argon2_hash_and_roles(accord_cli, accord_db):
    result = accord_cli(
        "user",
        "create",
        "alice",
        "--password",
        "long enough pw",
        "--role",
        "salesperson",
        "--role",
        "agent",
        "--email",
        "a@example.com",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created user 'alice' with roles: agent, salesperson"
    with accord_db.session(Principal.system("test")) as session:
        alice = session.scalar(select(User).where(User.login == "alice"))
        assert alice is not None
        assert alice.password_hash.startswith("$argon2")
        assert verify_password(alice, "long enough pw")
        assert not verify_password(alice, "wrong password")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--role", "pope"), "Error: unknown role 'pope'; known roles: admin,"),
        (("--team", "Nowhere"), "Error: --team: no team named 'Nowhere'"),
    ],
)
def test_user_create_refuses_bad_input_and_creates_nothing(accord_cli, accord_db, args, message):
    result = accord_cli("user", "create", "bob", "--password", "long enough pw", *args)
    assert result.exit_code == 1
    assert result.output.startswith(message)
    with accord_db.session(Principal.system("test")) as session:
        assert session.scalar(select(User).where(User.login == "bob")) is None


def test_short_password_is_refused(accord_cli, accord_db):
    result = accord_cli("user", "create", "carol", "--password", "short")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: password: must have at least 8 characters"


def test_duplicate_login_is_refused(accord_cli, accord_make_user):
    accord_make_user("dave", "agent")
    result = accord_cli("user", "create", "dave", "--password", "long enough pw")
    assert result.output.strip() == "Error: user 'dave' exists already"
