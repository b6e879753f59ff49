"""``accord leads ...``: the leads area's commands."""

from __future__ import annotations

import click

from accord.api import import_command

from .importing import IMPORTER


@click.group(name="leads")
def leads_cli() -> None:
    """Leads: import them from files."""


leads_cli.add_command(import_command(IMPORTER))
