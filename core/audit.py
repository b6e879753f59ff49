"""The audit log: every change to a business record, kept append-only.

Every mapped model is audited unless it says ``__audited__ = False``; one row per changed
field names the table, the record, the old and new value (JSON text), who did it
(``session.info["actor"]``), when, and the request or job (``session.info["context"]``).
Fields named in ``__audit_exclude__``, and fields whose name says they hold a secret, are
recorded as changed with ``"***"`` instead of their values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Table,
    Text,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, sessionmaker

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


class AuditLogImmutableError(AccordError):
    """Something tried to change or remove an audit entry."""


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
    """A record's audit entries, oldest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.model == model, AuditEntry.record_id == record_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return session.scalars(query).all()


def install_audit(sessions: sessionmaker[Session]) -> None:
    """Audit every session ``sessions`` makes, and refuse changes to the audit log."""
    event.listen(sessions, "before_flush", _refuse_changed_entries)
    event.listen(sessions, "after_flush", _write_entries)
    event.listen(sessions, "do_orm_execute", _refuse_bulk_changes)


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


def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEntry.__tablename__:
        verb = "updated" if state.is_update else "deleted"
        raise AuditLogImmutableError(
            f"table {AuditEntry.__tablename__!r}: the audit log is append-only; "
            f"its rows cannot be {verb}"
        )


def _write_entries(session: Session, flush_context: Any) -> None:
    # After the flush the new records have their keys, and until the flush ends the
    # attribute history still holds the old values.
    actor = str(session.info.get("actor") or UNKNOWN_ACTOR)
    context = str(session.info.get("context") or "")
    at = utcnow()
    rows: list[dict[str, Any]] = []
    for action, objects in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not is_audited(type(obj)):
                continue
            model, record_id = _table_name(obj), _record_id(obj)
            rows.extend(
                {
                    "model": model,
                    "record_id": record_id,
                    "field": field,
                    "old_value": old,
                    "new_value": new,
                    "action": action,
                    "actor": actor,
                    "at": at,
                    "context": context,
                }
                for field, old, new in _changes(obj, action)
            )
    if rows:
        session.connection().execute(insert(cast(Table, AuditEntry.__table__)), rows)


def _changes(obj: Any, action: str) -> list[tuple[str, str | None, str | None]]:
    state = inspect(obj)
    mapper: Mapper[Any] = state.mapper
    masked = set(getattr(type(obj), "__audit_exclude__", ()))
    changes: list[tuple[str, str | None, str | None]] = []
    for attribute in mapper.column_attrs:
        field = attribute.key
        if field in _NOT_AUDITED_FIELDS:
            continue
        secret = field in masked or any(word in field for word in _SECRET_WORDS)
        if action == "update":
            found = state.attrs[field].history
            if not found.has_changes():
                continue
            old = found.deleted[0] if found.deleted else None
            new = found.added[0] if found.added else None
            if found.deleted and old == new:
                continue
            changes.append((field, MASK, MASK) if secret else (field, _json(old), _json(new)))
            continue
        value = state.dict.get(field)
        if value is None:
            continue
        shown = MASK if secret else _json(value)
        changes.append((field, None, shown) if action == "create" else (field, shown, None))
    return changes


def _table_name(obj: Any) -> str:
    table = inspect(obj).mapper.local_table
    return str(getattr(table, "name", table))


def _record_id(obj: Any) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in key)


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
