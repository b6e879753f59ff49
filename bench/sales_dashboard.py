"""What the sales dashboard's tiles cost over a year of order lines: the orders plugin's
queries (sales and margin by product line, by salesperson, this year and the year before)
as the tiles run them, through a back-office user's session (access layer, ORM, Decimal
results), against the same aggregates written as bare SQL on a plain connection.

Data: N order lines (1,000,000; --quick 100,000), four per order, over three calendar
years, four product lines, 50 salespeople, 90% of the orders sold (confirmed and beyond).
The dashboard's period is this calendar year. Each side runs the four queries R times,
taking turns; the figure is the median time of one dashboard (all four queries). The run
fails unless both sides return the same totals. Goal: ratio <= 1.5 (the filters and
groupings run on indexed columns: ``orders_order (ordered_on, state, owner_id)``,
``orders_order_line (order_id, product_line)``).

    python bench/sales_dashboard.py            # 1,000,000 order lines
    python bench/sales_dashboard.py --quick    # 100,000 order lines
    python bench/sales_dashboard.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import insert, text
from throwaway import database, migrated_runtime

from accord.core import security
from accord.core.access import Principal
from accord.core.partners import Partner, PartnerKind
from accord.core.runtime import Runtime
from accord.core.security import create_user
from accord.plugins.orders.models import Order, OrderLine
from accord.plugins.orders.reports import Period, by_product_line, by_salesperson, year_over_year

SYSTEM = Principal.system("bench")
SELLERS = 50
LINES_PER_ORDER = 4
PRODUCT_LINES = [
    ("Pumps", 1200, 700),
    ("Valves", 90, 40),
    ("Controls", 650, 300),
    ("Software", 1500, 100),
]
STATES = [
    "confirmed",
    "partially_shipped",
    "shipped",
    "delivered",
    "invoiced",
    "invoiced",
    "invoiced",
    "invoiced",
    "invoiced",
    "draft",
]
BATCH = 10_000
GOAL = 1.5


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def load(runtime: Runtime, lines: int) -> tuple[int, dt.date]:
    """Users, customers and ``lines`` order lines by Core inserts; the back-office user's id
    and the first day of this year."""
    chance = random.Random(20261123)
    today = dt.date.today()
    first_day = dt.date(today.year - 2, 1, 1)
    span = (today - first_day).days
    # The smallest Argon2 cost, as accord.testing uses: 51 users, not 51 seconds.
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with runtime.db.session(SYSTEM) as session:
        office = create_user(session, "office", "bench-password-1", roles=["back_office"])
        sellers = [
            create_user(session, f"seller{n}", "bench-password-1", roles=["salesperson"]).id
            for n in range(SELLERS)
        ]
        partners = [
            Partner(kind=PartnerKind.COMPANY, name=f"Customer {n}", owner_id=chance.choice(sellers))
            for n in range(1000)
        ]
        session.add_all(partners)
        session.flush()
        partner_ids = [partner.id for partner in partners]
        office_id = office.id
    orders = lines // LINES_PER_ORDER
    now = dt.datetime.now(dt.UTC)
    # A plain connection: a bulk load, not business changes to audit row by row.
    with runtime.db.engine.begin() as connection:
        for start in range(0, orders, BATCH):
            order_rows: list[dict[str, Any]] = []
            line_rows: list[dict[str, Any]] = []
            for number in range(start, min(start + BATCH, orders)):
                order_id = number + 1
                amount = cost = Decimal(0)
                for position in range(1, LINES_PER_ORDER + 1):
                    line, price, unit_cost = chance.choice(PRODUCT_LINES)
                    quantity = chance.randint(1, 5)
                    line_amount = Decimal(price * quantity)
                    line_cost = Decimal(unit_cost * quantity)
                    amount += line_amount
                    cost += line_cost
                    line_rows.append(
                        {
                            "order_id": order_id,
                            "position": position,
                            "sku": f"{line[:4]}-1",
                            "description": line,
                            "product_line": line,
                            "quantity": quantity,
                            "unit_price": price,
                            "discount_percent": 0,
                            "amount": line_amount,
                            "cost": line_cost,
                            "shipped_quantity": 0,
                        }
                    )
                order_rows.append(
                    {
                        "id": order_id,
                        "number": f"SO-{order_id:08d}",
                        "partner_id": chance.choice(partner_ids),
                        "owner_id": chance.choice(sellers),
                        "state": chance.choice(STATES),
                        "version": 1,
                        "source": "direct",
                        "currency": "EUR",
                        "amount": amount,
                        "cost": cost,
                        "ordered_on": first_day + dt.timedelta(days=chance.randrange(span + 1)),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            connection.execute(insert(Order), order_rows)
            connection.execute(insert(OrderLine), line_rows)
    runtime.db.refresh_statistics()
    if runtime.db.engine.dialect.name == "postgresql":
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE orders_order"))
            c.execute(text("VACUUM ANALYZE orders_order_line"))
    return office_id, dt.date(today.year, 1, 1)


SOLD = "('confirmed', 'partially_shipped', 'shipped', 'delivered', 'invoiced')"
JOIN = "FROM orders_order_line l JOIN orders_order o ON o.id = l.order_id"
WHERE = f"WHERE o.ordered_on >= :start AND o.ordered_on <= :end AND o.state IN {SOLD}"
BARE = {
    "by_line": f"SELECT l.product_line, SUM(l.amount), SUM(l.cost) {JOIN} {WHERE} "
    "GROUP BY l.product_line ORDER BY l.product_line",
    "by_seller": f"SELECT u.name, t.amount, t.cost FROM (SELECT o.owner_id, SUM(l.amount) AS "
    f"amount, SUM(l.cost) AS cost {JOIN} {WHERE} GROUP BY o.owner_id) t "
    "JOIN core_user u ON u.id = t.owner_id ORDER BY t.amount DESC",
    "total": f"SELECT SUM(l.amount), SUM(l.cost) {JOIN} {WHERE}",
}


def accord_dashboard(runtime: Runtime, office: int, period: Period) -> dict[str, Any]:
    """The tiles' queries as the widgets run them, in a back-office user's session."""
    with runtime.db.session(runtime.principal_for(office)) as session:
        lines = by_product_line(session, period)
        sellers = by_salesperson(session, period)
        now, before = year_over_year(session, period)
    return {
        "by_line": [(row.label, row.amount, row.cost) for row in lines],
        "by_seller": sorted((row.label, row.amount, row.cost) for row in sellers),
        "total": (now.amount, now.cost, before.amount, before.cost),
    }


def bare_dashboard(runtime: Runtime, period: Period) -> dict[str, Any]:
    before = period.a_year_before()
    with runtime.db.engine.connect() as connection:
        this = {"start": period.start, "end": period.end}
        lines = connection.execute(text(BARE["by_line"]), this).all()
        sellers = connection.execute(text(BARE["by_seller"]), this).all()
        now = connection.execute(text(BARE["total"]), this).one()
        then = connection.execute(
            text(BARE["total"]), {"start": before.start, "end": before.end}
        ).one()
    return {
        "by_line": [(str(a), Decimal(b), Decimal(c)) for a, b, c in lines],
        "by_seller": sorted((str(a), Decimal(b), Decimal(c)) for a, b, c in sellers),
        "total": tuple(Decimal(value or 0) for value in (*now, *then)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 order lines")
    parser.add_argument("--postgres", default="", help="run on this PostgreSQL server")
    args = parser.parse_args()
    lines = 100_000 if args.quick else 1_000_000
    rounds = 5 if args.quick else 3
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Path(folder), args.postgres) as url,
        migrated_runtime(Path(folder), url, plugins=["orders"]) as runtime,
    ):
        loading = time.perf_counter()
        office, this_year = load(runtime, lines)
        say(f"{lines:,} order lines loaded in {time.perf_counter() - loading:.1f} s")
        period = Period(this_year, dt.date(this_year.year, 12, 31))
        expected = bare_dashboard(runtime, period)
        got = accord_dashboard(runtime, office, period)
        assert got == expected, f"the two sides disagree:\n{got}\n{expected}"
        assert got["by_line"], "no sales this year: the data did not load"
        times: dict[str, list[float]] = {"accord": [], "baseline": []}
        for number in range(rounds):
            sides = ["accord", "baseline"] if number % 2 == 0 else ["baseline", "accord"]
            for side in sides:
                begin = time.perf_counter()
                if side == "accord":
                    accord_dashboard(runtime, office, period)
                else:
                    bare_dashboard(runtime, period)
                times[side].append(time.perf_counter() - begin)
        dialect = runtime.db.engine.dialect.name
    accord_ms = statistics.median(times["accord"]) * 1000
    bare_ms = statistics.median(times["baseline"]) * 1000
    ratio = round(accord_ms / bare_ms, 2)
    say(
        f"one dashboard: {accord_ms:.1f} ms through Accord, {bare_ms:.1f} ms in bare SQL "
        f"(ratio {ratio}, goal <= {GOAL})"
    )
    print(
        json.dumps(
            {
                "bench": "sales_dashboard",
                "figure": round(accord_ms, 1),
                "unit": "ms per sales dashboard (4 aggregate queries over this year's order lines)",
                "baseline": round(bare_ms, 1),
                "ratio": ratio,
                "order_lines": lines,
                "database": dialect,
                "goal_ratio": GOAL,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
