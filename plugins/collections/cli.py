"""``accord collections ...``: the receivables as of a day, and the dunning run at once."""

from __future__ import annotations

import datetime as dt

import click

from accord.api import Principal, Runtime, pass_runtime, utcnow

from .aging import BUCKETS, aging, dso, overdue_by_salesperson
from .dunning import send_reminders
from .receivables import money
from .settings import settings_of


def _day(value: str | None) -> dt.date:
    if not value:
        return utcnow().date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.group(name="collections")
def collections_cli() -> None:
    """Receivables, credit and dunning."""


@collections_cli.command(name="aging")
@click.option("--as-of", "as_of", help="The day (YYYY-MM-DD); default today.")
@pass_runtime
def aging_command(runtime: Runtime, as_of: str | None) -> None:
    """Open receivables by days past due, DSO, and what each salesperson has overdue."""
    day = _day(as_of)
    with runtime.db.session(Principal.system("collections.aging")) as session:
        settings = settings_of(session)
        unit = settings.currency
        result = aging(session, day, currency=unit)
        click.echo(f"receivables as of {day.isoformat()} ({unit})")
        for name in BUCKETS:
            click.echo(f"  {name:>8}  {money(result.buckets[name]):>16}")
        click.echo(f"  {'total':>8}  {money(result.total):>16}")
        figure = dso(session, day, settings.dso_days, currency=unit)
        click.echo(
            f"DSO ({settings.dso_days} days): {figure if figure is not None else 'no sales'}"
        )
        for row in overdue_by_salesperson(session, day, currency=unit):
            click.echo(f"  overdue, {row.owner}: {money(row.amount)} in {row.invoices} invoice(s)")


@collections_cli.command(name="remind")
@click.option("--date", "day", help="Run as of this day (YYYY-MM-DD); default today.")
@pass_runtime
def remind_command(runtime: Runtime, day: str | None) -> None:
    """Send the reminders due now (what the daily schedule does); mails leave through the
    outbox, so the job runner must be running."""
    today = _day(day)
    with runtime.db.session(Principal.system("collections.remind")) as session:
        sent = send_reminders(session, settings_of(session), today)
    for reminder in sent:
        to = reminder.to or "no e-mail address: a call task"
        click.echo(
            f"{', '.join(reminder.invoices)}: level {reminder.level} to {to}, "
            f"chased by {reminder.chaser or 'nobody'}"
        )
    click.echo(f"{len(sent)} reminder(s) queued")
