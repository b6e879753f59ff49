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
        with runtime.db.session(Principal.system("test")) as session:
            everyone = set(session.scalars(select(Partner.id)))
        # The back office sees every customer: the kernel's 80 and those plugins added.
        assert seen["bea"] == everyone
        assert len(everyone) >= 80
    finally:
        runtime.close()


def demo(folder, *plugins: str):
    """Run `accord demo` on ``folder``; with ``plugins``, the folder's accord.toml is
    written first enabling them (as an integrator trying an add-on would)."""
    from accord.core.config_file import write_new_config

    if plugins:
        write_new_config(folder / "accord.toml", plugins=plugins)
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert result.exit_code == 0, result.output
    return result.output


def welcome_calls(folder) -> list[tuple[str, str]]:
    """(customer, subject) of the welcome add-on's demo calls."""
    from accord.core.activities import Activity
    from accord.core.partners import Partner

    runtime = Runtime(folder / "accord.toml")
    try:
        with runtime.db.session(Principal.system("test")) as session:
            rows = session.execute(
                select(Partner.name, Activity.subject)
                .join(Partner, Partner.id == Activity.partner_id)
                .where(Activity.source == "welcome")
                .order_by(Partner.name)
            )
            return [(name, subject) for name, subject in rows]
    finally:
        runtime.close()


def test_each_enabled_plugin_adds_its_demo_data_once(
    tmp_path, accord_clean_environment, welcome_plugin_installed
):
    folder = tmp_path / "demo"
    first = demo(folder, "welcome")
    calls = welcome_calls(folder)
    second = demo(folder)

    assert "welcome: logged 12 welcome calls" in first
    assert len(calls) == 12
    assert all(subject == f"Welcome call with {name}" for name, subject in calls)
    assert "welcome: demo data already there, kept" in second
    assert "logged" not in second
    assert welcome_calls(folder) == calls


def test_the_demo_data_is_the_same_on_every_run_of_a_new_demo(
    tmp_path, accord_clean_environment, welcome_plugin_installed
):
    demo(tmp_path / "one", "welcome")
    demo(tmp_path / "two", "welcome")

    assert welcome_calls(tmp_path / "one") == welcome_calls(tmp_path / "two")


def partner_count(folder) -> int:
    from accord.core.partners import Partner

    runtime = Runtime(folder / "accord.toml")
    try:
        with runtime.db.session(Principal.system("test")) as session:
            return len(session.scalars(select(Partner.id)).all())
    finally:
        runtime.close()


def test_a_plugin_enabled_later_adds_its_data_on_the_next_run(
    tmp_path, accord_clean_environment, welcome_plugin_installed
):
    from accord.core.config_file import set_plugin_list
    from accord.core.settings import read_config_file

    folder = tmp_path / "demo"
    first = demo(folder)  # the welcome add-on is installed, not enabled: no data of it
    assert "welcome" not in first
    assert welcome_calls(folder) == []
    partners = partner_count(folder)

    built_in = read_config_file(folder / "accord.toml")["plugins"]
    set_plugin_list(folder / "accord.toml", [*built_in, "welcome"])
    second = demo(folder)

    assert "welcome: logged 12 welcome calls" in second
    assert len(welcome_calls(folder)) == 12
    assert partner_count(folder) == partners  # the other plugins' data is kept, not doubled
    seeded = [plugin for plugin in built_in if f"\n{plugin}: " in f"\n{first}"]
    for plugin in seeded:
        assert f"{plugin}: demo data already there, kept" in second


def test_a_failing_demo_hook_names_the_plugin_and_keeps_none_of_its_data(
    tmp_path, accord_clean_environment, welcome_plugin_installed, monkeypatch
):
    import accord_welcome.hooks

    logged = accord_welcome.hooks.log_activity
    calls = []

    def fifth_call_fails(session, *args, **kwargs):
        calls.append(logged(session, *args, **kwargs))
        session.flush()
        if len(calls) == 5:
            raise ValueError("no product catalogue")

    monkeypatch.setattr(accord_welcome.hooks, "log_activity", fifth_call_fails)
    folder = tmp_path / "demo"
    from accord.core.config_file import write_new_config

    write_new_config(folder / "accord.toml", plugins=["welcome"])
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])

    assert result.exit_code == 1
    assert (
        "Error: plugin 'welcome': accord_demo failed, none of its demo data was kept: "
        "ValueError: no product catalogue"
    ) in result.output
    assert welcome_calls(folder) == []


def test_plugins_add_their_demo_data_in_dependency_order(
    tmp_path, accord_clean_environment, welcome_plugin_installed
):
    # Only the dependent plugin is listed: the welcome add-on it depends on comes with it,
    # and its demo data comes first, so a visit follows each welcome call.
    output = demo(tmp_path / "demo", "welcome_visits")

    assert output.index("welcome: logged 12 welcome calls") < output.index(
        "welcome_visits: booked 12 visits"
    )
