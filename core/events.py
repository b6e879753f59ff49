"""The transactional outbox: ``emit`` records a fact in the caller's transaction, and
dispatch turns each committed fact into one delivery (a job row) per subscriber, so a crash
loses nothing and delivers nothing twice (DESIGN rule 5)."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Index, Row, String, Table, Text, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from accord.core.access import Principal
from accord.core.contributions import EventSubscriber
from accord.core.db import Base, Database, created_at, intpk, str_enum, utcnow

SYSTEM = Principal.system("dispatch")
DEFAULT_MAX_ATTEMPTS = 5
"""Attempts of a subscriber's delivery, and of a job enqueued without its own limit."""
DISPATCH_BATCH = 100
"""Events turned into deliveries per transaction: one commit for many events, and a batch
small enough that a concurrent dispatcher finds the next one."""


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class JobKind(enum.StrEnum):
    SUBSCRIBER = "subscriber"
    JOB = "job"


class OutboxEvent(Base):
    """A fact emitted in a transaction, waiting to be dispatched to its subscribers."""

    __tablename__ = "core_outbox"
    __table_args__ = (Index("ix_core_outbox_undispatched", "dispatched_at", "id"),)
    __audited__ = False  # bookkeeping: the changes it records are audited where they happen
    __access__ = False  # written by the kernel on everybody's behalf, never shown as a record

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[created_at]
    dispatched_at: Mapped[dt.datetime | None]


class Job(Base):
    """One delivery to a subscriber, or one run of a job type, with its retries."""

    __tablename__ = "core_job"
    __table_args__ = (Index("ix_core_job_due", "state", "run_after"),)
    __audited__ = False
    __access__ = False

    id: Mapped[intpk]
    kind: Mapped[JobKind] = mapped_column(str_enum(JobKind))
    target: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[JobState] = mapped_column(
        str_enum(JobState),
        default=JobState.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int | None]
    run_after: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    """When it was asked for; for a subscriber's delivery, when its event was emitted."""
    finished_at: Mapped[dt.datetime | None]


def emit(session: Session, name: str, payload: dict[str, Any], *, key: str | None = None) -> None:
    """Record the event ``name`` in the caller's transaction; its subscribers run after
    commit. ``key`` makes deliveries idempotent across emits of the same fact (a webhook
    received twice): each subscriber then gets it once."""
    session.add(OutboxEvent(name=name, payload=json.dumps(payload), key=key))


def emit_many(session: Session, name: str, payloads: Sequence[dict[str, Any]]) -> None:
    """``emit`` of the same event for many records in one statement (an import of
    thousands of rows): each payload is one event, delivered as if emitted one by one."""
    if not payloads:
        return
    now = utcnow()
    session.connection().execute(
        insert(cast(Table, OutboxEvent.__table__)),
        [
            {"name": name, "payload": json.dumps(payload), "key": None, "created_at": now}
            for payload in payloads
        ],
    )


def enqueue(
    session: Session,
    job_name: str,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    max_attempts: int | None = None,
    run_after: dt.datetime | None = None,
) -> bool:
    """Start the job type ``job_name`` after commit. With ``key`` a second enqueue of the same
    key does nothing; returns whether a job was added."""
    return insert_job(
        session,
        kind=JobKind.JOB,
        target=job_name,
        payload=json.dumps(payload or {}),
        key=key or f"job:{job_name}:{_unique()}",
        max_attempts=max_attempts,
        run_after=run_after,
    )


def insert_job(
    session: Session,
    *,
    kind: JobKind,
    target: str,
    payload: str,
    key: str,
    max_attempts: int | None = None,
    run_after: dt.datetime | None = None,
) -> bool:
    """Add a job unless one with ``key`` exists (also against a concurrent transaction)."""
    values = job_values(kind, target, payload, key, max_attempts, run_after)
    statement = _insert_new_jobs(session).values(**values).returning(Job.id)
    session.flush()
    return session.connection().execute(statement).first() is not None


def job_values(
    kind: JobKind,
    target: str,
    payload: str,
    key: str,
    max_attempts: int | None = None,
    run_after: dt.datetime | None = None,
    created_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The columns of a new pending job, for ``insert_job`` and the batches of dispatch."""
    now = utcnow()
    return {
        "kind": kind,
        "target": target,
        "payload": payload,
        "idempotency_key": key,
        "state": JobState.PENDING,
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": run_after or now,
        "created_at": created_at or now,
    }


def _insert_new_jobs(session: Session) -> Any:
    """An INSERT into the job table that skips a row whose idempotency key exists."""
    from sqlalchemy.dialects import postgresql, sqlite

    # Both dialects spell "skip a duplicate key" the same way, on their own Insert class.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(Job).on_conflict_do_nothing(index_elements=["idempotency_key"])


def dispatch(
    db: Database,
    subscribers: list[EventSubscriber],
    limit: int = 1000,
    batch_size: int = DISPATCH_BATCH,
) -> int:
    """Turn undispatched outbox rows into deliveries, ``batch_size`` events per transaction
    together with their deliveries, until none is left (or ``limit``); running it twice, or
    in two processes at once, delivers each event once. Returns the number of events
    dispatched."""
    by_event: dict[str, list[EventSubscriber]] = {}
    for subscriber in subscribers:
        by_event.setdefault(subscriber.event, []).append(subscriber)
    dispatched = 0
    while dispatched < limit:
        wanted = min(batch_size, limit - dispatched)
        with db.session(SYSTEM) as session:
            events = _take_events(session, wanted)
            # Keyed by idempotency key: the same fact emitted twice in one batch (a webhook
            # received twice) is one delivery, as it is across batches.
            deliveries: dict[str, dict[str, Any]] = {}
            for event in events:
                prefix = event.key or str(event.id)
                for subscriber in by_event.get(event.name, []):
                    key = f"{prefix}:{subscriber.name}"
                    deliveries.setdefault(
                        key,
                        job_values(
                            JobKind.SUBSCRIBER,
                            subscriber.name,
                            event.payload,
                            key,
                            max_attempts=DEFAULT_MAX_ATTEMPTS,
                            created_at=event.created_at,  # the subscriber's Event.occurred_at
                        ),
                    )
            if deliveries:
                session.connection().execute(_insert_new_jobs(session), list(deliveries.values()))
        dispatched += len(events)
        if len(events) < wanted:
            break
    return dispatched


def _take_events(session: Session, count: int) -> list[Row[int, str, str, str | None, dt.datetime]]:
    """Mark up to ``count`` undispatched events dispatched and return them, oldest first.

    One conditional UPDATE does both, so two dispatchers never take the same event: on
    PostgreSQL the candidates are locked and another dispatcher skips them (and re-checks
    ``dispatched_at`` on any row it waited for); on SQLite the statement runs under the
    single writer lock and sees the other dispatcher's committed marks."""
    candidates = (
        select(OutboxEvent.id)
        .where(OutboxEvent.dispatched_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(count)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(OutboxEvent)
        .where(OutboxEvent.id.in_(candidates), OutboxEvent.dispatched_at.is_(None))
        .values(dispatched_at=utcnow())
        .returning(
            OutboxEvent.id,
            OutboxEvent.name,
            OutboxEvent.payload,
            OutboxEvent.key,
            OutboxEvent.created_at,
        )
    )
    return sorted(session.connection().execute(statement).all(), key=lambda event: event.id)


def _unique() -> str:
    import uuid

    return uuid.uuid4().hex
