"""`accord roles ...` (what each hat may do, and why) and `accord apikey ...`."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import click
from sqlalchemy import select

from accord.core.access import Principal
from accord.core.db import utcnow
from accord.core.errors import AccordError
from accord.core.runtime import Runtime
from accord.core.security import ApiKey, User, create_api_key

pass_runtime = click.make_pass_decorator(Runtime)
CLI = Principal.system("cli")


@click.group()
def roles() -> None:
    """The roles ("hats") and what each may do."""


@roles.command("list")
@pass_runtime
def roles_list(runtime: Runtime) -> None:
    """Every role with its title and permissions."""
    changed = runtime.settings.roles
    for role in sorted(runtime.policy.roles.values(), key=lambda role: role.name):
        note = "  (accord.toml)" if role.name in changed else ""
        click.echo(f"{role.name}: {role.title}{note}")
        click.echo(f"  permissions: {', '.join(role.permissions) or 'none'}")


@roles.command("show")
@click.argument("role")
@pass_runtime
def roles_show(runtime: Runtime, role: str) -> None:
    """What a holder of ROLE alone may do on each model, and the access rows that say so.
    A user with several roles may do what any of them may do."""
    policy = runtime.policy
    lines = policy.explain_role(role)  # refuses an unknown role, listing the known ones
    spec = policy.roles[role]
    click.echo(f"{spec.name}: {spec.title}")
    click.echo(f"permissions: {', '.join(spec.permissions) or 'none'}")
    click.echo("")
    denied: list[str] = []
    for table, rows in groupby(lines, key=lambda line: line[0]):
        allowed = [line for line in rows if line[2] != "no access"]
        if not allowed:
            denied.append(table)
            continue
        click.echo(table)
        for (summary, rules), same in groupby(allowed, key=lambda line: (line[2], line[3])):
            operations = ", ".join(line[1] for line in same)
            why = ", ".join(rule.name for rule in rules)
            click.echo(f"  {operations:<28} {summary:<16} {why}")
    if denied:
        click.echo("")
        click.echo(f"no access: {', '.join(denied)}")


@click.group()
def apikey() -> None:
    """Keys that programs use to act as a user (Authorization: Bearer ...)."""


@apikey.command("create")
@click.argument("login")
@click.option("--name", required=True, help="What the key is for, e.g. 'ERP sync'.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Days until it stops working.")
@pass_runtime
def apikey_create(runtime: Runtime, login: str, name: str, expires_days: int | None) -> None:
    """Create a key acting as user LOGIN; the key is printed once and stored only hashed."""
    with runtime.db.session(CLI) as session:
        user = session.scalar(select(User).where(User.login == login))
        if user is None:
            raise AccordError(f"no user {login!r}")
        expires = utcnow() + dt.timedelta(days=expires_days) if expires_days else None
        key, token = create_api_key(session, user, name, expires_at=expires)
        click.echo(f"created key {key.prefix} for {login!r}; copy it now, it is not shown again:")
        click.echo(token)


@apikey.command("list")
@click.argument("login", required=False)
@pass_runtime
def apikey_list(runtime: Runtime, login: str | None) -> None:
    """The keys (of LOGIN, or everyone's): prefix, user, name, last use, state."""
    with runtime.db.session(CLI) as session:
        query = select(ApiKey, User.login).join(User).order_by(User.login, ApiKey.id)
        if login:
            query = query.where(User.login == login)
        now = utcnow()
        for key, owner in session.execute(query):
            if key.revoked_at is not None:
                state = "revoked"
            elif key.expires_at is not None and key.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
            click.echo(f"{key.prefix}  {owner}  {key.name}  {used}  {state}")


@apikey.command("revoke")
@click.argument("prefix")
@pass_runtime
def apikey_revoke(runtime: Runtime, prefix: str) -> None:
    """Stop the key whose prefix (as `accord apikey list` shows it) is PREFIX."""
    with runtime.db.session(CLI) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None:
            raise AccordError(f"no API key with prefix {prefix!r}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        click.echo(f"revoked key {prefix}")


COMMANDS = [roles, apikey]
