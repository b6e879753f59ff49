"""The job runner: claims due jobs under a lease, runs subscribers and job types, retries
with exponential backoff, and keeps what keeps failing (or fails for good: a
``PermanentJobError``) as dead for `accord jobs retry`.

A job's own work and the row that marks it done commit in one transaction, and that row is
only written while this worker still holds the job's lease: a worker killed mid-job leaves
nothing of it, and once the lease expires another worker runs it again, exactly once. A live
worker renews the leases of the jobs it holds, so a long job is not taken over.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.contributions import Event, EventSubscriber, JobType, Schedule
from accord.core.db import Database, utcnow
from accord.core.errors import PluginError
from accord.core.events import (
    DEFAULT_MAX_ATTEMPTS,
    Job,
    JobKind,
    JobState,
    OutboxEvent,
    dispatch,
    insert_job,
)
from accord.core.runtime import Runtime

SYSTEM = Principal.system("jobs")
"""Jobs act as the system; the audit log names each job run in its context."""

log = logging.getLogger("accord.jobs")

CLAIM_BATCH = 10
"""Due jobs claimed per transaction; those waiting behind a running job keep their lease."""
BATCH_SECONDS = 1.0
"""Once a batch has been held this long, its jobs not started yet go back to the queue, so
that another worker runs them rather than waiting behind a slow job."""
PURGE_EVERY_SECONDS = 3600.0
"""How often a runner deletes old done jobs and dispatched events."""
PURGE_BATCH = 1000
"""Rows deleted per transaction by a purge, so it never holds a long lock."""
DELIVERY_KEY = "accord.delivery_key"


class LeaseLostError(Exception):
    """Another worker took the job over (this one was too slow); its work is rolled back."""


class PermanentJobError(Exception):
    """A job's failure that no retry can mend (a mail server refusing the address for good):
    the runner marks the job dead at once, with this error as its last error, instead of
    retrying it until its attempts run out."""


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: JobKind
    target: str
    payload: dict[str, Any]
    key: str
    attempts: int
    max_attempts: int | None
    created_at: dt.datetime


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def delivery_key(session: Session) -> str | None:
    """The idempotency key of the delivery a subscriber or job is running in: pass it to a
    mail transport, webhook or ERP call so a retried delivery is recognised there."""
    key = session.info.get(DELIVERY_KEY)
    return key if isinstance(key, str) else None


def period_start(cron: str, now: dt.datetime) -> dt.datetime:
    """The start of the period of the cron expression (read in UTC) that ``now`` is in."""
    from croniter import croniter

    start: dt.datetime = croniter(cron, now).get_prev(dt.datetime)
    return start.astimezone(dt.UTC)


def retry(db: Database, job_id: int) -> bool:
    """Put a dead (or failing) job back in the queue with fresh attempts; False when no
    such job is waiting for a retry."""
    with db.session(SYSTEM, writes=True) as session:
        result = cast(
            CursorResult[Any],
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state.in_([JobState.DEAD, JobState.PENDING]))
                .values(
                    state=JobState.PENDING,
                    attempts=0,
                    run_after=utcnow(),
                    finished_at=None,
                    locked_by=None,
                    locked_until=None,
                )
            ),
        )
        return result.rowcount == 1


def run_pending(runtime: Runtime, limit: int = 100) -> int:
    """Run what is due now in this process (tests, `accord worker --once`)."""
    return JobRunner(runtime).run_pending(limit)


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(Job.state == JobState.PENDING, Job.run_after <= now),
        and_(Job.state == JobState.RUNNING, Job.locked_until < now),
    )


def claim(
    db: Database,
    worker_id: str,
    lease_seconds: float,
    now: dt.datetime | None = None,
    limit: int = CLAIM_BATCH,
) -> list[Claimed]:
    """Take up to ``limit`` due jobs (or jobs whose worker's lease ran out) for
    ``worker_id`` in one transaction, oldest due first: two workers never hold the same
    job. Counts each job's attempt.

    One conditional UPDATE picks and marks them: on PostgreSQL another worker skips the rows
    this one locked, on SQLite it waits for the single writer lock and then sees them taken;
    either way the due condition is checked again on the row being marked."""
    now = now or utcnow()
    candidates = select(Job.id).where(_due(now)).order_by(Job.run_after, Job.id).limit(limit)
    with db.session(SYSTEM, writes=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(Job)
            .where(Job.id.in_(candidates), _due(now))
            .values(
                state=JobState.RUNNING,
                locked_by=worker_id,
                locked_until=now + dt.timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1,
            )
            .returning(
                Job.id,
                Job.kind,
                Job.target,
                Job.payload,
                Job.idempotency_key,
                Job.attempts,
                Job.max_attempts,
                Job.run_after,
                Job.created_at,
            )
        )
        rows = session.connection().execute(statement).all()
    return [
        Claimed(
            id=row.id,
            kind=row.kind,
            target=row.target,
            payload=json.loads(row.payload),
            key=row.idempotency_key,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            created_at=row.created_at,
        )
        for row in sorted(rows, key=lambda row: (row.run_after, row.id))
    ]


def purge(
    db: Database,
    older_than: dt.timedelta,
    *,
    now: dt.datetime | None = None,
    batch_size: int = PURGE_BATCH,
) -> tuple[int, int]:
    """Delete done jobs that finished, and outbox events dispatched, more than
    ``older_than`` ago, ``batch_size`` rows per transaction. Dead jobs stay until someone
    retries them. Returns the numbers of jobs and of events deleted."""
    cutoff = (now or utcnow()) - older_than
    # A done job was due before it finished: the run_after condition changes no answer and
    # lets the (state, run_after) index find the rows.
    jobs = _delete_in_batches(
        db,
        Job,
        and_(Job.state == JobState.DONE, Job.finished_at < cutoff, Job.run_after < cutoff),
        batch_size,
    )
    events = _delete_in_batches(db, OutboxEvent, OutboxEvent.dispatched_at < cutoff, batch_size)
    return jobs, events


def _delete_in_batches(
    db: Database, model: type[Job] | type[OutboxEvent], condition: Any, batch_size: int
) -> int:
    deleted = 0
    while True:
        with db.session(SYSTEM, writes=True) as session:
            # The newest row stays: SQLite numbers a new row after the largest id present,
            # and an event id reused after a purge would collide with the delivery keys
            # ("<event id>:<subscriber>") of its namesake's dead jobs.
            newest = select(func.max(model.id)).scalar_subquery()
            chosen = (
                select(model.id)
                .where(condition, model.id < newest)
                .order_by(model.id)
                .limit(batch_size)
            )
            result = session.connection().execute(delete(model).where(model.id.in_(chosen)))
        deleted += result.rowcount
        if result.rowcount < batch_size:
            return deleted


def release(db: Database, worker_id: str, jobs: list[Claimed]) -> None:
    """Give jobs that ``worker_id`` claimed but did not start back to the queue, their
    attempt uncounted."""
    with db.session(SYSTEM, writes=True) as session:
        session.connection().execute(
            update(Job)
            .where(
                Job.id.in_([claimed.id for claimed in jobs]),
                Job.state == JobState.RUNNING,
                Job.locked_by == worker_id,
            )
            .values(
                state=JobState.PENDING,
                locked_by=None,
                locked_until=None,
                attempts=Job.attempts - 1,
            )
        )


class LeaseKeeper:
    """The jobs a runner holds: the one running and the ones claimed with it, waiting their
    turn. A thread of its own renews their leases every third of the lease, so a long job
    stays with its worker (when the worker dies the renewals stop, and its jobs are taken
    over once their lease ends), and gives the waiting ones back to the queue once they
    have waited ``BATCH_SECONDS``, so that another worker runs them."""

    def __init__(self, db: Database, worker_id: str, lease_seconds: float) -> None:
        self.db = db
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._waiting: list[Claimed] = []
        self._running: Claimed | None = None
        self._claimed_at = 0.0
        self._lock = threading.Lock()
        self._giving_back = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, batch: list[Claimed]) -> None:
        """Keep the leases of a batch just claimed; ``next`` hands its jobs out in order."""
        with self._lock:
            self._waiting.extend(batch)
            self._claimed_at = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._beat, name=f"accord-lease-{self.worker_id}", daemon=True
            )
            self._thread.start()

    def next(self) -> Claimed | None:
        """The next job to run, None when none is held (any more)."""
        with self._lock:
            self._running = self._waiting.pop(0) if self._waiting else None
            return self._running

    def give_back(self) -> None:
        """Return the jobs still waiting to the queue (stopping, overdue, or an error)."""
        with self._giving_back:
            with self._lock:
                jobs, self._waiting = self._waiting, []
            if not jobs:
                return
            try:
                release(self.db, self.worker_id, jobs)
            except SQLAlchemyError as error:
                # No longer held: their lease runs out and another worker runs them.
                log.warning(
                    "worker %s: cannot give back %d job(s): %s", self.worker_id, len(jobs), error
                )

    def settle(self) -> None:
        """Wait for jobs being given back to be in the queue again. A worker that finds
        nothing more to run claims again: jobs the lease thread took from it a moment ago,
        still marked as its own until that release commits, would be neither run by it
        nor found by its claim, and would wait for the next worker."""
        with self._giving_back:
            pass

    def renew(self) -> int:
        """Extend the lease of every job held that this worker still holds; returns how
        many."""
        with self._lock:
            held = [claimed.id for claimed in self._waiting]
            if self._running is not None:
                held.append(self._running.id)
        if not held:
            return 0
        try:
            with self.db.session(SYSTEM, writes=True) as session:
                result = session.connection().execute(
                    update(Job)
                    .where(
                        Job.id.in_(held),
                        Job.state == JobState.RUNNING,
                        Job.locked_by == self.worker_id,
                    )
                    .values(locked_until=utcnow() + dt.timedelta(seconds=self.lease_seconds))
                )
        except SQLAlchemyError as error:
            # On SQLite a job that has run a statement holds the one write lock until it
            # commits (its unit of work takes the lock with its first statement): the
            # renewal waits out busy_timeout, and no other worker can take a job over
            # meanwhile either. The next beat tries again.
            log.info("worker %s: cannot renew leases now: %s", self.worker_id, error)
            return 0
        renewed: int = result.rowcount
        return renewed

    def close(self) -> None:
        """Give back what still waits and stop renewing."""
        self.give_back()
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self) -> None:
        renewed_at = time.monotonic()
        while not self._closed.wait(min(self.lease_seconds / 3, BATCH_SECONDS / 2)):
            with self._lock:
                overdue = bool(self._waiting) and (
                    time.monotonic() - self._claimed_at > BATCH_SECONDS
                )
            if overdue:
                self.give_back()
            if time.monotonic() - renewed_at >= self.lease_seconds / 3:
                self.renew()
                renewed_at = time.monotonic()


class JobRunner:
    """Runs the jobs of one configuration: the subscribers, job types and schedules its
    plugins contribute. Leases, retry waits and purges follow ``[jobs]`` in accord.toml;
    the keyword arguments override them (tests, `accord worker --lease`)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        backoff_seconds: float | None = None,
        backoff_max_seconds: float | None = None,
        keep_done_days: int | None = None,
    ) -> None:
        settings = runtime.settings.jobs
        self.runtime = runtime
        self.worker_id = worker_id or new_worker_id()
        self.lease_seconds = settings.lease_seconds if lease_seconds is None else lease_seconds
        self.backoff_seconds = (
            settings.backoff_seconds if backoff_seconds is None else backoff_seconds
        )
        self.backoff_max_seconds = (
            settings.backoff_max_seconds if backoff_max_seconds is None else backoff_max_seconds
        )
        self.keep_done_days = settings.keep_done_days if keep_done_days is None else keep_done_days
        self.next_purge = 0.0
        """When (time.monotonic()) run_pending purges next; the first run purges."""
        # Built once: it is the one statement every job runs.
        self._mark_done = (
            update(Job)
            .where(Job.id == bindparam("job_id"), *self._held_by_me())
            .values(
                state=JobState.DONE,
                finished_at=bindparam("finished_at", type_=Job.finished_at.type),
                locked_by=None,
                locked_until=None,
                last_error=None,
            )
        )
        self.subscribers: dict[str, EventSubscriber] = {
            item.name: item for item in runtime.pm.collect("accord_event_subscribers")
        }
        self.job_types: dict[str, JobType] = {
            item.name: item for item in runtime.pm.collect("accord_jobs")
        }
        self.schedules: list[Schedule] = list(runtime.pm.collect("accord_schedules"))
        from croniter import croniter

        for schedule in self.schedules:
            if not croniter.is_valid(schedule.cron):
                raise PluginError(
                    f"schedule {schedule.name!r}: {schedule.cron!r} is not a cron expression "
                    "(five fields: minute hour day month weekday, e.g. '0 6 * * *')"
                )

    @property
    def db(self) -> Database:
        return self.runtime.db

    def dispatch(self) -> int:
        return dispatch(self.db, list(self.subscribers.values()))

    def tick_schedules(self, now: dt.datetime | None = None) -> int:
        """Enqueue each schedule's job for the period ``now`` falls in, unless some worker
        already did: the period is in the job's unique key. Returns the jobs added."""
        now = now or utcnow()
        added = 0
        with self.db.session(SYSTEM, writes=True) as session:
            for schedule in self.schedules:
                start = period_start(schedule.cron, now)
                added += insert_job(
                    session,
                    kind=JobKind.JOB,
                    target=schedule.job,
                    payload=json.dumps(schedule.payload),
                    key=f"schedule:{schedule.name}:{start.isoformat()}",
                )
        return added

    def purge_if_due(self) -> tuple[int, int] | None:
        """Purge old done jobs and dispatched events if the last purge was an hour ago;
        returns what was deleted, None when it was not time. A failure only logs."""
        if time.monotonic() < self.next_purge:
            return None
        self.next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        try:
            purged = purge(self.db, dt.timedelta(days=self.keep_done_days))
            self.db.refresh_statistics()  # hourly, so plans follow the data's growth
            return purged
        except SQLAlchemyError:
            log.exception("worker %s: cannot purge old jobs now", self.worker_id)
            return None

    def run_pending(
        self,
        limit: int = 100,
        now: dt.datetime | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Dispatch the outbox, start due schedules, purge if due, then run due jobs until
        none is left, ``limit`` ran, or ``stop`` is set. Returns the number of jobs run,
        failed ones included."""
        self.dispatch()
        if self.schedules:
            self.tick_schedules(now)
        self.purge_if_due()

        def stopping() -> bool:
            return stop is not None and stop.is_set()

        ran = 0
        leases = LeaseKeeper(self.db, self.worker_id, self.lease_seconds)
        try:
            while ran < limit and not stopping():
                leases.settle()
                batch = claim(
                    self.db, self.worker_id, self.lease_seconds, now, min(CLAIM_BATCH, limit - ran)
                )
                if not batch:
                    break
                leases.hold(batch)
                while not stopping() and (claimed := leases.next()) is not None:
                    self.run(claimed, now)
                    ran += 1
        finally:
            leases.close()
        return ran

    def run(self, claimed: Claimed, now: dt.datetime | None = None) -> bool:
        """Run one claimed job; returns whether it is done.

        The job's unit of work is a writing one (``writes=True``): on SQLite it takes the
        write lock with its first statement, waiting for a web request that holds it, so a
        job that reads (in a savepoint, say) and then writes is not refused with "database
        is locked" because another writer committed in between. Until its first statement
        it holds nothing: a job that calls out first (a mail delivery) blocks no writer
        meanwhile."""
        try:
            with self.db.session(SYSTEM, context=f"job:{claimed.id}", writes=True) as session:
                session.info[DELIVERY_KEY] = claimed.key
                self._call(session, claimed)
                finished = session.connection().execute(
                    self._mark_done, {"job_id": claimed.id, "finished_at": utcnow()}
                )
                if finished.rowcount != 1:
                    raise LeaseLostError(f"job {claimed.id}: lease lost to another worker")
        except LeaseLostError as error:
            log.warning("%s", error)
            return False
        except Exception as error:
            self._failed(claimed, error, now or utcnow())
            return False
        return True

    def _call(self, session: Session, claimed: Claimed) -> None:
        if claimed.kind == JobKind.SUBSCRIBER:
            subscriber = self.subscribers.get(claimed.target)
            if subscriber is None:
                raise LookupError(f"no event subscriber named {claimed.target!r} is enabled")
            subscriber.handle(session, Event(subscriber.event, claimed.payload, claimed.created_at))
            return
        job_type = self.job_types.get(claimed.target)
        if job_type is None:
            raise LookupError(f"no job type named {claimed.target!r} is enabled")
        job_type.run(session, claimed.payload)

    def _held_by_me(self) -> tuple[Any, ...]:
        return (Job.state == JobState.RUNNING, Job.locked_by == self.worker_id)

    def _max_attempts(self, claimed: Claimed) -> int:
        if claimed.max_attempts is not None:
            return claimed.max_attempts
        job_type = self.job_types.get(claimed.target)
        return job_type.max_attempts if job_type is not None else DEFAULT_MAX_ATTEMPTS

    def _failed(self, claimed: Claimed, error: Exception, now: dt.datetime) -> None:
        message = "".join(traceback.format_exception_only(error)).strip()
        permanent = isinstance(error, PermanentJobError)
        log.warning(
            "job %s (%s) failed%s: %s",
            claimed.id,
            claimed.target,
            " for good" if permanent else "",
            message,
        )
        if permanent or claimed.attempts >= self._max_attempts(claimed):
            values: dict[str, Any] = {"state": JobState.DEAD, "finished_at": now}
        else:
            delay = min(
                self.backoff_max_seconds, self.backoff_seconds * 2 ** (claimed.attempts - 1)
            )
            values = {"state": JobState.PENDING, "run_after": now + dt.timedelta(seconds=delay)}
        with self.db.session(SYSTEM, writes=True) as session:
            session.connection().execute(
                update(Job)
                .where(Job.id == claimed.id, *self._held_by_me())
                .values(locked_by=None, locked_until=None, last_error=message[:4000], **values)
            )


class Worker:
    """Runs jobs until ``stop`` is set: the loop of `accord worker`, or of a thread in the
    app process (the embedded default, on SQLite)."""

    def __init__(
        self,
        runner: JobRunner,
        *,
        poll_seconds: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.runner = runner
        self.poll_seconds = (
            runner.runtime.settings.jobs.poll_seconds if poll_seconds is None else poll_seconds
        )
        self.stop = stop or threading.Event()
        self.thread: threading.Thread | None = None

    def run(self) -> None:
        log.info("worker %s started", self.runner.worker_id)
        while not self.stop.is_set():
            try:
                ran = self.runner.run_pending(stop=self.stop)
            except Exception:
                log.exception("worker %s: cannot run jobs now", self.runner.worker_id)
                ran = 0
            if ran == 0:
                self.stop.wait(self.poll_seconds)
        log.info("worker %s stopped", self.runner.worker_id)

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread of this process; ``stop_thread`` ends it."""
        self.thread = threading.Thread(target=self.run, name="accord-jobs", daemon=True)
        self.thread.start()
        return self.thread

    def stop_thread(self, timeout: float | None = 30.0) -> bool:
        """Stop the loop once the job it is running ends, and wait for that; the jobs it
        claimed but did not start go back to the queue. Returns False when the running job
        outlasts ``timeout`` (the daemon thread then dies with the process, and the job's
        lease hands it to the next worker)."""
        self.stop.set()
        if self.thread is None:
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()


def start_in_process(runtime: Runtime) -> Worker | None:
    """Start the embedded job runner in a thread of this process, when ``[jobs] in_process``
    is on (the default): the web app calls it at start-up and ``worker.stop_thread()`` at
    shutdown. Returns None when `accord worker` processes run the jobs instead."""
    if not runtime.settings.jobs.in_process:
        return None
    worker = Worker(JobRunner(runtime))
    worker.start_thread()
    return worker
