"""`accord audit MODEL ID`: the history of one record."""

from __future__ import annotations

import click

from accord.core.access import Principal
from accord.core.audit import audited_tables, history
from accord.core.errors import AccordError
from accord.core.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)


@click.command()
@click.argument("model")
@click.argument("record_id")
@pass_runtime
def audit(runtime: Runtime, model: str, record_id: str) -> None:
    """Print the changes of record RECORD_ID of MODEL (a table name such as core_partner),
    oldest first: time, actor, action, field: old -> new, and the request or job."""
    known = audited_tables(runtime.pm.collect("accord_models"))
    if model not in known:
        raise AccordError(f"unknown model {model!r}; audited models: {', '.join(known)}")
    with runtime.db.session(Principal.system("cli")) as session:
        entries = history(session, model, record_id)
        if not entries:
            click.echo(f"{model} {record_id}: no recorded changes")
        for entry in entries:
            old = "-" if entry.old_value is None else entry.old_value
            new = "-" if entry.new_value is None else entry.new_value
            context = f" [{entry.context}]" if entry.context else ""
            click.echo(
                f"{entry.at:%Y-%m-%d %H:%M:%S} {entry.actor} {entry.action} "
                f"{entry.field}: {old} -> {new}{context}"
            )


COMMANDS = [audit]
