"""Running an import: every row checked first, then written batch by batch through the
importing user's session inside a savepoint, which a dry run (and a refused row in the
all-or-nothing mode) rolls back, so that either what the report says was written is
written, or nothing is."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from accord.core.bulk import insert_values
from accord.core.db import Base, utcnow
from accord.core.errors import AccordError
from accord.core.importing.fields import Importer, ImportRow, Refused, Written
from accord.core.importing.mapping import ColumnMap, map_columns
from accord.core.importing.parsers import NumberCell
from accord.core.importing.sheets import Sheet
from accord.core.numbers import Numbers, company_numbers

Progress = Callable[[int, int], None]
"""Called as ``progress(rows_done, rows_total)`` after each batch."""

_KEYS_PER_QUERY = 500


class ImportKey(Base):
    """Which record an external id was imported into, and a fingerprint of the cells it
    came with: a row seen again with the same cells is left alone (re-importing a file
    changes nothing); with other cells, it updates that record."""

    __tablename__ = "core_import_key"
    # Bookkeeping of the import machinery, written on the importing user's behalf: it
    # holds ids, never a record's content, and the records it points to stay protected.
    __access__ = False
    __audited__ = False

    importer: Mapped[str] = mapped_column(String(80), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(120))
    fingerprint: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class RowError:
    """Why a row was rejected: its number as the spreadsheet shows it, the column (its
    header in the file) when the problem is one cell's, and what to do."""

    line: int
    column: str | None
    message: str
    noun: str = "row"
    """``record`` for a JSON file's records: then ``line`` is the index in its array."""

    def __str__(self) -> str:
        where = f"record [{self.line}]" if self.noun == "record" else f"row {self.line}"
        if self.column is None:
            return f"{where}: {self.message}"
        label = "field" if self.noun == "record" else "column"
        return f"{where}, {label} {self.column!r}: {self.message}"


@dataclass(frozen=True)
class RowNote:
    """A row merged into an existing record, and which."""

    line: int
    record_id: str
    note: str


@dataclass
class ImportReport:
    """What an import did, or (dry run, or bad rows in the all-or-nothing mode) what it
    would do: the counts, each rejected row with its reasons, each merge."""

    importer: str
    file: str
    dry_run: bool
    skip_bad_rows: bool
    rows: int = 0
    created: int = 0
    merged: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    merges: list[RowNote] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    """Field name -> the column that filled it."""
    ignored_columns: tuple[str, ...] = ()
    written: bool = False

    @property
    def rejected(self) -> int:
        return len({error.line for error in self.errors})

    @property
    def outcome(self) -> str:
        if self.written:
            return "imported"
        if self.dry_run:
            return "dry run: nothing was written"
        return "nothing was imported"

    def summary(self) -> str:
        """One line a command prints at the end."""
        verbs = (
            ("created", "merged", "unchanged")
            if self.written
            else ("would create", "would merge", "unchanged")
        )
        counts = (
            f"{self.rows} rows: {verbs[0]} {self.created}, {verbs[1]} {self.merged}, "
            f"{verbs[2]} {self.unchanged}, rejected {self.rejected}"
        )
        if self.written or self.dry_run:
            tail = ""
            if self.dry_run and self.rejected and not self.skip_bad_rows:
                tail = "; with bad rows nothing is imported unless bad rows are skipped"
            return f"{self.outcome}; {counts}{tail}"
        return (
            f"nothing was imported: {self.rejected} of {self.rows} rows are bad; fix them, "
            f"or skip bad rows to import the {self.rows - self.rejected} good ones"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "importer": self.importer,
            "file": self.file,
            "dry_run": self.dry_run,
            "skip_bad_rows": self.skip_bad_rows,
            "written": self.written,
            "rows": self.rows,
            "created": self.created,
            "merged": self.merged,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": [
                {"row": error.line, "column": error.column, "message": error.message}
                for error in self.errors
            ],
            "merges": [
                {"row": merge.line, "record_id": merge.record_id, "note": merge.note}
                for merge in self.merges
            ],
            "mapping": self.mapping,
            "ignored_columns": list(self.ignored_columns),
        }


@dataclass(frozen=True)
class _Checked:
    row: ImportRow
    fingerprint: str


def check_rows(
    importer: Importer, sheet: Sheet, columns: ColumnMap, numbers: Numbers
) -> tuple[list[_Checked], list[RowError]]:
    """Parse every mapped cell, numbers as ``numbers`` writes them; the rows that passed
    and the errors of the others."""
    fields = sorted(
        ((importer.field(name), index) for name, index in columns.fields.items()),
        key=lambda pair: pair[0].name,
    )
    # Only a number parser is told a file's number cell from text (PlainNumber).
    plan = [
        (
            item.name,
            item.parse.in_locale(numbers) if isinstance(item.parse, NumberCell) else item.parse,
            isinstance(item.parse, NumberCell),
            item.required,
            index,
        )
        for item, index in fields
    ]
    indexes = [index for _, index in fields]
    width = max(indexes, default=-1) + 1
    pick = itemgetter(*indexes) if len(indexes) > 1 else lambda cells: (cells[indexes[0]],)
    external = importer.external_id if importer.external_id in columns.fields else None
    seen: dict[str, int] = {}
    good: list[_Checked] = []
    errors: list[RowError] = []
    for line, cells in sheet.rows:
        if len(cells) < width:  # a short row: its missing cells are blank
            cells = [*cells, *[""] * (width - len(cells))]
        raw: tuple[str, ...] = pick(cells) if indexes else ()
        values: dict[str, Any] = {}
        failed = False
        for (name, parse, by_locale, required, index), cell in zip(plan, raw, strict=True):
            if not cell:
                values[name] = None
                if required:
                    label = importer.field(name).label
                    errors.append(RowError(line, columns.headers[index], f"{label} is required"))
                    failed = True
                continue
            try:
                values[name] = parse(cell) if by_locale else parse(str(cell))
            except ValueError as error:
                errors.append(RowError(line, columns.headers[index], str(error)))
                failed = True
        key: str | None = None
        if external is not None and values.get(external) is not None:
            key = str(values[external])
            first = seen.setdefault(key, line)
            if first != line:
                errors.append(
                    RowError(
                        line,
                        columns.column_of(external),
                        f"{key!r} is already on row {first}; an external id names one record",
                    )
                )
                failed = True
        if failed:
            continue
        fingerprint = hashlib.blake2b("\x1f".join(raw).encode(), digest_size=16).hexdigest()
        good.append(_Checked(ImportRow(line, values, key), fingerprint))
    return good, errors


def run_import(
    session: Session,
    importer: Importer,
    sheet: Sheet,
    *,
    choices: Mapping[str, str] | None = None,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    numbers: Numbers | None = None,
) -> ImportReport:
    """Import ``sheet`` with ``importer`` through ``session`` (the importing user's).

    All or nothing by default: a bad row (a cell that does not parse, a required cell
    left blank, an external id seen twice, a row the importer refuses) and nothing is
    written. With ``skip_bad_rows`` the good rows are written and the bad ones reported.
    A ``dry_run`` reports what would happen and writes nothing. The caller commits.
    Numbers are read as ``numbers`` writes them: by default the company's
    (``[company] locale`` of the runtime that opened ``session``).

    Raises ``MappingError`` when the columns cannot be mapped (nothing is read then).
    """
    columns = map_columns(importer, sheet, choices)
    report = ImportReport(
        importer=importer.name,
        file=sheet.name,
        dry_run=dry_run,
        skip_bad_rows=skip_bad_rows,
        rows=len(sheet.rows),
        mapping={name: columns.headers[index] for name, index in columns.fields.items()},
        ignored_columns=columns.ignored,
    )
    with _collector_paused():
        good, errors = check_rows(importer, sheet, columns, numbers or company_numbers(session))
        report.errors.extend(errors)
        # With bad rows in the all-or-nothing mode nothing is kept, but the good rows are
        # still written and rolled back, so the report names every problem (the importer's
        # own refusals too) and the user fixes the file once.
        savepoint = session.begin_nested()
        try:
            _write(session, importer, columns, good, report, progress)
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise
    report.errors.sort(key=lambda error: error.line)
    if sheet.row_noun != "row":
        report.errors = [replace(error, noun=sheet.row_noun) for error in report.errors]
    keep = not dry_run and (skip_bad_rows or not report.errors)
    if keep:
        savepoint.commit()
    else:
        savepoint.rollback()
    report.written = keep
    return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector waits while the rows are checked and written. An import
    allocates a few dozen dicts, tuples and lists per row and keeps most of them (the
    file's rows, the batch's records) until it ends: the collector would walk them all
    again and again, a fifth of an import's time, to find the few reference cycles
    that it collects anyway once the import is over."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _write(
    session: Session,
    importer: Importer,
    columns: ColumnMap,
    rows: Sequence[_Checked],
    report: ImportReport,
    progress: Progress | None,
) -> None:
    done = report.rows - len(rows)  # the rejected rows are done with
    size = max(1, importer.batch_size)
    with _indexes_preferred(session):
        _write_batches(session, importer, columns, rows, report, progress, done, size)
    if progress is not None and not rows:
        progress(report.rows, report.rows)


@contextmanager
def _indexes_preferred(session: Session) -> Iterator[None]:
    """On PostgreSQL, let the batches' lookups (external ids, an importer's duplicates)
    use their indexes: inside the import's transaction the planner's statistics still
    describe the tables as they were before it, and it scans a whole table for each
    batch's list of keys, a time that grows with every batch written. A sequential scan
    stays possible where no index serves.

    Each lookup is also planned for its own keys: the driver prepares a statement run
    five times, and the server's generic plan for a list of 500 parameters compares
    every row with every parameter instead of hashing the list (a third of a second per
    batch of 20,000 import keys, against a few milliseconds planned with the values).
    The settings are the transaction's own and put back afterwards (a rollback undoes
    them anyway)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    previous = connection.exec_driver_sql(
        "SELECT current_setting('enable_seqscan'), current_setting('plan_cache_mode'),"
        " set_config('enable_seqscan', 'off', true),"
        " set_config('plan_cache_mode', 'force_custom_plan', true)"
    ).one()
    yield
    connection.exec_driver_sql(
        "SELECT set_config('enable_seqscan', %(seqscan)s, true),"
        " set_config('plan_cache_mode', %(plans)s, true)",
        {"seqscan": previous[0], "plans": previous[1]},
    )


def _write_batches(
    session: Session,
    importer: Importer,
    columns: ColumnMap,
    rows: Sequence[_Checked],
    report: ImportReport,
    progress: Progress | None,
    done: int,
    size: int,
) -> None:
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        known = _known_keys(session, importer.name, [c.row.external_id for c in batch])
        todo: list[_Checked] = []
        for checked in batch:
            seen = known.get(checked.row.external_id) if checked.row.external_id else None
            if seen is None:
                todo.append(checked)
            elif seen[1] == checked.fingerprint:
                report.unchanged += 1
            else:
                row = checked.row
                todo.append(
                    _Checked(
                        ImportRow(row.line, row.values, row.external_id, seen[0]),
                        checked.fingerprint,
                    )
                )
        if todo:
            outcomes = importer.write(session, [checked.row for checked in todo])
            if len(outcomes) != len(todo):
                raise AccordError(
                    f"importer {importer.name!r}: its write function answered "
                    f"{len(outcomes)} outcomes for {len(todo)} rows; it must answer one per row"
                )
            _record(session, importer, columns, todo, outcomes, known, report)
        done += len(batch)
        if progress is not None:
            progress(done, report.rows)


def _record(
    session: Session,
    importer: Importer,
    columns: ColumnMap,
    rows: Sequence[_Checked],
    outcomes: Sequence[Written | Refused],
    known: Mapping[str | None, tuple[str, str]],
    report: ImportReport,
) -> None:
    new_keys: list[dict[str, Any]] = []
    changed_keys: list[dict[str, Any]] = []
    now = utcnow()
    for checked, outcome in zip(rows, outcomes, strict=True):
        row = checked.row
        if isinstance(outcome, Refused):
            column = (
                columns.column_of(outcome.field)
                if outcome.field is not None and outcome.field in columns.fields
                else None
            )
            report.errors.append(RowError(row.line, column, outcome.message))
            continue
        record_id = str(outcome.record_id)
        if outcome.action == "created":
            report.created += 1
        else:
            report.merged += 1
            report.merges.append(RowNote(row.line, record_id, outcome.note))
        if row.external_id is None:
            continue
        key = {
            "importer": importer.name,
            "external_id": row.external_id,
            "record_id": record_id,
            "fingerprint": checked.fingerprint,
            "imported_at": now,
        }
        (changed_keys if row.external_id in known else new_keys).append(key)
    table = cast(Table, ImportKey.__table__)
    connection = session.connection()
    insert_values(connection, table, new_keys)
    if changed_keys:
        connection.execute(
            update(table)
            .where(
                table.c.importer == bindparam("b_importer"),
                table.c.external_id == bindparam("b_external_id"),
            )
            .values(
                record_id=bindparam("record_id"),
                fingerprint=bindparam("fingerprint"),
                imported_at=bindparam("imported_at"),
            ),
            [
                {
                    "b_importer": key["importer"],
                    "b_external_id": key["external_id"],
                    "record_id": key["record_id"],
                    "fingerprint": key["fingerprint"],
                    "imported_at": key["imported_at"],
                }
                for key in changed_keys
            ],
        )


def _known_keys(
    session: Session, importer: str, external_ids: Iterable[str | None]
) -> dict[str | None, tuple[str, str]]:
    wanted = [key for key in external_ids if key is not None]
    found: dict[str | None, tuple[str, str]] = {}
    table = cast(Table, ImportKey.__table__)
    connection = session.connection()
    # The keys as one expanding parameter: no bound parameter object built per key.
    query = select(table.c.external_id, table.c.record_id, table.c.fingerprint).where(
        table.c.importer == importer, table.c.external_id.in_(bindparam("keys", expanding=True))
    )
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        chunk = wanted[start : start + _KEYS_PER_QUERY]
        for external_id, record_id, fingerprint in connection.execute(query, {"keys": chunk}):
            found[external_id] = (record_id, fingerprint)
    return found
