"""The job runner: retries with growing waits, dead jobs listed and retried from the command
line, schedules run once per period across workers, and a worker killed mid-job loses
nothing and does nothing twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from accord.api import Activity, Partner, PartnerKind, enqueue
from accord.core.db import Database
from accord.core.events import Job, JobState
from accord.core.jobs import JobRunner, period_start
from accord.core.runtime import Runtime

HOOKS = """
import os
import time
from pathlib import Path

from accord.api import ActivityKind, JobType, Schedule, hookimpl, log_activity


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


def noop(session, payload):
    pass


@hookimpl
def accord_jobs():
    return [JobType("jobtest.flaky", run=flaky, max_attempts=3),
            JobType("jobtest.slow_note", run=slow_note),
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
    with db.session() as session:
        return session.get_one(Job, job_id)


def enqueued(db: Database, name: str, payload: dict[str, object]) -> int:
    with db.session() as session:
        enqueue(session, name, payload)
        return session.scalars(select(Job.id).where(Job.target == name)).one()


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
    with accord_db.session() as session:
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


def start_worker(config: Path, site: Path) -> subprocess.Popen[bytes]:
    accord = Path(sys.executable).parent / "accord"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    return subprocess.Popen(
        [str(accord), "--config", str(config), "worker", "--poll", "0.1", "--lease", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


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
    with accord_db.session() as session:
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
        wait_for(started.exists, 10, "the job to start its sleep")
        first.send_signal(signal.SIGKILL)
        first.wait(5)
    finally:
        if first.poll() is None:
            first.kill()
    assert job(accord_db, job_id).state == JobState.RUNNING  # its lease is still held

    second = start_worker(accord_config, jobtest_addon)
    try:
        wait_for(lambda: job(accord_db, job_id).state == JobState.DONE, 10, "the job to finish")
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=5)[0].decode()
        assert second.returncode == 0, output
        assert "stopped" in output
    finally:
        if second.poll() is None:
            second.kill()

    with accord_db.session() as session:
        notes = session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.partner_id == partner_id, Activity.source_ref == "crash-test")
        )
    assert notes == 1
    done = job(accord_db, job_id)
    assert (done.state, done.attempts) == (JobState.DONE, 2)
