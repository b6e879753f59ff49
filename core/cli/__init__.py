"""The ``accord`` command. Built on click (a well-kept library whose command objects a plugin
can contribute through a hook, and which needs no type-annotation magic). Errors a user can
fix are printed on one line with a non-zero exit, never as a traceback."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from accord.core.errors import AccordError
from accord.core.runtime import Runtime


class AccordGroup(click.Group):
    """The root group: turns AccordError into one line, and adds plugins' commands."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AccordError as error:
            raise click.ClickException(str(error)) from None

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        runtime = ctx.find_object(Runtime) or Runtime(ctx.params.get("config"))
        return {
            command.name: command
            for command in runtime.pm.collect("accord_cli_commands")
            if command.name
        }

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        # `accord --help` must work before `accord init`, so a settings error is ignored here.
        with contextlib.suppress(AccordError):
            names.update(self._plugin_commands(ctx))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        try:
            return self._plugin_commands(ctx).get(cmd_name)
        except AccordError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=AccordGroup)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="ACCORD_CONFIG",
    is_eager=True,  # read before --help, which lists the plugins' commands of this file
    help="The accord.toml to use (default: ./accord.toml).",
)
@click.version_option(package_name="accord-crm", prog_name="accord")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Accord: a pluggable CRM. Start with `accord init` or `accord demo`."""
    runtime = Runtime(config)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


def _register() -> None:
    from accord.core.cli import access, audit, database, jobs, mail, plugins, serve, setup

    for module in (setup, serve, plugins, database, jobs, audit, access, mail):
        for command in module.COMMANDS:
            cli.add_command(command)
    from accord.core.importing.command import import_any

    cli.add_command(import_any)


_register()


def main() -> None:
    try:
        cli(standalone_mode=True)
    except AccordError as error:  # raised outside a command, e.g. while listing commands
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
