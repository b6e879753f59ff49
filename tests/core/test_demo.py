"""The demo command on a fresh folder ends with a migrated database holding the admin."""

import re

from click.testing import CliRunner
from sqlalchemy import select

from accord.core.access import Principal
from accord.core.cli import cli
from accord.core.runtime import Runtime
from accord.core.security import User, verify_password


def test_demo_builds_a_database_with_an_admin_who_can_log_in(tmp_path, accord_clean_environment):
    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert result.exit_code == 0, result.output
    assert "enabled plugins:" in result.output
    match = re.search(r"^log in as: admin / (\S+)$", result.output, re.MULTILINE)
    assert match, result.output
    runtime = Runtime(folder / "accord.toml")
    try:
        assert runtime.settings.database_url.startswith("sqlite:///")
        with runtime.db.session(Principal.system("test")) as session:
            admin = session.scalar(select(User).where(User.login == "admin"))
            assert admin is not None
            assert admin.roles == ("admin",)
            assert verify_password(admin, match.group(1))
    finally:
        runtime.close()


def test_running_the_demo_again_keeps_data_and_gives_a_new_password(
    tmp_path, accord_clean_environment
):
    folder = tmp_path / "demo"
    first = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    second = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert second.exit_code == 0, second.output
    old = re.search(r"admin / (\S+)", first.output).group(1)
    new = re.search(r"admin / (\S+)", second.output).group(1)
    assert old != new
    runtime = Runtime(folder / "accord.toml")
    try:
        with runtime.db.session(Principal.system("test")) as session:
            admins = session.scalars(select(User).where(User.login == "admin")).all()
            assert len(admins) == 1
            assert verify_password(admins[0], new)
    finally:
        runtime.close()


def test_the_demo_company_shows_each_hat_its_own_part(tmp_path, accord_clean_environment):
    from accord.core.partners import Partner

    folder = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert result.exit_code == 0, result.output
    assert "or as one of the hats, same password: mia (sales_manager), sam (salesperson)" in (
        result.output
    )
    password = re.search(r"admin / (\S+)", result.output).group(1)
    runtime = Runtime(folder / "accord.toml")
    try:
        seen = {}
        for login in ("sam", "mia", "bea"):
            with runtime.db.session(Principal.system("test")) as session:
                user = session.scalar(select(User).where(User.login == login))
                assert verify_password(user, password)
            with runtime.db.session(runtime.principal_for(user.id)) as session:
                seen[login] = set(session.scalars(select(Partner.id)))
        assert seen["sam"] < seen["mia"] < seen["bea"]  # own < the manager's subtree < all
        assert len(seen["bea"]) == 80
    finally:
        runtime.close()
