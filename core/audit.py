"""The audit log: every change to a business record, kept append-only.

Every mapped model is audited unless it says ``__audited__ = False``; one row per changed
field names the table, the record, the old and new value (JSON text), who did it
(``session.info["actor"]``), when, and the request or job (``session.info["context"]``).
Fields named in ``__audit_exclude__``, and fields whose name says they hold a secret, are
recorded as changed with ``"***"`` instead of their values.

A creation is one row, not one per field: its field is ``"*"`` (``CREATED``) and its new
value the JSON object of the values the record was created with, so that creating a
record costs one audit row (an import of 100,000 leads writes 100,000 entries, not 1.8
million). ``history`` gives it back as one entry per field, as a change is read.

Two paths are recorded, in the transaction of the change: objects flushed by the session,
and UPDATE and DELETE statements run through ``Session.execute()`` (``update(Partner)
.where(...).values(...)``, bulk UPDATE by primary key, ``delete(Partner).where(...)``). For
a statement, the rows it will touch are read first (and locked on PostgreSQL), then read
again by key once it ran, and the difference is recorded.

Rows the database changes by itself when a record is deleted, through ``ON DELETE
CASCADE`` or ``SET NULL`` foreign keys (a partner's addresses, activities and external
ids), are recorded too, on both paths: just before the record's DELETE runs, the rows that
still refer to it are read (and, through further cascades, the rows that refer to those)
and recorded as deleted, or as their reference cleared, streamed in batches of
``_CASCADE_BATCH`` so that a partner with a hundred thousand activities is never held in
memory at once, each batch's entries written by the bulk writer (``accord.core.bulk``) as
an import's are (bench/partner_delete.py).

Not seen: plain Core statements run on ``session.connection()`` or on an engine (left to
the kernel's bookkeeping and migrations). Code that writes records its own way (the
workflow engine's UPDATE of a state) records the change with ``record_changes``, which
writes entries exactly as the two paths do.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Delete,
    ForeignKeyConstraint,
    Index,
    Integer,
    Result,
    Select,
    String,
    Table,
    Text,
    Update,
    and_,
    event,
    inspect,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, sessionmaker

from accord.core.bulk import PreparedInsert, insert_tuples
from accord.core.db import Base, utcnow
from accord.core.errors import AccordError

UNKNOWN_ACTOR = "system:unknown"
MASK = "***"
# Bookkeeping columns: the entry's own time says when a record changed.
_NOT_AUDITED_FIELDS = frozenset({"created_at", "updated_at"})
_SECRET_WORDS = ("password", "secret", "token")
# The kernel's own bookkeeping (outbox, job queue) changes constantly and is no business
# record; these tables stay unaudited even if their models do not say so.
_BOOKKEEPING_TABLES = frozenset({"core_audit", "core_outbox", "core_job", "alembic_version"})
# Records read per query when looking rows up by key: well below every driver's limit on
# bound parameters.
_KEYS_PER_QUERY = 500
# Rows of a cascade read, and their entries written, per round trip.
_CASCADE_BATCH = 500
# How many levels of cascades (a partner's activities' attachments...) are followed.
_CASCADE_DEPTH = 8
_TABLES_SEEN = "accord.audit.tables"

CREATED = "*"
"""The field of a creation's entry, whose new value holds every field's initial value."""

Change = tuple[str, str, str, Any, Any]
"""One entry to write: action, record id, field, old value, new value (as Python holds
them; masked and shown as JSON when written)."""
Key = tuple[Any, ...]
Values = tuple[Any, ...]


class AuditLogImmutableError(AccordError):
    """Something tried to change or remove an audit entry."""


class UnauditableChangeError(AccordError):
    """A statement would change records in a way the audit log cannot record."""


class AuditEntry(Base):
    """One field of one record changed (or was set on create, or cleared on delete)."""

    __tablename__ = "core_audit"
    __table_args__ = (Index("ix_core_audit_record", "model", "record_id", "at", "id"),)
    __audited__ = False

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(80))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    context: Mapped[str] = mapped_column(String(120), default="")


def user_actor(user_id: int, login: str) -> str:
    return f"user:{user_id}:{login}"


def system_actor(name: str) -> str:
    return f"system:{name}"


def is_audited(model: type[Any]) -> bool:
    table = getattr(model, "__tablename__", None)
    return table not in _BOOKKEEPING_TABLES and bool(getattr(model, "__audited__", True))


def audited_tables(models: Iterable[Any]) -> list[str]:
    """The table names of the audited ones among ``models`` (classes or plain Tables)."""
    return sorted(
        model.__tablename__
        for model in models
        if isinstance(model, type) and hasattr(model, "__tablename__") and is_audited(model)
    )


def history(session: Session, model: str, record_id: str) -> Sequence[AuditEntry]:
    """A record's audit entries, oldest first; its creation as one entry per field set
    (``field``, ``new_value`` as JSON, or ``"***"`` when masked), in the model's column
    order. Those entries are not in the session."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.model == model, AuditEntry.record_id == record_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    entries: list[AuditEntry] = []
    for entry in session.scalars(query):
        if entry.action == "create" and entry.field == CREATED:
            entries.extend(creation_entries(entry))
        else:
            entries.append(entry)
    return entries


def creation_entries(entry: AuditEntry) -> list[AuditEntry]:
    """A creation's entry (``field == CREATED``) as one entry per field, exactly as a
    per-field change is written: the value as JSON, ``"***"`` for a masked one."""
    model = _model_named(entry.model)
    values = json.loads(entry.new_value or "{}")
    return [
        AuditEntry(
            id=entry.id,
            model=entry.model,
            record_id=entry.record_id,
            field=field,
            old_value=None,
            new_value=(
                MASK
                if value == MASK and (model is None or _is_secret(model, field))
                else _json(value)
            ),
            action="create",
            actor=entry.actor,
            at=entry.at,
            context=entry.context,
        )
        for field, value in values.items()
    ]


def _model_named(table: str) -> type[Any] | None:
    for mapper in Base.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table:
            return mapper.class_
    return None


def record_changes(
    session: Session,
    model: type[Any],
    record_id: str,
    changes: Iterable[tuple[str, Any, Any]],
    action: str = "update",
    *,
    at: dt.datetime | None = None,
) -> None:
    """Record, in the session's transaction, that the record ``record_id`` of ``model``
    changed: one entry per ``(field, old, new)``, values as Python holds them. Masked and
    signed as flushed changes are: ``"***"`` for a field in ``__audit_exclude__`` or with a
    secret-looking name, ``session.info``'s actor and context, ``at`` (default now).

    For writes that bypass the session's flush, e.g. the workflow engine's UPDATE of the
    state: ``record_changes(session, Offer, "12", [("state", "draft", "sent")])``. A
    ``"create"`` is one entry holding every field (see ``CREATED``)."""
    if action == "create":
        shown = _creation_value(model, ((field, new) for field, _, new in changes))
        entries: Iterable[Change] = [(action, record_id, CREATED, None, shown)]
    else:
        entries = ((action, record_id, field, old, new) for field, old, new in changes)
    _write(session, _table_of(model), model, entries, at)


def record_creations(
    session: Session, model: type[Any], records: Iterable[tuple[str, Mapping[str, Any]]]
) -> None:
    """Record that the records ``(record id, {field: value})`` of ``model`` were created:
    one entry per record holding the fields given a value (not ``None``, not an empty
    text), masked and signed as a flush's entries are. For records inserted by a statement
    (an import's multi-row INSERT), which the flush never sees: tens of thousands of
    entries go in one executemany of the driver, without building SQLAlchemy parameters
    row by row."""
    table = _table_of(model)
    actor = str(session.info.get("actor") or UNKNOWN_ACTOR)
    context = str(session.info.get("context") or "")
    connection = session.connection()
    dialect = connection.dialect
    columns = cast(Table, AuditEntry.__table__).c
    at_processor = columns.at.type._cached_bind_processor(dialect)
    when = at_processor(utcnow()) if at_processor else utcnow()
    fields: set[str] = set()  # the fields whose treatment is known
    masked: set[str] = set()
    skipped = set(_NOT_AUDITED_FIELDS)
    encode = json.JSONEncoder(default=_plain, ensure_ascii=False).encode  # json.dumps's, once
    rows: list[tuple[Any, ...]] = []
    for record_id, values in records:
        if not fields.issuperset(values):
            for name in values:
                if name not in fields and name not in skipped and _is_secret(model, name):
                    masked.add(name)
            fields.update(values)
        kept = {
            name: value
            for name, value in values.items()
            if value is not None and value != "" and name not in skipped
        }
        if masked:
            kept.update((name, MASK) for name in masked.intersection(kept))
        if kept:
            rows.append((table, record_id, CREATED, encode(kept), "create", actor, when, context))
    insert_tuples(
        connection,
        "core_audit",
        ("model", "record_id", "field", "new_value", "action", "actor", "at", "context"),
        rows,
    )


def _creation_value(model: type[Any], values: Iterable[tuple[str, Any]]) -> str:
    """The new value of a creation's entry: the JSON object of ``(field, value)``."""
    kept = {
        field: MASK if _is_secret(model, field) else value
        for field, value in values
        if field not in _NOT_AUDITED_FIELDS
    }
    return json.dumps(kept, default=_plain, ensure_ascii=False)


def install_audit(sessions: sessionmaker[Session]) -> None:
    """Audit every session ``sessions`` makes, and refuse changes to the audit log.

    Install it after the access checks: a bulk statement is recorded as they narrowed it.
    """
    event.listen(sessions, "before_flush", _refuse_changed_entries)
    event.listen(sessions, "after_flush", _write_entries)
    event.listen(sessions, "do_orm_execute", _audit_statement)
    event.listen(sessions, "after_transaction_end", _forget_tables)
    if not event.contains(Base, "before_delete", _audit_cascades_of_object):
        event.listen(Base, "before_delete", _audit_cascades_of_object, propagate=True)


# --- the audit log itself -------------------------------------------------------------------


def _refuse_changed_entries(session: Session, flush_context: Any, instances: Any) -> None:
    for entry in session.dirty:
        if isinstance(entry, AuditEntry) and session.is_modified(entry):
            raise AuditLogImmutableError(
                f"audit entry {entry.id}: the audit log is append-only; it cannot be changed"
            )
    for entry in session.deleted:
        if isinstance(entry, AuditEntry):
            raise AuditLogImmutableError(
                f"audit entry {entry.id}: the audit log is append-only; it cannot be deleted"
            )


_INSERT_ENTRIES = PreparedInsert(
    cast(Table, AuditEntry.__table__),
    ("model", "record_id", "field", "old_value", "new_value", "action", "actor", "at", "context"),
)


def _write(
    session: Session,
    table: str,
    model: type[Any],
    changes: Iterable[Change],
    at: dt.datetime | None = None,
    connection: Connection | None = None,
) -> None:
    """The one place an entry's row is made: values masked or shown as JSON (a create has
    no old value, a delete no new one), signed with the session's actor and context."""
    actor = str(session.info.get("actor") or UNKNOWN_ACTOR)
    context = str(session.info.get("context") or "")
    when = at or utcnow()
    rows: list[tuple[Any, ...]] = []
    for action, record_id, field, old, new in changes:
        if field == CREATED:  # ``new`` is the creation's object, shown already
            rows.append((table, record_id, field, None, new, action, actor, when, context))
            continue
        secret = _is_secret(model, field)
        old_value = None if action == "create" else MASK if secret else _json(old)
        new_value = None if action == "delete" else MASK if secret else _json(new)
        rows.append((table, record_id, field, old_value, new_value, action, actor, when, context))
    if rows:
        _INSERT_ENTRIES(connection or session.connection(), rows)


def _is_secret(model: type[Any], field: str) -> bool:
    masked = getattr(model, "__audit_exclude__", ())
    return field in masked or any(word in field for word in _SECRET_WORDS)


# --- flushed objects ------------------------------------------------------------------------


def _write_entries(session: Session, flush_context: Any) -> None:
    # After the flush the new records have their keys, and until the flush ends the
    # attribute history still holds the old values.
    by_model: dict[type[Any], list[Change]] = {}
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not is_audited(type(obj)):
                continue
            record_id = _record_id(obj)
            fields = _changes(obj, action)
            if action == "create":
                shown = _creation_value(type(obj), ((field, new) for field, _, new in fields))
                by_model.setdefault(type(obj), []).append((action, record_id, CREATED, None, shown))
                continue
            by_model.setdefault(type(obj), []).extend(
                (action, record_id, field, old, new) for field, old, new in fields
            )
    for model, changes in by_model.items():
        _write(session, _table_of(model), model, changes)


def _changes(obj: Any, action: str) -> list[tuple[str, Any, Any]]:
    state = inspect(obj)
    mapper: Mapper[Any] = state.mapper
    changes: list[tuple[str, Any, Any]] = []
    for attribute in mapper.column_attrs:
        field = attribute.key
        if field in _NOT_AUDITED_FIELDS:
            continue
        if action == "update":
            found = state.attrs[field].history
            if not found.has_changes():
                continue
            old = found.deleted[0] if found.deleted else None
            new = found.added[0] if found.added else None
            if found.deleted and old == new:
                continue
            changes.append((field, old, new))
            continue
        value = state.dict.get(field)
        if value is None:
            continue
        changes.append((field, None, value) if action == "create" else (field, value, None))
    return changes


def _table_of(model: type[Any]) -> str:
    table = inspect(model).local_table
    return str(getattr(table, "name", table))


def _record_id(obj: Any) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return _shown_key(key)


def _shown_key(key: Iterable[Any]) -> str:
    return ",".join(str(part) for part in key)


# --- UPDATE and DELETE statements -----------------------------------------------------------


def _audit_statement(state: ORMExecuteState) -> Result[Any] | None:
    """Run an UPDATE or DELETE of an audited model between two reads of the rows it
    touches, and record the difference; refuse one on the audit log."""
    if not (state.is_update or state.is_delete):
        return None
    statement = cast(Update | Delete, state.statement)
    table = statement.table
    name = str(getattr(table, "name", ""))
    verb = "updated" if state.is_update else "deleted"
    if name == AuditEntry.__tablename__:
        raise AuditLogImmutableError(
            f"table {name!r}: the audit log is append-only; its rows cannot be {verb}"
        )
    mapper = state.bind_mapper or _mapper_of(table)
    if mapper is None:
        return None
    session = state.session
    if not is_audited(mapper.class_):
        if state.is_delete:
            # Its rows are bookkeeping, but the rows the database deletes with them may not be.
            parameters = cast(Mapping[str, Any], state.parameters or {})
            _audit_cascades(
                session, session.connection(), mapper.local_table, statement.whereclause, parameters
            )
        return None
    if (
        state.is_orm_statement
        and session.autoflush
        and state.execution_options.get("autoflush", True)
    ):
        # The statement would flush pending changes before it runs; the rows read here
        # must be the ones it sees.
        session.flush()
    fields = _fields(mapper)
    query = select(*mapper.primary_key, *(column for _, column in fields)).with_for_update(
        of=mapper.local_table
    )
    connection = session.connection()
    if state.is_executemany:
        keys = _keys_of_parameter_sets(state, mapper, name, verb)
        before = _read_by_keys(connection, query, mapper, keys)
    else:
        matching = query if statement.whereclause is None else query.where(statement.whereclause)
        parameters = cast(Mapping[str, Any], state.parameters or {})
        before = _rows(connection.execute(matching, parameters), mapper)
    if state.is_delete and before:
        parameters = cast(Mapping[str, Any], state.parameters or {})
        _audit_cascades(session, connection, mapper.local_table, statement.whereclause, parameters)
    result = state.invoke_statement()
    if state.is_delete:
        after: dict[Key, Values] = {}
    else:
        after = _read_by_keys(connection, query, mapper, list(before))
    _check_all_seen(session, result, name, before, after, state)
    changes = _differences(mapper, fields, before, after, state.is_update)
    _write(session, name, mapper.class_, changes)
    return result


def _mapper_of(table: Any) -> Mapper[Any] | None:
    """The mapper of a plain Table statement passed to ``Session.execute()``."""
    for mapper in Base.registry.mappers:
        if mapper.local_table is table and (
            mapper.inherits is None or mapper.inherits.local_table is not table
        ):
            return mapper
    return None


def _fields(mapper: Mapper[Any]) -> list[tuple[str, Column[Any]]]:
    fields = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if attribute.key not in _NOT_AUDITED_FIELDS and isinstance(column, Column):
            fields.append((attribute.key, column))
    return fields


def _keys_of_parameter_sets(
    state: ORMExecuteState, mapper: Mapper[Any], table: str, verb: str
) -> list[Key]:
    """For a bulk UPDATE by primary key: the key of each parameter set."""
    if not (state.is_orm_statement and state.is_update):
        raise UnauditableChangeError(
            f"table {table!r}: rows {verb} by a statement with several parameter sets "
            f"cannot be audited; use update({mapper.class_.__name__}) with one dictionary "
            "per record that names its primary key, or change the records one by one"
        )
    names = [mapper.get_property_by_column(column).key for column in mapper.primary_key]
    keys = []
    for number, parameters in enumerate(cast(list[Mapping[str, Any]], state.parameters), 1):
        missing = [name for name in names if name not in parameters]
        if missing:
            raise UnauditableChangeError(
                f"bulk UPDATE of {table!r}: parameter set {number} has no "
                f"{', '.join(map(repr, missing))}; each record must be named by its "
                "primary key"
            )
        keys.append(tuple(parameters[name] for name in names))
    return keys


def _read_by_keys(
    connection: Connection, query: Select[Any], mapper: Mapper[Any], keys: Sequence[Key]
) -> dict[Key, Values]:
    columns = list(mapper.primary_key)
    found: dict[Key, Values] = {}
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        wanted: ColumnElement[bool] = (
            columns[0].in_([key[0] for key in chunk])
            if len(columns) == 1
            else tuple_(*columns).in_(chunk)
        )
        found.update(_rows(connection.execute(query.where(wanted)), mapper))
    return found


def _rows(result: Result[Any], mapper: Mapper[Any]) -> dict[Key, Values]:
    # A join in the statement's WHERE may yield a record more than once.
    width = len(mapper.primary_key)
    return {tuple(row[:width]): tuple(row[width:]) for row in result}


def _check_all_seen(
    session: Session,
    result: Result[Any],
    table: str,
    before: Mapping[Key, Values],
    after: Mapping[Key, Values],
    state: ORMExecuteState,
) -> None:
    """Refuse, and roll back, a statement that changed rows the reads did not see: one
    that changed primary keys, or (PostgreSQL, READ COMMITTED) rows another transaction
    made match its WHERE between the read and the statement."""
    is_update = state.is_update
    gone = [key for key in before if key not in after] if is_update else []
    touched = -1
    # Only a WHERE can match rows unseen: a bulk UPDATE by primary key names its rows (and
    # may name one twice). SQLite, whose rowcount is unreliable with RETURNING, runs one
    # writer at a time.
    if (
        not state.is_executemany
        and isinstance(result, CursorResult)
        and getattr(result.dialect, "supports_sane_rowcount_returning", False)
    ):
        touched = result.rowcount
    if not gone and touched <= len(before):
        return
    result.close()
    session.rollback()
    if gone:
        raise UnauditableChangeError(
            f"bulk UPDATE of {table!r} changed the primary key of record "
            f"#{_shown_key(gone[0])}; the audit log follows a record by its key: change "
            "keys one record at a time through the ORM; the transaction was rolled back"
        )
    raise UnauditableChangeError(
        f"bulk {'UPDATE' if is_update else 'DELETE'} of {table!r} touched {touched} rows, "
        f"{len(before)} of them were read before: another transaction changed rows "
        "meanwhile; the transaction was rolled back, run it again"
    )


def _differences(
    mapper: Mapper[Any],
    fields: Sequence[tuple[str, Column[Any]]],
    before: Mapping[Key, Values],
    after: Mapping[Key, Values],
    is_update: bool,
) -> list[Change]:
    names = [field for field, _ in fields]
    changes: list[Change] = []
    for key, old_values in before.items():
        record_id = _shown_key(key)
        if is_update:
            for field, old, new in zip(names, old_values, after[key], strict=True):
                if old != new:
                    changes.append(("update", record_id, field, old, new))
        else:
            for field, old in zip(names, old_values, strict=True):
                if old is not None:
                    changes.append(("delete", record_id, field, old, None))
    return changes


# --- rows the database changes through foreign keys ------------------------------------------


def _audit_cascades_of_object(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    """Before the session's DELETE of ``target``: record what the database will cascade.
    Rows the session deletes or detaches itself (a relationship's cascade) are gone or
    detached by now, and recorded by the flush."""
    session = inspect(target).session
    if session is None:
        return
    table = mapper.local_table
    if not isinstance(table, Table):
        return
    key = mapper.primary_key_from_instance(target)
    condition = and_(
        *(column == value for column, value in zip(mapper.primary_key, key, strict=True))
    )
    _audit_cascades(session, connection, table, condition, {})


def _audit_cascades(
    session: Session,
    connection: Connection,
    table: Any,
    condition: ColumnElement[bool] | None,
    parameters: Mapping[str, Any],
    depth: int = 0,
) -> None:
    """Record the changes that deleting the rows of ``table`` selected by ``condition``
    makes the database do through foreign keys: referring rows deleted (CASCADE, and what
    refers to those in turn) or their reference cleared (SET NULL)."""
    if depth >= _CASCADE_DEPTH:
        return
    for child, foreign_key, rule in _referring(table):
        if not _table_exists(session, connection, child):
            continue
        referring = _refers_to(foreign_key, condition)
        mapper = _mapper_of(child)
        if mapper is not None and is_audited(mapper.class_):
            _record_referring_rows(
                session, connection, mapper, foreign_key, rule, referring, parameters
            )
        if rule == "CASCADE":
            _audit_cascades(session, connection, child, referring, parameters, depth + 1)


def _referring(table: Any) -> list[tuple[Table, ForeignKeyConstraint, str]]:
    """The declared foreign keys that make the database change rows when a row of
    ``table`` is deleted, with their rule (looked up again once more models are declared)."""
    cached = _REFERRING.get(table)
    if cached is not None and cached[0] == len(Base.metadata.tables):
        return cached[1]
    found = []
    for child in Base.metadata.tables.values():
        for foreign_key in child.foreign_key_constraints:
            rule = (foreign_key.ondelete or "").upper()
            if rule in ("CASCADE", "SET NULL") and foreign_key.referred_table is table:
                found.append((child, foreign_key, rule))
    _REFERRING[table] = (len(Base.metadata.tables), found)
    return found


_REFERRING: dict[Any, tuple[int, list[tuple[Table, ForeignKeyConstraint, str]]]] = {}


def _table_exists(session: Session, connection: Connection, table: Table) -> bool:
    """Whether this database has ``table`` (the models of every plugin imported in the
    process are declared, not only those of the enabled plugins); asked once per
    transaction."""
    known: dict[str, bool] = session.info.setdefault(_TABLES_SEEN, {})
    if table.name not in known:
        known[table.name] = inspect(connection).has_table(table.name)
    return known[table.name]


def _forget_tables(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_TABLES_SEEN, None)


def _refers_to(
    foreign_key: ForeignKeyConstraint, condition: ColumnElement[bool] | None
) -> ColumnElement[bool]:
    """The rows of the foreign key's table that refer to the parent rows ``condition``
    selects."""
    columns = [element.parent for element in foreign_key.elements]
    referred = [element.column for element in foreign_key.elements]
    parents = select(*referred)
    if condition is not None:
        parents = parents.where(condition)
    if len(columns) == 1:
        return columns[0].in_(parents)
    return tuple_(*columns).in_(parents)


def _record_referring_rows(
    session: Session,
    connection: Connection,
    mapper: Mapper[Any],
    foreign_key: ForeignKeyConstraint,
    rule: str,
    referring: ColumnElement[bool],
    parameters: Mapping[str, Any],
) -> None:
    fields = _fields(mapper)
    if rule == "SET NULL":
        cleared = {element.parent.key for element in foreign_key.elements}
        fields = [(field, column) for field, column in fields if column.key in cleared]
    width = len(mapper.primary_key)
    query = (
        select(*mapper.primary_key, *(column for _, column in fields))
        .where(referring)
        .with_for_update(of=mapper.local_table)
    )
    rows = connection.execute(query, dict(parameters), execution_options={"stream_results": True})
    # A partner's thousands of activities make tens of thousands of entries: they go to the
    # bulk writer as the driver takes them, as an import's creations do, made exactly as
    # ``_write`` makes them (masked or JSON, signed, one time for all).
    model = mapper.class_
    table = _table_of(model)
    action = "update" if rule == "SET NULL" else "delete"
    actor = str(session.info.get("actor") or UNKNOWN_ACTOR)
    context = str(session.info.get("context") or "")
    at_processor = _AUDIT_COLUMNS.at.type._cached_bind_processor(connection.dialect)
    when = at_processor(utcnow()) if at_processor else utcnow()
    secret = [_is_secret(model, field) for field, _ in fields]
    nulled = None if action == "delete" else _json(None)  # SET NULL: the new value
    for batch in rows.partitions(_CASCADE_BATCH):
        entries: list[tuple[Any, ...]] = []
        for row in batch:
            record_id = _shown_key(row[:width])
            for (field, _), masked, old in zip(fields, secret, row[width:], strict=True):
                if old is None:
                    continue
                shown = (
                    MASK
                    if masked
                    else _json_text(old)
                    if type(old) is str
                    else str(old)
                    if type(old) is int
                    else _json(old)
                )
                new = MASK if masked and nulled else nulled
                entries.append((table, record_id, field, shown, new, action, actor, when, context))
        insert_tuples(connection, "core_audit", _ENTRY_COLUMNS, entries)


_AUDIT_COLUMNS = cast(Table, AuditEntry.__table__).c
_json_text = cast(Any, json.encoder).encode_basestring
"""``_json`` of a text (``ensure_ascii=False``), without the encoder around it."""
_ENTRY_COLUMNS = (
    *("model", "record_id", "field", "old_value", "new_value"),
    *("action", "actor", "at", "context"),
)


def _json(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
