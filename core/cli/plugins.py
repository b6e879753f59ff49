"""`accord plugins ...`: what is installed, what enabling one would add, enable, disable,
drop a disabled one's data, and a new add-on package."""

from __future__ import annotations

from pathlib import Path

import click

from accord.core.config_file import set_plugin_list
from accord.core.errors import PluginError
from accord.core.resolve import dependents, resolve
from accord.core.runtime import Runtime
from accord.core.settings import ENV_PREFIX

pass_runtime = click.make_pass_decorator(Runtime)


@click.group()
def plugins() -> None:
    """List, plan, enable, disable and drop plugins."""


@plugins.command("list")
@pass_runtime
def list_plugins(runtime: Runtime) -> None:
    """Every plugin found (built-in and installed packages), enabled or not."""
    settings = runtime.settings
    explicit = set(settings.plugins)
    enabled = {found.name for found in settings.enabled}
    rows = [("NAME", "VERSION", "ORIGIN", "STATUS", "DEPENDS")]
    for name in sorted(settings.catalogue):
        found = settings.catalogue[name]
        if name in explicit:
            status = "enabled"
        elif name in enabled:
            status = "enabled (auto)" if found.plugin.auto_install else "enabled (dependency)"
        else:
            status = "disabled"
        depends = ", ".join(found.plugin.depends) or "-"
        rows.append((name, found.plugin.version, found.origin, status, depends))
    if len(rows) == 1:
        click.echo("no plugins installed (packages declare them in the 'accord.plugins' group)")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@plugins.command("plan")
@click.argument("name")
@pass_runtime
def plan(runtime: Runtime, name: str) -> None:
    """Show what enabling NAME would add, changing nothing."""
    from accord.core.plan import plan_enable

    result = plan_enable(runtime.settings, name)
    click.echo(f"Enabling {name!r} would:")
    for found in result.plugins:
        why = "" if found.name == name else " (dependency)"
        if found.plugin.auto_install and found.name != name:
            why = " (enabled automatically with its dependencies)"
        click.echo(f"  enable plugin {found.name} {found.plugin.version}{why}")
    for label, items in (
        ("create table", result.tables),
        ("add permission", result.permissions),
        ("add role", result.roles),
        ("add menu entry", result.menu_items),
    ):
        for item in items:
            click.echo(f"  {label} {item}")
    click.echo(f"Nothing was changed. To do it: accord plugins enable {name} && accord db upgrade")


@plugins.command("enable")
@click.argument("name")
@pass_runtime
def enable(runtime: Runtime, name: str) -> None:
    """Enable NAME and the plugins it depends on (in accord.toml)."""
    settings = runtime.settings
    if name in settings.plugins:
        raise PluginError(f"plugin {name!r} is enabled already")
    wanted = [*settings.plugins, name]
    resolved = resolve(settings.catalogue, wanted)
    explicit = [
        found.name for found in resolved if found.name in wanted or not found.plugin.auto_install
    ]
    set_plugin_list(settings.config, explicit)
    added = [n for n in explicit if n not in settings.plugins and n != name]
    also = f" with its dependencies {', '.join(added)}" if added else ""
    click.echo(f"enabled {name!r}{also} in {settings.config}")
    _warn_environment()
    click.echo("next: `accord db upgrade` creates its tables")


@plugins.command("disable")
@click.argument("name")
@pass_runtime
def disable(runtime: Runtime, name: str) -> None:
    """Disable NAME in accord.toml; its tables and data are kept."""
    settings = runtime.settings
    if name not in settings.plugins:
        if name in {found.name for found in settings.enabled}:
            needed_by = [c[0] for c in dependents(settings.catalogue, settings.plugins, name)]
            raise PluginError(
                f"plugin {name!r} is not in the plugins list; it is enabled because "
                f"{', '.join(needed_by) or 'its dependencies are'} enabled"
            )
        raise PluginError(f"plugin {name!r} is not enabled")
    remaining = [n for n in settings.plugins if n != name]
    chains = dependents(settings.catalogue, remaining, name)
    if chains:
        listed = "; ".join(" -> ".join(chain) for chain in chains)
        raise PluginError(
            f"cannot disable {name!r}: enabled plugins depend on it ({listed}); disable those first"
        )
    set_plugin_list(settings.config, remaining)
    click.echo(f"disabled {name!r} in {settings.config}; its tables and data are kept")
    _warn_environment()


@plugins.command("drop")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask to type the name (for scripts).")
@pass_runtime
def drop(runtime: Runtime, name: str, yes: bool) -> None:
    """Remove the data of NAME, a disabled plugin: its tables and what the kernel keeps for
    it. Shows what would go and asks for the plugin's name first."""
    from accord.core.drop import drop as drop_data
    from accord.core.drop import plan_drop

    plan = plan_drop(runtime, name)
    click.echo(f"Dropping {name!r} would remove, for good:")
    for table, rows in plan.tables:
        click.echo(f"  drop table {table} ({_count(rows, 'row')})")
    for role, holders in plan.roles:
        held = f"held by {_count(holders, 'user')}" if holders else "held by nobody"
        click.echo(f"  remove role {role} ({held})")
    for what, count in (
        ("job of its subscribers and job types", plan.jobs),
        ("import key of its importers", plan.import_keys),
        ("workflow history entry of its records", plan.workflow_history),
    ):
        if count:
            click.echo(f"  remove {_count(count, what)}")
    kept = [
        f"the audit log ({_count(plan.audit_entries, 'entry')} of its records, and one entry "
        "per table saying it was dropped)",
        "the customers' timeline",
    ]
    if _has_section(runtime.settings.config, name):
        kept.append(f"the [{name}] section of {runtime.settings.config.name}")
    click.echo(f"Kept: {', '.join(kept)}.")
    if not yes:
        typed = click.prompt(f"Type {name} to drop it", default="", show_default=False)
        if typed.strip() != name:
            raise PluginError(f"you typed {typed.strip()!r}, not {name!r}; nothing was dropped")
    drop_data(runtime, plan, report=click.echo)
    click.echo(
        f"dropped {name!r}; to use it again: accord plugins enable {name} && accord db upgrade "
        "(its tables come back empty)"
    )


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    head, _, tail = noun.partition(" ")
    if tail:  # "job of its ..." -> "jobs of its ..."
        plural = f"{_count(2, head)[2:]} {tail}"
    return f"{number} {plural}"


def _has_section(config: Path, name: str) -> bool:
    import tomlkit

    return config.exists() and name in tomlkit.parse(config.read_text(encoding="utf-8"))


def _warn_environment() -> None:
    import os

    if f"{ENV_PREFIX}PLUGINS" in os.environ:
        click.echo(
            f"warning: {ENV_PREFIX}PLUGINS is set and overrides the file's plugin list", err=True
        )


@plugins.command("new")
@click.argument("name")
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to create (default: ./accord-NAME).",
)
def new(name: str, path: Path | None) -> None:
    """Write a new add-on package: pyproject with the entry point, plugin, model,
    first migration and a test."""
    from accord.core.scaffold import write_addon

    target = path or Path(f"accord-{name.replace('_', '-')}")
    write_addon(name, target)
    click.echo(f"wrote the add-on {name!r} in {target}")
    click.echo(f"next: pip install -e {target} && pytest {target}")


COMMANDS = [plugins]
