"""The command line of an import: ``accord import IMPORTER FILE`` for any importer, and
``import_command(name)``, the same command for a plugin's own group (``accord leads import
FILE``), with a progress bar, the report, and an exit status saying whether it imported."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from sqlalchemy import select

from accord.core.access import Principal
from accord.core.errors import AccordError
from accord.core.importing.fields import Importer
from accord.core.importing.mapping import MappingError
from accord.core.importing.run import ImportReport, run_import
from accord.core.importing.sheets import read_sheet_file
from accord.core.runtime import Runtime

ERRORS_SHOWN = 50


def find_importer(runtime: Runtime, name: str) -> Importer:
    importers = {
        item.name: item
        for item in runtime.pm.collect("accord_importers")
        if isinstance(item, Importer)
    }
    if name not in importers:
        known = ", ".join(sorted(importers)) or "none (enable a plugin that offers one)"
        raise AccordError(f"unknown importer {name!r}; importers: {known}")
    return importers[name]


def parse_choices(pairs: Sequence[str]) -> dict[str, str]:
    """``--map "E-mail address=email"`` (``=-`` leaves the column out)."""
    choices: dict[str, str] = {}
    for pair in pairs:
        column, equals, field = pair.rpartition("=")
        if not equals or not column.strip():
            raise click.BadParameter(
                f"{pair!r}: write COLUMN=FIELD (the column's header, then the field's name)",
                param_hint="'--map'",
            )
        choices[column.strip()] = field.strip()
    return choices


def principal_of_login(runtime: Runtime, login: str | None) -> Principal:
    if login is None:
        return Principal.system("import")
    from accord.core.security import User

    with runtime.db.session(Principal.system("cli")) as session:
        user_id = session.scalar(select(User.id).where(User.login == login))
    if user_id is None:
        raise AccordError(f"--as: no user {login!r}")
    return runtime.principal_for(user_id)


def import_file(
    runtime: Runtime,
    importer: Importer,
    path: str,
    *,
    choices: dict[str, str],
    dry_run: bool,
    skip_bad_rows: bool,
    login: str | None,
    encoding: str | None,
) -> ImportReport:
    """Run one import from the command line and print its report; exit 1 when nothing
    was imported because of bad rows."""
    principal = principal_of_login(runtime, login)
    if importer.permission is not None and not principal.can(importer.permission):
        raise AccordError(
            f"{principal} may not import {importer.title.lower()}: it needs the permission "
            f"{importer.permission!r}"
        )
    sheet = read_sheet_file(path, encoding=encoding)
    click.echo(sheet.describe(), err=True)
    context = f"import:{importer.name}:{sheet.name}"
    bar = click.progressbar(
        length=max(1, len(sheet.rows)),
        label=f"{'checking' if dry_run else 'importing'} {sheet.name}",
        file=sys.stderr,
    )
    with runtime.db.session(principal, context=context) as session, bar:
        shown = 0

        def progress(done: int, total: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        try:
            report = run_import(
                session,
                importer,
                sheet,
                choices=choices,
                dry_run=dry_run,
                skip_bad_rows=skip_bad_rows,
                progress=progress,
            )
        except MappingError as error:
            raise AccordError(
                f"{sheet.name}: the columns cannot be mapped:\n  "
                + "\n  ".join(error.problems)
                + "\nname the columns as the fields, or map them with --map COLUMN=FIELD"
            ) from None
    _print(report)
    if not report.written and not dry_run:
        raise click.exceptions.Exit(1)
    return report


def _print(report: ImportReport) -> None:
    for field, column in report.mapping.items():
        click.echo(f"column {column!r} -> {field}")
    if report.ignored_columns:
        click.echo("columns left out: " + ", ".join(map(repr, report.ignored_columns)))
    for error in report.errors[:ERRORS_SHOWN]:
        click.echo(str(error))
    if len(report.errors) > ERRORS_SHOWN:
        click.echo(f"... and {len(report.errors) - ERRORS_SHOWN} more problems")
    for merge in report.merges[:ERRORS_SHOWN]:
        click.echo(f"row {merge.line}: merged into #{merge.record_id} ({merge.note})")
    if len(report.merges) > ERRORS_SHOWN:
        click.echo(f"... and {len(report.merges) - ERRORS_SHOWN} more merges")
    click.echo(report.summary())


def _options(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        [
            click.option(
                "--map",
                "mapping",
                multiple=True,
                metavar="COLUMN=FIELD",
                help="Fill FIELD from COLUMN (a header of the file); COLUMN=- leaves it out. "
                "Repeat for several columns; the others map by their header.",
            ),
            click.option(
                "--dry-run", is_flag=True, help="Report what would be imported; change nothing."
            ),
            click.option(
                "--skip-bad-rows",
                is_flag=True,
                help="Import the good rows even if some are bad (default: any bad row and "
                "nothing is imported).",
            ),
            click.option(
                "--as",
                "login",
                metavar="LOGIN",
                help="Import as this user: their access rules apply and the audit log names "
                "them (default: the system).",
            ),
            click.option(
                "--encoding", help="The CSV file's encoding (default: found from the file)."
            ),
        ]
    ):
        function = option(function)
    return function


def import_command(importer: str, *, name: str = "import") -> click.Command:
    """A click command importing FILE with the importer named ``importer``, for a plugin's
    own command group: ``leads.add_command(import_command("leads.leads"))``."""

    @click.command(name=name)
    @click.argument("file", type=click.Path(dir_okay=False))
    @_options
    @click.pass_context
    def command(
        ctx: click.Context,
        file: str,
        mapping: tuple[str, ...],
        dry_run: bool,
        skip_bad_rows: bool,
        login: str | None,
        encoding: str | None,
    ) -> None:
        runtime = ctx.find_object(Runtime)
        assert runtime is not None
        found = find_importer(runtime, importer)
        import_file(
            runtime,
            found,
            file,
            choices=parse_choices(mapping),
            dry_run=dry_run,
            skip_bad_rows=skip_bad_rows,
            login=login,
            encoding=encoding,
        )

    command.help = (
        f"Import FILE (CSV, XLSX or JSON) with the importer {importer!r}: columns map to fields "
        "by their header (or --map), every row is checked first, and any bad row means "
        "nothing is imported unless --skip-bad-rows. Rows with an external id imported "
        "before with the same cells are left alone."
    )
    return command


@click.command(name="import")
@click.argument("importer", metavar="IMPORTER")
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@_options
@click.pass_context
def import_any(
    ctx: click.Context,
    importer: str,
    file: str | None,
    mapping: tuple[str, ...],
    dry_run: bool,
    skip_bad_rows: bool,
    login: str | None,
    encoding: str | None,
) -> None:
    """Import FILE (CSV, XLSX or JSON) with IMPORTER; `accord import list` lists the importers
    and their fields."""
    runtime = ctx.find_object(Runtime)
    assert runtime is not None
    if importer == "list" and file is None:
        importers = runtime.pm.collect("accord_importers")
        if not importers:
            click.echo("no importers: enable a plugin that offers one")
        for item in importers:
            assert isinstance(item, Importer)
            fields = ", ".join(
                f"{field.name}{'*' if field.required else ''}" for field in item.fields
            )
            click.echo(f"{item.name}: {item.title} ({fields})")
        return
    if file is None:
        raise click.UsageError("Missing argument 'FILE'.")
    import_file(
        runtime,
        find_importer(runtime, importer),
        file,
        choices=parse_choices(mapping),
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
        login=login,
        encoding=encoding,
    )
