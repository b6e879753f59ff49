"""The job runner: claims due jobs under a lease, runs subscribers and job types, retries
with exponential backoff, and keeps what keeps failing as dead for `accord jobs retry`.

A job's own work and the row that marks it done commit in one transaction, and that row is
only written while this worker still holds the job's lease: a worker killed mid-job leaves
nothing of it, and once the lease expires another worker runs it again, exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.contributions import Event, EventSubscriber, JobType, Schedule
from accord.core.db import Database, utcnow
from accord.core.errors import PluginError
from accord.core.events import DEFAULT_MAX_ATTEMPTS, Job, JobKind, JobState, dispatch, insert_job
from accord.core.runtime import Runtime

SYSTEM = Principal.system("jobs")
"""Jobs act as the system; the audit log names each job run in its context."""

log = logging.getLogger("accord.jobs")

LEASE_SECONDS = 300.0
"""How long a claimed job is reserved for its worker; after that a crash is assumed."""
POLL_SECONDS = 1.0
BACKOFF_SECONDS = 10.0
"""The first retry waits this long, each next one twice as long..."""
BACKOFF_CAP_SECONDS = 3600.0
"""...up to this."""
DELIVERY_KEY = "accord.delivery_key"


class LeaseLostError(Exception):
    """Another worker took the job over (this one was too slow); its work is rolled back."""


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: JobKind
    target: str
    payload: dict[str, Any]
    key: str
    attempts: int
    max_attempts: int | None


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
    with db.session(SYSTEM) as session:
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
    lease_seconds: float = LEASE_SECONDS,
    now: dt.datetime | None = None,
) -> Claimed | None:
    """Take one due job (or one whose worker's lease ran out) for ``worker_id``, atomically:
    two workers never hold the same job. Counts the attempt."""
    now = now or utcnow()
    with db.session(SYSTEM) as session:
        query = select(Job.id).where(_due(now)).order_by(Job.run_after, Job.id).limit(10)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for job_id in session.scalars(query).all():
            # The condition is checked again by the UPDATE itself, so a worker that read the
            # same candidate first wins and this one moves on.
            taken = cast(
                CursorResult[Any],
                session.execute(
                    update(Job)
                    .where(Job.id == job_id, _due(now))
                    .values(
                        state=JobState.RUNNING,
                        locked_by=worker_id,
                        locked_until=now + dt.timedelta(seconds=lease_seconds),
                        attempts=Job.attempts + 1,
                    )
                ),
            )
            if taken.rowcount == 1:
                job = session.get_one(Job, job_id)
                session.refresh(job)
                return Claimed(
                    id=job.id,
                    kind=job.kind,
                    target=job.target,
                    payload=json.loads(job.payload),
                    key=job.idempotency_key,
                    attempts=job.attempts,
                    max_attempts=job.max_attempts,
                )
    return None


class JobRunner:
    """Runs the jobs of one configuration: the subscribers, job types and schedules its
    plugins contribute."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        worker_id: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        backoff_seconds: float = BACKOFF_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.worker_id = worker_id or new_worker_id()
        self.lease_seconds = lease_seconds
        self.backoff_seconds = backoff_seconds
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
        with self.db.session(SYSTEM) as session:
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

    def run_pending(self, limit: int = 100, now: dt.datetime | None = None) -> int:
        """Dispatch the outbox, start due schedules, then run due jobs until none is left
        (or ``limit``). Returns the number of jobs run, failed ones included."""
        self.dispatch()
        if self.schedules:
            self.tick_schedules(now)
        ran = 0
        while ran < limit:
            claimed = claim(self.db, self.worker_id, self.lease_seconds, now)
            if claimed is None:
                break
            self.run(claimed, now)
            ran += 1
        return ran

    def run(self, claimed: Claimed, now: dt.datetime | None = None) -> bool:
        """Run one claimed job; returns whether it is done."""
        try:
            with self.db.session(SYSTEM, context=f"job:{claimed.id}") as session:
                session.info[DELIVERY_KEY] = claimed.key
                self._call(session, claimed)
                finished = cast(
                    CursorResult[Any],
                    session.execute(
                        update(Job)
                        .where(*self._still_mine(claimed))
                        .values(
                            state=JobState.DONE,
                            finished_at=utcnow(),
                            locked_by=None,
                            locked_until=None,
                            last_error=None,
                        )
                    ),
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
            subscriber.handle(session, Event(subscriber.event, claimed.payload))
            return
        job_type = self.job_types.get(claimed.target)
        if job_type is None:
            raise LookupError(f"no job type named {claimed.target!r} is enabled")
        job_type.run(session, claimed.payload)

    def _still_mine(self, claimed: Claimed) -> tuple[Any, ...]:
        return (
            Job.id == claimed.id,
            Job.state == JobState.RUNNING,
            Job.locked_by == self.worker_id,
        )

    def _max_attempts(self, claimed: Claimed) -> int:
        if claimed.max_attempts is not None:
            return claimed.max_attempts
        job_type = self.job_types.get(claimed.target)
        return job_type.max_attempts if job_type is not None else DEFAULT_MAX_ATTEMPTS

    def _failed(self, claimed: Claimed, error: Exception, now: dt.datetime) -> None:
        message = "".join(traceback.format_exception_only(error)).strip()
        log.warning("job %s (%s) failed: %s", claimed.id, claimed.target, message)
        if claimed.attempts >= self._max_attempts(claimed):
            values: dict[str, Any] = {"state": JobState.DEAD, "finished_at": now}
        else:
            delay = min(BACKOFF_CAP_SECONDS, self.backoff_seconds * 2 ** (claimed.attempts - 1))
            values = {"state": JobState.PENDING, "run_after": now + dt.timedelta(seconds=delay)}
        with self.db.session(SYSTEM) as session:
            session.execute(
                update(Job)
                .where(*self._still_mine(claimed))
                .values(locked_by=None, locked_until=None, last_error=message[:4000], **values)
            )


class Worker:
    """Runs jobs until ``stop`` is set: the loop of `accord worker`, or of a thread in the
    app process (the embedded default, on SQLite)."""

    def __init__(
        self,
        runner: JobRunner,
        *,
        poll_seconds: float = POLL_SECONDS,
        stop: threading.Event | None = None,
    ) -> None:
        self.runner = runner
        self.poll_seconds = poll_seconds
        self.stop = stop or threading.Event()

    def run(self) -> None:
        log.info("worker %s started", self.runner.worker_id)
        while not self.stop.is_set():
            try:
                ran = self.runner.run_pending()
            except Exception:
                log.exception("worker %s: cannot run jobs now", self.runner.worker_id)
                ran = 0
            if ran == 0:
                self.stop.wait(self.poll_seconds)
        log.info("worker %s stopped", self.runner.worker_id)

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread of this process; set ``stop`` to end it."""
        thread = threading.Thread(target=self.run, name="accord-jobs", daemon=True)
        thread.start()
        return thread
