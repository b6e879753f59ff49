"""What deleting a customer with a long history costs: the audit log records every row the
database deletes with it (ON DELETE CASCADE), field by field.

Accord: a partner with N activities (5,000) and an address, deleted through a session as
the web app's delete does (``session.delete(partner)``, committed); the audit entries of
the partner, its address and every activity are written in the same transaction.
Baseline, the same run: the same partner and activities deleted by one DELETE on a plain
connection, nothing recorded (the database's part: the cascade itself). Medians of a few
runs, each on freshly loaded rows.

    python bench/partner_delete.py            # 5,000 activities, 5 runs
    python bench/partner_delete.py --quick    # 5,000 activities, 3 runs
    python bench/partner_delete.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from throwaway import database, migrated_runtime

from accord.core.access import Principal
from accord.core.activities import Activity, ActivityKind
from accord.core.audit import AuditEntry
from accord.core.partners import Address, Partner, PartnerKind
from accord.core.runtime import Runtime

SYSTEM = Principal.system("bench")


def load_customer(runtime: Runtime, activities: int) -> int:
    """A customer with an address and ``activities`` activities; returns its id."""
    with runtime.db.session(SYSTEM) as session:
        partner = Partner(kind=PartnerKind.COMPANY, name="Rossi Utensili SRL", email="a@b.it")
        partner.addresses = [Address(city="Bologna", street="Via Emilia 1")]
        session.add(partner)
        session.flush()
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        rows = [
            {
                "partner_id": partner.id,
                "kind": ActivityKind.CALL if number % 3 else ActivityKind.NOTE,
                "subject": f"Call about offer {number}",
                "body": "Wants a discount on the second pallet; call back after the fair.",
                "occurred_at": start + dt.timedelta(hours=number),
                "done": True,
                "source": "core",
                "source_ref": f"call-{number}",
            }
            for number in range(activities)
        ]
        session.connection().execute(insert(Activity), rows)
        return partner.id


def audited_delete(runtime: Runtime, partner_id: int) -> tuple[float, float, int]:
    """Seconds to delete the customer through a session, the process's CPU seconds for it
    (on SQLite the database's work too: the figure a loaded machine disturbs least), and the
    audit entries written."""
    with runtime.db.session(SYSTEM) as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    started, cpu = time.perf_counter(), time.process_time()
    with runtime.db.session(SYSTEM, "bench:delete", writes=True) as session:
        session.delete(session.get_one(Partner, partner_id))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with runtime.db.session(SYSTEM) as session:
        after = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
        assert session.get(Partner, partner_id) is None
        left = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.partner_id == partner_id)
        )
        assert left == 0, f"{left} activities left"
    return elapsed, cpu, after - before


def plain_delete(runtime: Runtime, partner_id: int) -> float:
    started = time.perf_counter()
    with runtime.db.engine.begin() as connection:
        connection.execute(delete(Partner.__table__).where(Partner.__table__.c.id == partner_id))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 5")
    parser.add_argument("--activities", type=int, default=5_000)
    parser.add_argument("--postgres", default="", help="run on this PostgreSQL server")
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    audited: list[float] = []
    audited_cpu: list[float] = []
    plain: list[float] = []
    entries = 0
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Path(folder), args.postgres) as url,
        migrated_runtime(Path(folder), url) as runtime,
    ):
        for _ in range(runs):  # taking turns, so drift hits both alike
            seconds, cpu, entries = audited_delete(runtime, load_customer(runtime, args.activities))
            audited.append(seconds)
            audited_cpu.append(cpu)
            plain.append(plain_delete(runtime, load_customer(runtime, args.activities)))
        dialect = runtime.db.engine.dialect.name
    figure, baseline = statistics.median(audited), statistics.median(plain)
    result = {
        "bench": "partner_delete",
        "figure": round(figure, 3),
        "unit": f"s to delete a partner with {args.activities:,} activities, audited",
        "baseline": round(baseline, 3),
        "ratio": round(figure / baseline, 1),
        "cpu_s": round(statistics.median(audited_cpu), 3),
        "audit_entries": entries,
        "database": dialect,
        "runs": runs,
    }
    print(
        f"deleting a partner with {args.activities:,} activities on {dialect}: "
        f"{figure:.3f} s audited ({entries:,} entries), {baseline:.3f} s by a plain DELETE",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
