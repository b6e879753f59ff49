"""Creating many records at once, for an importer's write function: their keys taken from
the table's sequence in one query, their rows inserted by one executemany, their creation
audited in one more, with the access layer's create rules still applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Column, Table, delete, false, func, inspect, select
from sqlalchemy.orm import Session

from accord.core.access import AccessDeniedError, is_protected, principal_of
from accord.core.audit import record_creations
from accord.core.bulk import insert_values

_KEYS_PER_QUERY = 500


def insert_records(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> list[Any]:
    """Create one record of ``model`` per dictionary (attribute name -> value; every
    dictionary with the same keys), in order, through ``session``; their primary keys.

    The fast way for an importer's write function: the keys come from the table's
    sequence in one query, the rows go in one executemany and their audit entries (one
    per record) in another, instead of an object, a unit of work and an audit pass per
    row. The access layer still decides: a principal without a create grant on ``model``
    is refused before anything is written, and when its rules limit which rows it may
    create (a salesperson creating their own customers only, an activity that follows a
    lead the user may change), the created rows are read back through that rule at once
    and a single row outside it raises ``AccessDeniedError``, which rolls back the
    caller's unit of work. Mapper events (``before_insert``) do not run: give every value
    the record needs."""
    if not rows:
        return []
    _check_grant(session, model)
    mapper = inspect(model)
    table = cast(Table, mapper.local_table)
    if len(mapper.primary_key) != 1:
        raise TypeError(f"insert_records: {table.name} has a composite primary key")
    key = cast(Column[Any], mapper.primary_key[0])
    key_attribute = mapper.get_property_by_column(key).key
    ids = _new_keys(session, table, key, len(rows))
    columns = {name: mapper.get_property(name).columns[0].key for name in rows[0]}
    renamed = any(name != column for name, column in columns.items())
    values = [
        {
            key.key: record_id,
            **({columns[name]: value for name, value in row.items()} if renamed else row),
        }
        for record_id, row in zip(ids, rows, strict=True)
    ]
    insert_values(session.connection(), table, values)
    _check_created(session, model, getattr(model, key_attribute), ids)
    audited = (
        values
        if not renamed and key.key == key_attribute
        else [{key_attribute: record_id, **row} for record_id, row in zip(ids, rows, strict=True)]
    )
    record_creations(
        session,
        model,
        ((str(record_id), row) for record_id, row in zip(ids, audited, strict=True)),
    )
    return ids


def _check_grant(session: Session, model: type[Any]) -> None:
    """What the access layer checks before an INSERT statement of ``model``."""
    if not is_protected(model):
        return
    principal = principal_of(session)
    if principal is not None and principal.is_system:
        return
    table = model.__tablename__
    if principal is None or principal.policy is None:
        who = principal if principal is not None else "a session without a principal"
        raise AccessDeniedError(f"{who} may not create {table}")
    if not principal.policy.decide(principal.roles, table, "create").allowed:
        raise AccessDeniedError(f"{principal} may not create {table}: no rule grants it")


def _new_keys(session: Session, table: Table, key: Column[Any], count: int) -> list[int]:
    """``count`` new values of the integer primary key ``key``, as the database would
    give them."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, key.name)
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return sorted(connection.scalars(query))
    if dialect == "sqlite":
        # SQLite gives a new row the largest key plus one. Take the write lock first (a
        # statement that writes nothing still takes it), so that no other connection
        # inserts between the read and the INSERT.
        connection.execute(delete(table).where(false()))
        last = int(connection.scalar(select(func.coalesce(func.max(key), 0))) or 0)
        return list(range(last + 1, last + 1 + count))
    raise NotImplementedError(f"insert_records: no key allocation for {dialect!r}")


def _check_created(session: Session, model: type[Any], key: Any, ids: Sequence[Any]) -> None:
    principal = principal_of(session)
    if principal is None or principal.is_system or principal.policy is None:
        return
    condition = principal.policy.criteria(principal, model, "create")
    if condition is None:
        return
    allowed: set[Any] = set()
    connection = session.connection()
    for start in range(0, len(ids), _KEYS_PER_QUERY):
        chunk = ids[start : start + _KEYS_PER_QUERY]
        allowed.update(connection.scalars(select(key).where(key.in_(chunk), condition)))
    for record_id in ids:
        if record_id not in allowed:
            raise AccessDeniedError(
                f"{principal} may not create {model.__tablename__} #{record_id}: the record "
                "is outside what its rules allow"
            )


__all__ = ["insert_records"]
