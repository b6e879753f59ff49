"""How fast the outbox delivers events, and what a hook call costs.

Accord: N events emitted (100 per transaction), dispatched from the outbox (a batch of events
per transaction), claimed by the job runner (a batch of jobs per transaction) and delivered to
a subscriber, each delivery in its own transaction with the row that marks it done (DESIGN
rule 5).
Baseline, the same run: the subscriber's effect written straight away, 100 per transaction,
with no outbox in between. Also: a pluggy hook call against a direct function call.

    python bench/events.py            # 5,000 events
    python bench/events.py --quick    # 1,000 events
    python bench/events.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import timeit
from pathlib import Path

from sqlalchemy import create_engine, text
from throwaway import database, migrated_runtime

from accord.core.access import Principal
from accord.core.contributions import Event, EventSubscriber
from accord.core.events import emit
from accord.core.jobs import JobRunner
from accord.core.runtime import Runtime

BATCH = 100


def measure_outbox(runtime: Runtime, count: int) -> float:
    delivered = 0

    def handle(session: object, event: Event) -> None:
        nonlocal delivered
        delivered += 1

    runner = JobRunner(runtime)
    runner.subscribers = {"bench.count": EventSubscriber("bench.count", "bench.done", handle)}
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        with runtime.db.session(Principal.system("bench")) as session:
            for number in range(first, min(first + BATCH, count)):
                emit(session, "bench.done", {"n": number})
    while delivered < count:
        if runner.run_pending(limit=1000) == 0 and runner.dispatch() == 0:
            break
    elapsed = time.perf_counter() - started
    assert delivered == count, f"delivered {delivered} of {count}"
    return elapsed


def measure_baseline(url: str, count: int) -> float:
    engine = create_engine(url)
    key = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE bench_effect (id {key} PRIMARY KEY, n INTEGER)"))
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO bench_effect (n) VALUES (:n)"),
                [{"n": n} for n in range(first, min(first + BATCH, count))],
            )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def measure_hook_overhead(runtime: Runtime) -> tuple[float, float]:
    hook = runtime.pm.hook.accord_menu_items
    hook()  # warm
    calls = 20_000
    hook_seconds = min(timeit.repeat(hook, number=calls, repeat=3)) / calls

    def direct() -> list[object]:
        return [impl.function() for impl in hook.get_hookimpls()]

    direct_seconds = min(timeit.repeat(direct, number=calls, repeat=3)) / calls
    return hook_seconds, direct_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 events instead of 5,000")
    parser.add_argument("--postgres", default="", help="run on this PostgreSQL server")
    args = parser.parse_args()
    count = 1_000 if args.quick else 5_000
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Path(folder), args.postgres) as url,
        migrated_runtime(Path(folder), url) as runtime,
    ):
        accord_seconds = measure_outbox(runtime, count)
        baseline_seconds = measure_baseline(url, count)
        hook_seconds, direct_seconds = measure_hook_overhead(runtime)
    result = {
        "bench": "events",
        "figure": round(count / accord_seconds),
        "unit": "events/s delivered through the outbox",
        "baseline": round(count / baseline_seconds),
        "ratio": round(accord_seconds / baseline_seconds, 2),
        "events": count,
        "database": "postgresql" if args.postgres else "sqlite",
        "hook_call_us": round(hook_seconds * 1e6, 2),
        "direct_call_us": round(direct_seconds * 1e6, 2),
        "hook_ratio": round(hook_seconds / direct_seconds, 2),
    }
    print(
        f"{count} events: outbox {result['figure']}/s, direct writes {result['baseline']}/s; "
        f"hook call {result['hook_call_us']} us vs direct {result['direct_call_us']} us",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
