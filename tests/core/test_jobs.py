"""The job runner: retries with growing waits, dead jobs listed and retried from the command
line, schedules run once per period across workers, and a worker killed mid-job loses
nothing and does nothing twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import func, select

from accord.api import Activity, Partner, PartnerKind, enqueue
from accord.core import jobs as jobs_module
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.events import Job, JobState
from accord.core.jobs import JobRunner, claim, period_start, release
from accord.core.runtime import Runtime

TEST = Principal.system("test")

HOOKS = """
import os
import time
from pathlib import Path

from sqlalchemy import select

from accord.api import ActivityKind, JobType, Partner, Schedule, hookimpl, log_activity


def flaky(session, payload):
    if Path(payload["broken"]).exists():
        raise RuntimeError("the partner's server is down")


def slow_note(session, payload):
    log_activity(session, payload["partner_id"], ActivityKind.NOTE, "job ran",
                 source="jobtest", source_ref=payload["ref"])
    session.flush()
    flag = Path(payload["flag"])
    if flag.exists():
        flag.unlink()
        Path(payload["started"]).write_text(str(os.getpid()))
        time.sleep(60)


def sleep_once(session, payload):
    flag = Path(payload["flag"])
    if flag.exists():
        flag.unlink()
        Path(payload["started"]).write_text(str(os.getpid()))
        time.sleep(payload["seconds"])


def read_then_write(session, payload):
    with session.begin_nested():  # a savepoint: SQLite's transaction begins with the read
        session.scalars(select(Partner.id)).all()
        Path(payload["read"]).touch()
        deadline = time.monotonic() + 5
        while not Path(payload["released"]).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        log_activity(session, payload["partner_id"], ActivityKind.NOTE, "job wrote",
                     source="jobtest", source_ref=payload["ref"])
        session.flush()


def noop(session, payload):
    pass


@hookimpl
def accord_jobs():
    return [JobType("jobtest.flaky", run=flaky, max_attempts=3),
            JobType("jobtest.slow_note", run=slow_note),
            JobType("jobtest.sleep_once", run=sleep_once),
            JobType("jobtest.read_then_write", run=read_then_write),
            JobType("jobtest.noop", run=noop)]


@hookimpl
def accord_schedules():
    return [Schedule("jobtest.hourly", "0 * * * *", job="jobtest.noop")]
"""


@pytest.fixture
def jobtest_addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A small installed add-on whose jobs fail on demand or sleep mid-transaction."""
    root = tmp_path / "site"
    package = root / "accord_jobtest"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent("""
        from accord.api import Plugin

        plugin = Plugin(name="jobtest", version="1.0.0", summary="test add-on",
                        package=__name__)
        """)
    )
    (package / "hooks.py").write_text(HOOKS)
    info = root / "accord_jobtest-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: accord-jobtest\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text("[accord.plugins]\njobtest = accord_jobtest:plugin\n")
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in ("accord_jobtest", "accord_jobtest.hooks"):
        sys.modules.pop(name, None)


@pytest.fixture
def accord_plugins(jobtest_addon: Path) -> list[str]:
    return ["jobtest"]


def job(db: Database, job_id: int) -> Job:
    with db.session(TEST) as session:
        return session.get_one(Job, job_id)


def enqueued(db: Database, name: str, payload: dict[str, object]) -> int:
    key = f"test:{uuid.uuid4().hex}"
    with db.session(TEST) as session:
        enqueue(session, name, payload, key=key)
        return session.scalars(select(Job.id).where(Job.idempotency_key == key)).one()


def test_failing_job_backs_off_then_dies_and_retry_runs_it_again(
    accord_db: Database,
    accord_runtime: Runtime,
    accord_cli: Callable[..., Result],
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken"
    broken.touch()
    job_id = enqueued(accord_db, "jobtest.flaky", {"broken": str(broken)})
    runner = JobRunner(accord_runtime, backoff_seconds=10)
    now = dt.datetime.now(dt.UTC)
    waits = []
    for attempt in (1, 2):
        runner.run_pending(now=now)
        failed = job(accord_db, job_id)
        assert (failed.state, failed.attempts) == (JobState.PENDING, attempt)
        assert "the partner's server is down" in (failed.last_error or "")
        waits.append(failed.run_after - now)
        runner.run_pending(now=now)  # not due yet: nothing happens
        assert job(accord_db, job_id).attempts == attempt
        now = failed.run_after
    assert waits == [dt.timedelta(seconds=10), dt.timedelta(seconds=20)]

    runner.run_pending(now=now)
    dead = job(accord_db, job_id)
    assert (dead.state, dead.attempts) == (JobState.DEAD, 3)

    listed = accord_cli("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"{job_id} jobtest.flaky attempts=3 RuntimeError: the partner's server is down"
    ]
    unknown = accord_cli("jobs", "retry", "999")
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: no dead job with id 999")

    broken.unlink()
    retried = accord_cli("jobs", "retry", str(job_id))
    assert retried.exit_code == 0, retried.output
    assert job(accord_db, job_id).state == JobState.PENDING
    runner.run_pending()
    assert job(accord_db, job_id).state == JobState.DONE
    assert accord_cli("jobs", "failed").output.strip() == "no failed jobs"
    assert "done job jobtest.flaky attempts=1" in accord_cli("jobs", "list").output


def test_schedule_enqueues_once_per_period_when_two_workers_tick_together(
    accord_db: Database, accord_config: Path
) -> None:
    now = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
    runtimes = [Runtime(accord_config), Runtime(accord_config)]
    runners = [JobRunner(runtime) for runtime in runtimes]
    together = threading.Barrier(2)
    added: list[int] = []

    def tick(runner: JobRunner) -> None:
        together.wait()
        added.append(runner.tick_schedules(now))

    threads = [threading.Thread(target=tick, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(added) == [0, 1]
    # Later in the same hour: nothing new; the next hour: one more.
    assert runners[0].tick_schedules(now + dt.timedelta(minutes=20)) == 0
    assert runners[1].tick_schedules(now + dt.timedelta(minutes=40)) == 1
    with accord_db.session(TEST) as session:
        keys = session.scalars(select(Job.idempotency_key).order_by(Job.id)).all()
    assert keys == [
        "schedule:jobtest.hourly:2026-11-23T10:00:00+00:00",
        "schedule:jobtest.hourly:2026-11-23T11:00:00+00:00",
    ]
    for runtime in runtimes:
        runtime.close()


def test_period_start_is_the_last_fire_time() -> None:
    now = dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.UTC)
    assert period_start("0 3 * * *", now) == dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def start_worker(config: Path, site: Path, lease: float = 2) -> subprocess.Popen[bytes]:
    accord = Path(sys.executable).parent / "accord"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    return subprocess.Popen(
        [str(accord), "--config", str(config), "worker", "--poll", "0.1", "--lease", str(lease)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


# How long a worker process may take to start and run its job: a bound, not a duration
# (waits end as soon as the condition holds), generous because a loaded CI machine can give
# a starting process a small share of a CPU for many seconds.
PROCESS_WAIT = 60


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_worker_killed_mid_job_runs_it_to_completion_once_after_restart(
    accord_db: Database, accord_config: Path, jobtest_addon: Path, tmp_path: Path
) -> None:
    flag, started = tmp_path / "sleep-once", tmp_path / "started"
    flag.touch()
    with accord_db.session(TEST) as session:
        partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
        session.add(partner)
        session.flush()
        partner_id = partner.id
    payload = {
        "partner_id": partner_id,
        "ref": "crash-test",
        "flag": str(flag),
        "started": str(started),
    }
    job_id = enqueued(accord_db, "jobtest.slow_note", payload)

    first = start_worker(accord_config, jobtest_addon)
    try:
        wait_for(started.exists, PROCESS_WAIT, "the job to start its sleep")
        first.send_signal(signal.SIGKILL)
        first.wait(5)
    finally:
        if first.poll() is None:
            first.kill()
    assert job(accord_db, job_id).state == JobState.RUNNING  # its lease is still held

    second = start_worker(accord_config, jobtest_addon)
    try:
        wait_for(
            lambda: job(accord_db, job_id).state == JobState.DONE, PROCESS_WAIT, "the job to finish"
        )
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=5)[0].decode()
        assert second.returncode == 0, output
        assert "stopped" in output
    finally:
        if second.poll() is None:
            second.kill()

    with accord_db.session(TEST) as session:
        notes = session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.partner_id == partner_id, Activity.source_ref == "crash-test")
        )
    assert notes == 1
    done = job(accord_db, job_id)
    assert (done.state, done.attempts) == (JobState.DONE, 2)


def sleeping_job(db: Database, tmp_path: Path, seconds: float) -> tuple[int, Path]:
    """A job that sleeps ``seconds`` on its first run, writing nothing; returns its id and
    the file that appears when the sleep starts."""
    flag, started = tmp_path / "sleep-once", tmp_path / "started"
    flag.touch()
    payload = {"flag": str(flag), "started": str(started), "seconds": seconds}
    return enqueued(db, "jobtest.sleep_once", payload), started


def test_a_job_running_longer_than_its_lease_is_not_taken_over(
    accord_db: Database, accord_runtime: Runtime, tmp_path: Path
) -> None:
    job_id, started = sleeping_job(accord_db, tmp_path, seconds=4)
    runner = JobRunner(accord_runtime, lease_seconds=1.5)
    running = threading.Thread(target=runner.run_pending)
    running.start()
    try:
        wait_for(started.exists, 10, "the job to start")
        first_lease = job(accord_db, job_id).locked_until
        assert first_lease is not None
        # For two leases and more another worker keeps asking for due jobs, in vain.
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            taken = claim(accord_db, "other-worker", lease_seconds=1)
            assert job_id not in [claimed.id for claimed in taken]
            time.sleep(0.1)
        renewed = job(accord_db, job_id)
        assert renewed.locked_by == runner.worker_id
        assert renewed.locked_until is not None
        assert renewed.locked_until > first_lease
    finally:
        running.join(10)
    done = job(accord_db, job_id)
    assert (done.state, done.attempts, done.locked_by) == (JobState.DONE, 1, None)


def test_a_dead_workers_lease_stops_being_renewed_and_its_job_is_taken_over(
    accord_db: Database, accord_runtime: Runtime, jobtest_addon: Path, tmp_path: Path
) -> None:
    job_id, started = sleeping_job(accord_db, tmp_path, seconds=60)
    worker = start_worker(accord_runtime.config_path, jobtest_addon, lease=1)
    try:
        wait_for(started.exists, PROCESS_WAIT, "the job to start its sleep")
        started_at = dt.datetime.now(dt.UTC)
        time.sleep(2)
        alive = job(accord_db, job_id)
        # Two leases later the job is still the first worker's: it renewed the lease.
        assert alive.state == JobState.RUNNING
        assert alive.locked_until is not None
        assert alive.locked_until > started_at + dt.timedelta(seconds=1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(5)
    finally:
        if worker.poll() is None:
            worker.kill()
    last_lease = job(accord_db, job_id).locked_until
    assert last_lease is not None
    wait_for(lambda: dt.datetime.now(dt.UTC) > last_lease, 5, "the lease to run out")
    time.sleep(0.5)
    assert job(accord_db, job_id).locked_until == last_lease  # nobody renews it any more
    JobRunner(accord_runtime).run_pending()
    done = job(accord_db, job_id)
    assert (done.state, done.attempts) == (JobState.DONE, 2)


def test_jobs_claimed_together_but_not_started_go_back_with_their_attempt_uncounted(
    accord_db: Database, accord_runtime: Runtime
) -> None:
    ids = [enqueued(accord_db, "jobtest.noop", {"n": n}) for n in range(3)]
    runner = JobRunner(accord_runtime)
    claimed = claim(accord_db, runner.worker_id, lease_seconds=60)
    assert [item.id for item in claimed] == ids  # one transaction, oldest first
    release(accord_db, runner.worker_id, claimed[1:])
    assert [(job(accord_db, id).state, job(accord_db, id).attempts) for id in ids] == [
        (JobState.RUNNING, 1),
        (JobState.PENDING, 0),
        (JobState.PENDING, 0),
    ]
    stop = threading.Event()
    stop.set()
    assert runner.run_pending(stop=stop) == 0  # a stopping worker claims nothing
    runner.run_pending()
    assert [(job(accord_db, id).state, job(accord_db, id).attempts) for id in ids] == [
        (JobState.RUNNING, 1),  # still held, under its lease
        (JobState.DONE, 1),
        (JobState.DONE, 1),
    ]


def test_jobs_waiting_behind_a_slow_job_go_back_to_the_queue_for_another_worker(
    accord_db: Database, accord_runtime: Runtime, tmp_path: Path
) -> None:
    slow_id, started = sleeping_job(accord_db, tmp_path, seconds=4)
    quick_ids = [enqueued(accord_db, "jobtest.noop", {"n": n}) for n in range(2)]
    slow_worker = JobRunner(accord_runtime)
    running = threading.Thread(target=slow_worker.run_pending)
    running.start()
    try:
        wait_for(started.exists, 10, "the slow job to start")
        # The quick jobs were claimed with the slow one; after a second of waiting they are
        # given back, and another worker runs them while the slow one still sleeps.
        other = JobRunner(accord_runtime)
        wait_for(lambda: other.run_pending() > 0, 5, "another worker to get the quick jobs")
        assert [job(accord_db, id).state for id in quick_ids] == [JobState.DONE] * 2
        assert job(accord_db, slow_id).state == JobState.RUNNING
    finally:
        running.join(10)
    finished = [job(accord_db, id) for id in [slow_id, *quick_ids]]
    assert [(item.state, item.attempts) for item in finished] == [(JobState.DONE, 1)] * 3


def test_a_worker_runs_the_jobs_given_back_while_it_finished_its_last_one(
    accord_db: Database, accord_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease thread gives the jobs waiting behind a slow one back to the queue; when the
    worker is done with the slow job before that release has committed, it must not claim
    in the meantime, find nothing (the jobs are still marked as its own) and stop, leaving
    them pending with no worker."""
    slow_id, started = sleeping_job(accord_db, tmp_path, seconds=2)
    quick_ids = [enqueued(accord_db, "jobtest.noop", {"n": n}) for n in range(2)]
    real_release = jobs_module.release

    def slow_release(*args: Any) -> None:
        time.sleep(1.5)  # the release commits after the slow job has finished
        real_release(*args)

    monkeypatch.setattr(jobs_module, "release", slow_release)

    ran = JobRunner(accord_runtime).run_pending()

    assert started.exists()
    assert ran == 4  # and the schedule's job of this hour
    finished = [job(accord_db, id) for id in [slow_id, *quick_ids]]
    assert [(item.state, item.attempts) for item in finished] == [(JobState.DONE, 1)] * 3


def test_two_workers_claiming_batches_at_once_run_each_job_once(
    accord_db: Database, accord_config: Path, at_once: Any
) -> None:
    ids = [enqueued(accord_db, "jobtest.noop", {"n": n}) for n in range(60)]
    ran = at_once(accord_config, lambda runtime: JobRunner(runtime).run_pending())
    with accord_db.session(TEST) as session:
        runs = session.execute(select(Job.state, Job.attempts).where(Job.id.in_(ids))).all()
    assert set(runs) == {(JobState.DONE, 1)}
    assert sum(ran) == 61  # and the schedule's job of this hour


@pytest.mark.parametrize("accord_backend", ["sqlite"])
def test_a_job_that_reads_then_writes_waits_for_another_writer_instead_of_failing(
    accord_db: Database, accord_runtime: Runtime, tmp_path: Path
) -> None:
    with accord_db.session(TEST) as session:
        partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
        session.add(partner)
        session.flush()
        partner_id = partner.id
    read, released = tmp_path / "read", tmp_path / "released"
    payload = {
        "partner_id": partner_id,
        "ref": "locked",
        "read": str(read),
        "released": str(released),
    }
    job_id = enqueued(accord_db, "jobtest.read_then_write", payload)
    runner = JobRunner(accord_runtime)
    (claimed,) = claim(accord_db, runner.worker_id, lease_seconds=60)
    results: list[bool] = []
    # A web request writing on another connection holds SQLite's write lock while the job
    # starts, and commits a moment later (after the job has read, had it read first).
    writer = sqlite3.connect(str(accord_db.engine.url.database), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE core_partner SET phone = '+39 000' WHERE id = ?", (partner_id,))
        running = threading.Thread(target=lambda: results.append(runner.run(claimed)))
        running.start()
        deadline = time.monotonic() + 1
        while not read.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        writer.execute("COMMIT")
        released.touch()
        running.join(10)
    finally:
        writer.close()
    done = job(accord_db, job_id)
    assert results == [True], done.last_error
    assert (done.state, done.last_error) == (JobState.DONE, None)
    with accord_db.session(TEST) as session:
        written = session.scalars(
            select(Activity.subject).where(Activity.source_ref == "locked")
        ).all()
        assert session.get_one(Partner, partner_id).phone == "+39 000"
    assert written == ["job wrote"]
