"""Commands that set a deployment up: init, config show, user create, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, SecretStr
from sqlalchemy import select
from sqlalchemy.engine import make_url

from accord.core.access import Principal
from accord.core.cli.serve import host_option, port_option, serve_app
from accord.core.config_file import write_new_config
from accord.core.errors import AccordError
from accord.core.runtime import Runtime
from accord.core.security import Team, create_user
from accord.core.settings import AccordSettings, SourceLocator, read_config_file

pass_runtime = click.make_pass_decorator(Runtime)


@click.command()
@click.option("--database-url", default="", help="Database URL (default: accord.db beside).")
@click.option("--plugin", "plugins", multiple=True, help="A plugin to enable (repeatable).")
@click.option("--force", is_flag=True, help="Replace an existing accord.toml.")
@pass_runtime
def init(runtime: Runtime, database_url: str, plugins: tuple[str, ...], force: bool) -> None:
    """Write a commented accord.toml in the current folder (or --config)."""
    write_new_config(runtime.config_path, database_url=database_url, plugins=plugins, force=force)
    click.echo(f"wrote {runtime.config_path} with a new secret key")
    click.echo("next: `accord plugins list`, then `accord db upgrade`")


@click.group()
def config() -> None:
    """Inspect the settings."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@pass_runtime
def config_show(runtime: Runtime, as_json: bool) -> None:
    """Print the effective settings, where each came from, secrets masked."""
    settings = runtime.settings
    locate = SourceLocator(settings.config, read_config_file(settings.config))
    rows = list(_settings_rows(settings, locate))
    if as_json:
        click.echo(json.dumps([{"key": k, "value": v, "source": s} for k, v, s in rows], indent=2))
        return
    section = None
    for key, value, source in rows:
        table, _, name = key.rpartition(".")
        if table and table != section:
            click.echo(f"\n[{table}]")
            section = table
        click.echo(f"{name} = {json.dumps(value)}  # {source}")


def _settings_rows(settings: AccordSettings, locate: SourceLocator) -> Any:
    for name in AccordSettings.model_fields:
        if name == "config":
            yield name, str(settings.config), "ACCORD_CONFIG or the current folder"
            continue
        yield from _rows((name,), getattr(settings, name), locate)
    for found in settings.enabled:
        section = getattr(settings, found.name, None)
        if isinstance(section, BaseModel):
            yield from _rows((found.name,), section, locate)


def _rows(key: tuple[str, ...], value: Any, locate: SourceLocator) -> Any:
    """One row per leaf: nested sections (``[jobs]``, ``[roles.x]``) become dotted keys."""
    if isinstance(value, BaseModel):
        for field in type(value).model_fields:
            yield from _rows((*key, field), getattr(value, field), locate)
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _rows((*key, name), item, locate)
    else:
        shown_key = ".".join(f'"{part}"' if "." in part else part for part in key)
        yield shown_key, _shown(key[-1], value), locate.source(key)


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if name == "database_url":
        return make_url(value).render_as_string(hide_password=True)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_shown("", item) for item in value]
    return value


@click.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("login")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="", help="Full name (default: the login).")
@click.option("--email", default="")
@click.option("--role", "roles", multiple=True, help="A role to grant (repeatable).")
@click.option("--team", default=None, help="The name of the user's team.")
@pass_runtime
def user_create(
    runtime: Runtime,
    login: str,
    password: str,
    name: str,
    email: str,
    roles: tuple[str, ...],
    team: str | None,
) -> None:
    """Create a user with roles; the password is stored as an argon2 hash."""
    with runtime.db.session(Principal.system("cli")) as session:
        team_row = None
        if team:
            team_row = session.scalar(select(Team).where(Team.name == team))
            if team_row is None:
                raise AccordError(f"--team: no team named {team!r}")
        created = create_user(
            session, login, password, name=name, email=email, roles=roles, team=team_row
        )
        click.echo(
            f"created user {created.login!r} with roles: {', '.join(created.roles) or 'none'}"
        )


@click.command()
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Folder of the demo company.",
)
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Serve the web app once the demo is built.",
)
@host_option
@port_option
def demo(path: Path, serve: bool, host: str, port: int) -> None:
    """Create (or refresh) a demo company in a folder: settings, a migrated SQLite
    database with every built-in plugin, and an admin user whose password is printed;
    then serve the web app on it until Ctrl+C."""
    from accord.core.demo import build_demo

    login, password = build_demo(path, report=click.echo)
    if not serve:
        return
    runtime = Runtime(path / "accord.toml")
    try:
        shown_host = f"[{host}]" if ":" in host else host
        click.echo(f"open http://{shown_host}:{port}/ and log in as {login} / {password}")
        serve_app(runtime, host, port)
    finally:
        runtime.close()


COMMANDS = [init, config, user, demo]
