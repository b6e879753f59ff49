"""The demo has somebody in administration, so that dunning's chaser (administration by
default) is a person; a demo made before that hat existed gets her on its next run."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import delete, select

from accord.core.access import Principal
from accord.core.cli import cli
from accord.core.config_file import write_new_config
from accord.core.runtime import Runtime
from accord.core.security import User, verify_password
from accord.plugins.collections.dunning import administration_user
from accord.plugins.collections.settings import settings_of


def test_the_demo_has_administration_to_chase_overdue_invoices(tmp_path, accord_clean_environment):
    folder = tmp_path / "demo"
    write_new_config(folder / "accord.toml", plugins=["orders", "collections"])
    first = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert first.exit_code == 0, first.output
    assert "ada (administration)" in first.output
    runtime = Runtime(folder / "accord.toml")
    try:
        with runtime.db.session(Principal.system("test")) as session:
            chaser = administration_user(session, settings_of(session))
            assert chaser is not None
            assert (chaser.login, chaser.email) == ("ada", "ada@demo.example")
            session.execute(delete(User).where(User.login == "ada"))  # a demo made before her
    finally:
        runtime.close()

    again = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert again.exit_code == 0, again.output
    assert "added ada, a hat the demo did not have yet" in again.output
    password = re.search(r"admin / (\S+)", again.output).group(1)
    runtime = Runtime(folder / "accord.toml")
    try:
        with runtime.db.session(Principal.system("test")) as session:
            ada = session.scalar(select(User).where(User.login == "ada"))
            assert ada is not None
            assert ada.roles == ("administration",)
            assert verify_password(ada, password)
    finally:
        runtime.close()
