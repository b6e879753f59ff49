"""Many rows into one table at the driver's speed, for the kernel's bulk writers (imported
records, their audit entries, import keys): one executemany of the driver on SQLite, one
COPY on PostgreSQL (a row costs the server a fraction of an INSERT's), with no SQLAlchemy
parameter set built per row.

Nothing here checks access or writes audit entries: the callers do (``insert_records``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table


def insert_values(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (column key -> value as Python holds it, every row with the same
    keys) into ``table``. Columns a row leaves out take their Python-side default, worked
    out once for all the rows (a timestamp default gives them all one time); values are
    converted by their column's type as SQLAlchemy would."""
    if not rows:
        return
    dialect = connection.dialect
    given = list(rows[0])
    columns = [table.c[key] for key in given]
    defaults: list[Any] = []
    for column in table.c:
        default = column.default
        if column.key in rows[0] or default is None or not hasattr(default, "arg"):
            continue
        if getattr(default, "is_sequence", False) or getattr(default, "is_clause_element", False):
            continue
        value = default.arg(None) if getattr(default, "is_callable", False) else default.arg
        columns.append(column)
        defaults.append(value)
    processors = [column.type._cached_bind_processor(dialect) for column in columns]
    converted_defaults = tuple(
        processor(value) if processor is not None else value
        for processor, value in zip(processors[len(given) :], defaults, strict=True)
    )
    converting = [
        (position, processor)
        for position, processor in enumerate(processors[: len(given)])
        if processor is not None
    ]
    pick = itemgetter(*given)
    # The last value converted at each position: a batch's rows often share one object
    # (the time they were imported at), converted once then.
    last: list[list[Any]] = [[_NOTHING, None] for _ in converting]
    tuples: list[tuple[Any, ...]] = []
    for row in rows:
        picked = pick(row)
        values = picked if len(given) > 1 else (picked,)
        if converting:
            changed = list(values)
            for (position, processor), seen in zip(converting, last, strict=True):
                value = changed[position]
                if value is None:
                    continue
                if value is not seen[0]:
                    seen[0], seen[1] = value, processor(value)
                changed[position] = seen[1]
            values = tuple(changed)
        tuples.append(values + converted_defaults)
    insert_tuples(connection, table, [column.name for column in columns], tuples)


_NOTHING = object()


def insert_tuples(
    connection: Connection,
    table: Table | str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``rows``, each a tuple of values as the driver takes them, in the order of
    ``columns`` (names of ``table``'s columns)."""
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    name = table.name if isinstance(table, Table) else table
    listed = ", ".join(quote(column) for column in columns)
    driver: Any = connection.connection.driver_connection
    if dialect.name == "postgresql" and hasattr(driver, "cursor"):
        cursor = driver.cursor()
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor, cursor.copy(f"COPY {quote(name)} ({listed}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        cursor.close()
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    values = f"({', '.join([mark] * len(columns))})"
    connection.exec_driver_sql(f"INSERT INTO {quote(name)} ({listed}) VALUES {values}", list(rows))


class PreparedInsert:
    """An INSERT of the same columns of one table, written once per dialect as the driver's
    SQL with the columns' value converters: for the kernel's own rows written on every
    change (audit entries, workflow history, outbox events), which a Core ``insert()``
    would compile, look up in its cache and convert afresh at each execution, at several
    times the driver's cost per row. Statement events (SQL logging, statement counts)
    still see it."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._prepared: dict[str, tuple[str, tuple[Any, ...]]] = {}

    def __call__(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows``, each the values of ``columns`` in their order as Python holds
        them (a datetime, not its text): one execute, an executemany for several."""
        if not rows:
            return
        dialect = connection.dialect
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            prepared = self._prepared[dialect.name] = self._prepare(dialect)
        sql, processors = prepared
        converted = [
            tuple(
                value if processor is None or value is None else processor(value)
                for processor, value in zip(processors, row, strict=True)
            )
            for row in rows
        ]
        connection.exec_driver_sql(sql, converted[0] if len(converted) == 1 else converted)

    def _prepare(self, dialect: Dialect) -> tuple[str, tuple[Any, ...]]:
        quote = dialect.identifier_preparer.quote
        listed = ", ".join(quote(self.table.c[name].name) for name in self.columns)
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * len(self.columns))
        processors = tuple(
            self.table.c[name].type._cached_bind_processor(dialect) for name in self.columns
        )
        return f"INSERT INTO {quote(self.table.name)} ({listed}) VALUES ({marks})", processors
