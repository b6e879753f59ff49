"""Running the job runner: `[jobs]` settings drive it, it runs in a thread of the app
process by default, and it purges old done jobs and dispatched events, never dead jobs."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from accord.api import Activity, Partner, PartnerKind, emit
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.events import Job, JobKind, JobState, OutboxEvent
from accord.core.jobs import JobRunner, Worker, purge, start_in_process
from accord.core.runtime import Runtime

TEST = Principal.system("test")

pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


def test_jobs_settings_drive_the_runner_and_the_worker(
    accord_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_JOBS__LEASE_SECONDS", "42")
    monkeypatch.setenv("ACCORD_JOBS__BACKOFF_SECONDS", "3")
    monkeypatch.setenv("ACCORD_JOBS__BACKOFF_MAX_SECONDS", "60")
    monkeypatch.setenv("ACCORD_JOBS__POLL_SECONDS", "0.5")
    monkeypatch.setenv("ACCORD_JOBS__KEEP_DONE_DAYS", "30")
    runtime = Runtime(accord_config)
    runner = JobRunner(runtime)
    assert (
        runner.lease_seconds,
        runner.backoff_seconds,
        runner.backoff_max_seconds,
        runner.keep_done_days,
    ) == (42, 3, 60, 30)
    assert Worker(runner).poll_seconds == 0.5
    assert JobRunner(runtime, lease_seconds=2).lease_seconds == 2


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_in_process_runner_delivers_an_event_and_stops_cleanly(
    accord_db: Database, accord_runtime: Runtime
) -> None:
    worker = start_in_process(accord_runtime)
    assert worker is not None
    try:
        with accord_db.session(TEST) as session:
            partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
            session.add(partner)
            session.flush()
            payload = {"partner_id": partner.id, "body": "hello", "note_id": 1}
            emit(session, "dummy.note_published", payload)

        def delivered() -> bool:
            with accord_db.session(TEST) as session:
                count = session.scalar(
                    select(func.count())
                    .select_from(Activity)
                    .where(Activity.partner_id == partner.id)
                )
            return count == 1

        wait_for(delivered, 10, "the in-process runner to deliver the event")
    finally:
        assert worker.stop_thread(timeout=10)
    assert worker.thread is not None
    assert not worker.thread.is_alive()


def test_no_in_process_runner_when_a_worker_process_runs_the_jobs(
    accord_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_JOBS__IN_PROCESS", "false")
    assert start_in_process(Runtime(accord_config)) is None


def days_ago(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def add_job(db: Database, state: JobState, finished_days_ago: float | None) -> int:
    finished = None if finished_days_ago is None else days_ago(finished_days_ago)
    with db.session(TEST) as session:
        job = Job(
            kind=JobKind.JOB,
            target="dummy.purge_drafts",
            payload="{}",
            idempotency_key=f"test:{uuid.uuid4().hex}",
            state=state,
            run_after=finished or dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            finished_at=finished,
        )
        session.add(job)
        session.flush()
        return job.id


def add_event(db: Database, dispatched_days_ago: float | None) -> int:
    with db.session(TEST) as session:
        event = OutboxEvent(name="nobody.listens", payload="{}")
        if dispatched_days_ago is not None:
            event.dispatched_at = days_ago(dispatched_days_ago)
        session.add(event)
        session.flush()
        return event.id


def remaining(db: Database) -> tuple[list[int], list[int]]:
    with db.session(TEST) as session:
        jobs = session.scalars(select(Job.id).order_by(Job.id)).all()
        events = session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)).all()
    return list(jobs), list(events)


def test_purge_deletes_old_done_jobs_and_dispatched_events_but_never_dead_jobs(
    accord_db: Database, accord_cli: Callable[..., Result]
) -> None:
    add_job(accord_db, JobState.DONE, finished_days_ago=20)
    old_dead = add_job(accord_db, JobState.DEAD, finished_days_ago=20)
    recent_done = add_job(accord_db, JobState.DONE, finished_days_ago=1)
    pending = add_job(accord_db, JobState.PENDING, finished_days_ago=None)
    add_event(accord_db, dispatched_days_ago=20)
    recent_event = add_event(accord_db, dispatched_days_ago=1)
    undispatched = add_event(accord_db, dispatched_days_ago=None)

    purged = accord_cli("jobs", "purge")
    assert purged.exit_code == 0, purged.output
    assert purged.output.strip() == (
        "purged 1 done job(s) and 1 dispatched event(s) older than 14 day(s)"
    )
    assert remaining(accord_db) == (
        [old_dead, recent_done, pending],
        [recent_event, undispatched],
    )
    purged = accord_cli("jobs", "purge", "--older-than-days", "0")
    assert purged.output.startswith("purged 1 done job(s) and 1 dispatched event(s)")
    assert remaining(accord_db) == ([old_dead, pending], [undispatched])
    assert accord_cli("jobs", "purge", "--older-than-days", "0").output.startswith("purged 0")


def test_purge_works_in_batches_and_keeps_the_newest_row(accord_db: Database) -> None:
    # SQLite numbers a new row after the largest id present: were the newest event purged,
    # its id would come back, and with it the delivery keys of its dead jobs.
    events = [add_event(accord_db, dispatched_days_ago=30) for _ in range(5)]
    assert purge(accord_db, dt.timedelta(days=14), batch_size=2) == (0, 4)
    assert remaining(accord_db)[1] == events[-1:]


def test_the_runner_purges_when_it_starts_then_once_an_hour(
    accord_db: Database, accord_runtime: Runtime
) -> None:
    first = add_job(accord_db, JobState.DONE, finished_days_ago=20)
    add_job(accord_db, JobState.PENDING, finished_days_ago=None)  # not due: stays, newest
    runner = JobRunner(accord_runtime)
    runner.run_pending()
    assert first not in remaining(accord_db)[0]

    second = add_job(accord_db, JobState.DONE, finished_days_ago=20)
    add_job(accord_db, JobState.PENDING, finished_days_ago=None)
    runner.run_pending()
    assert second in remaining(accord_db)[0]  # within the hour: kept
    runner.next_purge = time.monotonic()
    runner.run_pending()
    assert second not in remaining(accord_db)[0]
