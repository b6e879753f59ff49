"""How many workflow transitions per second, each a user's request of its own.

Accord: N transitions of the dummy add-on's notes (half ``publish``, with its guard, the
four-eyes rule and the add-on's veto hook; half ``withdraw``, with its required reason),
each in its own committed transaction acting as a user principal (access rules applied):
load the note, check, write the state, the history row, the audit row and the outbox
event, commit, run the after-commit hook. Baseline, the same run: a bare
``UPDATE dummy_note SET state = ...`` per record, each in its own committed transaction.

    python bench/workflow.py            # 5,000 transitions
    python bench/workflow.py --quick    # 1,000 transitions
    python bench/workflow.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python bench/workflow.py --profile  # also print where the time goes (cProfile)

Instructions per transition, a figure that load does not change: the difference of two runs
under callgrind divided by the difference of their transitions,

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/workflow.py --transitions 200       # then 1200
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, text

ROOT = Path(__file__).resolve().parents[1]
# The dummy add-on is the workflow under test; it becomes importable as after pip install.
sys.path.insert(0, str(ROOT / "tests" / "dummy_plugin"))

from throwaway import database, migrated_runtime  # noqa: E402

from accord.core.access import Principal  # noqa: E402
from accord.core.audit import AuditEntry  # noqa: E402
from accord.core.events import OutboxEvent  # noqa: E402
from accord.core.partners import Partner, PartnerKind  # noqa: E402
from accord.core.runtime import Runtime  # noqa: E402
from accord.core.security import create_user  # noqa: E402
from accord.core.workflow import TransitionRecord  # noqa: E402

SYSTEM = Principal.system("bench")


def make_notes(runtime: Runtime, count: int) -> tuple[list[int], int]:
    """``count`` draft notes by one author, and the id of the user who will move them."""
    from accord_dummy.models import DummyNote

    with runtime.db.session(SYSTEM) as session:
        author = create_user(session, "ada", "correct horse battery", roles=["dummy_note_taker"])
        actor = create_user(
            session,
            "tom",
            "correct horse battery",
            roles=["back_office", "dummy_note_taker", "dummy_reviewer"],
        )
        partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
        session.add(partner)
        session.flush()
        notes = [
            runtime.workflows.start(
                session,
                DummyNote(partner_id=partner.id, body=f"Visit {n} went well", author_id=author.id),
            )
            for n in range(count)
        ]
        session.flush()
        return [note.id for note in notes], actor.id


def measure_transitions(
    runtime: Runtime, note_ids: list[int], user_id: int
) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds (the CPU time grows less with other load on the machine)
    of publishing then withdrawing every note, one request each, and the SQL statements
    they sent (a figure that no load changes)."""
    from accord_dummy.models import DummyNote

    engine = runtime.workflows
    principal = runtime.principal_for(user_id)
    db = runtime.db
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    started, cpu = time.perf_counter(), time.process_time()
    for name, inputs in (("publish", {}), ("withdraw", {"reason": "superseded"})):
        for note_id in note_ids:
            with db.session(principal, context="bench") as session:
                note = session.get_one(DummyNote, note_id)
                engine.transition(session, note, name, **inputs)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    event.remove(db.engine, "before_cursor_execute", count)
    return elapsed, cpu, statements


def measure_baseline(url: str, note_ids: list[int]) -> float:
    engine = create_engine(url)
    started = time.perf_counter()
    for state in ("published", "withdrawn"):
        for note_id in note_ids:
            with engine.begin() as connection:
                connection.execute(
                    text("UPDATE dummy_note SET state = :state WHERE id = :id"),
                    {"state": state, "id": note_id},
                )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def written(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session(SYSTEM) as session:
        audited = select(func.count()).where(
            AuditEntry.model == "dummy_note", AuditEntry.field == "state"
        )
        return {
            "history": session.scalar(select(func.count()).select_from(TransitionRecord)) or 0,
            "events": session.scalar(select(func.count()).select_from(OutboxEvent)) or 0,
            "audit": session.scalar(audited.where(AuditEntry.action == "update")) or 0,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 transitions, not 5,000")
    parser.add_argument("--postgres", default="", help="run on this PostgreSQL server")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    parser.add_argument(
        "--transitions", type=int, default=0, help="this many transitions (an even number)"
    )
    args = parser.parse_args()
    count = args.transitions or (1_000 if args.quick else 5_000)
    if count < 2 or count % 2:
        parser.error(f"--transitions: an even number of at least 2, got {count}")
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Path(folder), args.postgres) as url,
        migrated_runtime(Path(folder), url, plugins=["dummy"]) as runtime,
    ):
        note_ids, user_id = make_notes(runtime, count // 2)
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        accord_seconds, cpu_seconds, statements = measure_transitions(runtime, note_ids, user_id)
        if profile:
            profile.disable()
        counts = written(runtime)
        assert counts == {"history": count, "events": count, "audit": count}, counts
        baseline_seconds = measure_baseline(url, note_ids)
    if profile:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    result: dict[str, Any] = {
        "bench": "workflow",
        "figure": round(count / accord_seconds),
        "unit": "transitions/s, each its own committed transaction as a user "
        "(history, audit and outbox rows written)",
        "baseline": round(count / baseline_seconds),
        "ratio": round(accord_seconds / baseline_seconds, 2),
        "transitions": count,
        "database": "postgresql" if args.postgres else "sqlite",
        "ms_per_transition": round(accord_seconds / count * 1000, 3),
        "cpu_ms_per_transition": round(cpu_seconds / count * 1000, 3),
        "statements_per_transition": round(statements / count, 2),
    }
    print(
        f"{count} transitions: {result['figure']}/s through the engine, "
        f"{result['baseline']}/s as bare UPDATEs",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
