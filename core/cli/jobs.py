"""`accord jobs ...` and `accord worker`: look at the job queue, retry dead jobs, purge old
ones, run jobs."""

from __future__ import annotations

import signal
from types import FrameType

import click

from accord.core.access import Principal
from accord.core.errors import AccordError
from accord.core.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)

STATES = ("pending", "running", "done", "dead")


@click.group()
def jobs() -> None:
    """The job queue: deliveries of events to subscribers, and jobs started by code or by
    a schedule."""


@jobs.command(name="list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@pass_runtime
def list_jobs(runtime: Runtime, state: str | None, limit: int) -> None:
    """Jobs, newest first: id, state, kind, target, attempts, when due."""
    from sqlalchemy import select

    from accord.core.events import Job, JobState

    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Job.state == JobState(state))
    with runtime.db.session(Principal.system("cli")) as session:
        rows = session.scalars(query).all()
        if not rows:
            click.echo("no jobs")
        for job in rows:
            click.echo(
                f"{job.id} {job.state.value} {job.kind.value} {job.target} "
                f"attempts={job.attempts} run_after={job.run_after.isoformat(timespec='seconds')}"
            )


@jobs.command()
@pass_runtime
def failed(runtime: Runtime) -> None:
    """Dead jobs (out of attempts): id, target, attempts and the last error."""
    from sqlalchemy import select

    from accord.core.events import Job, JobState

    with runtime.db.session(Principal.system("cli")) as session:
        rows = session.scalars(select(Job).where(Job.state == JobState.DEAD).order_by(Job.id)).all()
        if not rows:
            click.echo("no failed jobs")
        for job in rows:
            error = (job.last_error or "").splitlines()[-1:] or [""]
            click.echo(f"{job.id} {job.target} attempts={job.attempts} {error[0]}")


@jobs.command()
@click.argument("job_id", metavar="ID", type=int)
@pass_runtime
def retry(runtime: Runtime, job_id: int) -> None:
    """Run the dead job ID again, with fresh attempts."""
    from accord.core.jobs import retry as retry_job

    if not retry_job(runtime.db, job_id):
        raise AccordError(
            f"no dead job with id {job_id}; `accord jobs failed` lists the ones to retry"
        )
    click.echo(f"job {job_id} will run again")


@jobs.command()
@click.option(
    "--older-than-days",
    type=click.IntRange(min=0),
    default=None,
    help="Keep what finished within this many days (default: [jobs] keep_done_days).",
)
@pass_runtime
def purge(runtime: Runtime, older_than_days: int | None) -> None:
    """Delete done jobs and dispatched events that are older than the days to keep (the
    runner does it once an hour too). Dead jobs stay until retried."""
    import datetime as dt

    from accord.core.jobs import purge as purge_old

    days = runtime.settings.jobs.keep_done_days if older_than_days is None else older_than_days
    jobs_deleted, events_deleted = purge_old(runtime.db, dt.timedelta(days=days))
    click.echo(
        f"purged {jobs_deleted} done job(s) and {events_deleted} dispatched event(s) "
        f"older than {days} day(s)"
    )


@click.command()
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option(
    "--poll",
    type=float,
    default=None,
    help="Seconds between looks at the queue (default: [jobs] poll_seconds).",
)
@click.option(
    "--lease",
    type=float,
    default=None,
    help="Seconds a job is reserved for this worker if it stops renewing it "
    "(default: [jobs] lease_seconds).",
)
@pass_runtime
def worker(runtime: Runtime, once: bool, poll: float | None, lease: float | None) -> None:
    """Run jobs in this process until stopped (Ctrl-C or SIGTERM finish the current job
    first)."""
    from accord.core.jobs import JobRunner, Worker

    runtime.db.check_connection()
    runtime.mail  # noqa: B018  mail templates and their overrides fail here, not at a delivery
    runner = JobRunner(runtime, lease_seconds=lease)
    if once:
        click.echo(f"ran {runner.run_pending()} job(s)")
        return
    loop = Worker(runner, poll_seconds=poll)

    def stop(signum: int, frame: FrameType | None) -> None:
        loop.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"worker {runner.worker_id} running; stop with Ctrl-C or SIGTERM")
    loop.run()
    click.echo(f"worker {runner.worker_id} stopped")


COMMANDS = [jobs, worker]
