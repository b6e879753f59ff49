"""The outbox: an event is kept only if its transaction commits, and reaches each subscriber
once, however often dispatch runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from accord.api import Activity, Event, EventSubscriber, Partner, PartnerKind, emit, enqueue
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.events import Job, JobKind, JobState, OutboxEvent, dispatch
from accord.core.jobs import JobRunner
from accord.core.runtime import Runtime

TEST = Principal.system("test")

# The dummy add-on and its dist-info become importable, as after `pip install`.
pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


def published(db: Database, note_id: int = 7, *, key: str | None = None) -> int:
    """Emits the dummy add-on's event in a committed transaction; returns the partner id."""
    with db.session(TEST) as session:
        partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
        session.add(partner)
        session.flush()
        payload = {"partner_id": partner.id, "body": "hello", "note_id": note_id}
        emit(session, "dummy.note_published", payload, key=key)
        return partner.id


def notes_on_timeline(db: Database, partner_id: int) -> int:
    with db.session(TEST) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Activity).where(Activity.partner_id == partner_id)
            )
            or 0
        )


def test_emit_in_a_rolled_back_transaction_leaves_no_event(accord_db: Database) -> None:
    def failing_change() -> None:
        with accord_db.session(TEST) as session:
            emit(session, "dummy.note_published", {"note_id": 1})
            session.flush()
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    with accord_db.session(TEST) as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_committed_event_reaches_the_subscriber_once_even_if_dispatched_twice(
    accord_db: Database, accord_runtime: Runtime
) -> None:
    partner_id = published(accord_db)
    runner = JobRunner(accord_runtime)
    assert runner.dispatch() == 1
    assert runner.dispatch() == 0
    # A second dispatcher that saw the row before it was marked still adds no delivery.
    with accord_db.session(TEST) as session:
        event = session.scalars(select(OutboxEvent)).one()
        event.dispatched_at = None
    assert runner.dispatch() == 1

    runner.run_pending()
    runner.run_pending()
    assert notes_on_timeline(accord_db, partner_id) == 1
    with accord_db.session(TEST) as session:
        job = session.scalars(select(Job).where(Job.kind == JobKind.SUBSCRIBER)).one()
        assert (job.state, job.target, job.attempts) == (JobState.DONE, "dummy.note_on_timeline", 1)
        assert job.idempotency_key == f"{event.id}:dummy.note_on_timeline"


def test_a_subscriber_that_runs_late_is_told_when_its_event_was_emitted(
    accord_db: Database, accord_runtime: Runtime
) -> None:
    published(accord_db)
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with accord_db.session(TEST) as session:
        session.scalars(select(OutboxEvent)).one().created_at = yesterday  # the worker was down
    received: list[Event] = []
    runner = JobRunner(accord_runtime)
    runner.subscribers["dummy.note_on_timeline"] = EventSubscriber(
        "dummy.note_on_timeline",
        "dummy.note_published",
        lambda session, event: received.append(event),
    )
    runner.run_pending()
    [event] = received
    assert (event.name, event.occurred_at) == ("dummy.note_published", yesterday)


def test_the_same_key_emitted_twice_is_delivered_once(
    accord_db: Database, accord_runtime: Runtime
) -> None:
    first = published(accord_db, key="webhook:42")
    published(accord_db, key="webhook:42")
    JobRunner(accord_runtime).run_pending()
    assert notes_on_timeline(accord_db, first) == 1


def test_enqueue_with_a_key_twice_adds_one_job(accord_db: Database) -> None:
    with accord_db.session(TEST) as session:
        assert enqueue(session, "dummy.purge_drafts", {}, key="purge:today")
        assert not enqueue(session, "dummy.purge_drafts", {}, key="purge:today")
    with accord_db.session(TEST) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_two_dispatchers_at_once_deliver_each_event_once(
    accord_db: Database, accord_runtime: Runtime, accord_config: Path, at_once: Any
) -> None:
    with accord_db.session(TEST) as session:
        for note_id in range(250):
            emit(session, "dummy.note_published", {"note_id": note_id})
    subscribers = list(JobRunner(accord_runtime).subscribers.values())
    counts = at_once(
        accord_config, lambda runtime: dispatch(runtime.db, subscribers, batch_size=10)
    )
    assert sum(counts) == 250
    with accord_db.session(TEST) as session:
        payloads = session.scalars(select(Job.payload).where(Job.kind == JobKind.SUBSCRIBER)).all()
        undispatched = session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
        )
    assert sorted(json.loads(payload)["note_id"] for payload in payloads) == list(range(250))
    assert undispatched == 0
