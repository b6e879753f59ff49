"""`accord db ...`: per-plugin migrations."""

from __future__ import annotations

import click

from accord.core.errors import PluginError
from accord.core.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)


@click.group()
def db() -> None:
    """Migrate the database: the kernel and each enabled plugin has its own branch."""


@db.command()
@pass_runtime
def upgrade(runtime: Runtime) -> None:
    """Migrate the kernel and exactly the enabled plugins to their newest revisions."""
    runtime.migrator.upgrade(report=click.echo)
    click.echo("database is up to date")


@db.command(context_settings={"ignore_unknown_options": True})
@click.argument("plugin")
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def downgrade(runtime: Runtime, plugin: str, target: str, yes: bool) -> None:
    """Step PLUGIN's branch back to TARGET (a revision, -1, or base). Going to base drops
    every table of the plugin and its data."""
    if not yes:
        click.confirm(
            f"Downgrade {plugin!r} to {target!r}? Tables and data it removes are lost.",
            abort=True,
        )
    runtime.migrator.downgrade(plugin, target, report=click.echo)
    click.echo(f"{plugin}: downgraded to {target}")


@db.command()
@pass_runtime
def current(runtime: Runtime) -> None:
    """The revision of each branch, and whether it is the newest."""
    from accord.core.migrate import KERNEL

    script = runtime.migrator.script()
    enabled = {found.name for found in runtime.pm.loaded} | {KERNEL}
    for branch, revision in runtime.migrator.current().items():
        state = "disabled" if branch not in enabled else "enabled"
        if revision is None:
            click.echo(f"{branch}: not migrated ({state})")
            continue
        found = script.get_revision(revision)
        head = " (newest)" if found is not None and found.is_head else " (upgrade pending)"
        click.echo(f"{branch}: {revision}{head} ({state})")


@db.command()
@click.option("--plugin", default=None, help="Only this plugin's branch.")
@pass_runtime
def history(runtime: Runtime, plugin: str | None) -> None:
    """Every revision, newest first, with the ones applied to this database marked."""
    rows = runtime.migrator.history(plugin)
    if plugin is not None and not rows:
        click.echo(f"{plugin}: no revisions")
    for row in rows:
        mark = "[x]" if row.applied else "[ ]"
        click.echo(f"{mark} {row.branch}: {row.revision} {row.message}")


@db.command()
@click.option("--plugin", required=True, help="The plugin (or core) the revision belongs to.")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--autogenerate", is_flag=True, help="Compare the plugin's models with the database.")
@pass_runtime
def revision(runtime: Runtime, plugin: str, message: str, autogenerate: bool) -> None:
    """Write a new revision into the plugin's own migrations folder."""
    if plugin not in runtime.migrator.folders:
        raise PluginError(f"unknown plugin {plugin!r}")
    path = runtime.migrator.revision(plugin, message, autogenerate=autogenerate)
    if path is None:
        click.echo(f"{plugin}: the models and the database agree; no revision written")
    else:
        click.echo(f"wrote {path}")


@db.command()
@pass_runtime
def check(runtime: Runtime) -> None:
    """Fail when a branch's models and its migrations disagree (a missing revision)."""
    problems = 0
    for branch in runtime.migrator.enabled_branches:
        differences = runtime.migrator.differences(branch)
        problems += len(differences)
        for difference in differences:
            click.echo(f"{branch}: {difference}")
    if problems:
        raise PluginError(
            f"{problems} difference(s) between models and migrations; write a revision with "
            "`accord db revision --plugin NAME -m ... --autogenerate`"
        )
    click.echo("models and migrations agree")


COMMANDS = [db]
