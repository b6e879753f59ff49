"""How many web-store orders per second the intake takes: ``POST /orders/intake`` on
127.0.0.1 with an API key, 8 concurrent clients (httpx, one connection each), each order a
new buyer with two lines. Each accepted order has validated its payload, created its
customer with an external id and a shipping address, created the order with its lines,
checked availability, confirmed it through the workflow engine (history, audit, outbox),
emitted ``orders.order_placed`` and queued the confirmation mail, all in one transaction.
``create_app(runtime)`` is served by uvicorn (one worker, lifespan off: no in-process job
runner) in a subprocess.

Baseline, the same run: the same orders written as bare INSERTs (the order row and its
line rows, one transaction per order) by 8 threads on the runtime's engine: what the
database itself costs, without HTTP, validation, the customer, the checks or the outbox.

It runs on PostgreSQL (the local server unless --postgres names another), or on a SQLite
file with --sqlite, where the intake's requests take the write lock one after the other
(each writing request begins IMMEDIATE).

    python bench/intake.py            # 600 orders
    python bench/intake.py --quick    # 100 orders
    python bench/intake.py --postgres postgresql+psycopg://user@host:5432/db
    python bench/intake.py --sqlite   # the same on a SQLite file
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import func, insert, select
from throwaway import database, migrated_runtime

from accord.core import security
from accord.core.access import Principal
from accord.core.runtime import Runtime
from accord.core.security import create_api_key, create_user
from accord.plugins.orders.models import Order, OrderLine, Product

CLIENTS = 8
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SYSTEM = Principal.system("bench")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def prepare(runtime: Runtime) -> str:
    """Two products with plenty of stock and the store's user; returns its API key."""
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with runtime.db.session(SYSTEM) as session:
        session.add_all(
            [
                Product(
                    sku="PUMP-100",
                    name="Pump 100",
                    product_line="Pumps",
                    list_price=Decimal(1000),
                    cost=Decimal(600),
                    stock=Decimal(10**8),
                ),
                Product(
                    sku="VALV-20",
                    name="Valve 20",
                    product_line="Valves",
                    list_price=Decimal(85),
                    cost=Decimal(38),
                    stock=Decimal(10**8),
                ),
            ]
        )
        store = create_user(session, "store", "bench-password-1", roles=["orders_webstore"])
        _, token = create_api_key(session, store, "bench")
    return token


def store_order(number: int, prefix: str) -> dict[str, Any]:
    return {
        "store_order_id": f"{prefix}-{number}",
        "currency": "EUR",
        "customer": {
            "id": f"{prefix}-C{number}",
            "name": f"Buyer {number}",
            "email": f"buyer{number}.{prefix.lower()}@example.com",
            "address": {"street": "Main street 1", "city": "Malmö", "country": "SE"},
        },
        "lines": [
            {"sku": "PUMP-100", "quantity": 1, "unit_price": "950.00"},
            {"sku": "VALV-20", "quantity": 4, "unit_price": "85.00"},
        ],
        "tracking_token": "bench",
    }


def serve(config: Path, port: int) -> None:
    import uvicorn

    from accord.ui import create_app

    app = create_app(Runtime(config))
    uvicorn.run(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False
    )


@contextmanager
def server(config: Path, log: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, __file__, "--serve", "--config", str(config), "--port", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start; see {log}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def in_threads(count: int, work: Callable[[int], None]) -> float:
    """``work(n)`` for n in range(count), by 8 threads; the wall time."""
    issued = 0
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        nonlocal issued
        while True:
            with lock:
                if issued >= count or failures:
                    return
                number = issued
                issued += 1
            try:
                work(number)
            except BaseException as error:  # reported by the main thread
                with lock:
                    failures.append(error)
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started


def through_intake(base: str, token: str, count: int, prefix: str) -> float:
    local = threading.local()

    def post(number: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(
                base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
            )
        response = client.post("/orders/intake", json=store_order(number, prefix))
        if response.status_code != 201 or response.json()["state"] != "confirmed":
            raise RuntimeError(f"order {number}: {response.status_code} {response.text[:300]}")

    return in_threads(count, post)


def bare_inserts(runtime: Runtime, count: int, prefix: str) -> float:
    """The same orders as bare INSERTs, one transaction each; the wall time."""
    engine = runtime.db.engine
    with engine.connect() as connection:
        partner = connection.scalar(select(func.min(Order.partner_id)))
    now = dt.datetime.now(dt.UTC)

    def write(number: int) -> None:
        with engine.begin() as connection:
            order_id = connection.execute(
                insert(Order).returning(Order.id),
                {
                    "number": f"{prefix}-{number}",
                    "partner_id": partner,
                    "state": "confirmed",
                    "version": 1,
                    "source": "webstore",
                    "external_ref": f"{prefix}-{number}",
                    "currency": "EUR",
                    "ordered_on": now.date(),
                    "amount": Decimal("1290.00"),
                    "cost": Decimal("752.00"),
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            connection.execute(
                insert(OrderLine),
                [
                    {
                        "order_id": order_id,
                        "position": 1,
                        "sku": "PUMP-100",
                        "description": "Pump 100",
                        "product_line": "Pumps",
                        "quantity": 1,
                        "unit_price": Decimal("950.00"),
                        "amount": Decimal("950.00"),
                        "cost": Decimal("600.00"),
                        "shipped_quantity": 0,
                    },
                    {
                        "order_id": order_id,
                        "position": 2,
                        "sku": "VALV-20",
                        "description": "Valve 20",
                        "product_line": "Valves",
                        "quantity": 4,
                        "unit_price": Decimal("85.00"),
                        "amount": Decimal("340.00"),
                        "cost": Decimal("152.00"),
                        "shipped_quantity": 0,
                    },
                ],
            )

    return in_threads(count, write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 orders")
    parser.add_argument("--postgres", default=LOCAL_POSTGRES, help="the PostgreSQL server")
    parser.add_argument("--sqlite", action="store_true", help="run on a SQLite file instead")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.config, args.port)
        return
    count = 100 if args.quick else 600
    warmup = 16
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Path(folder), "" if args.sqlite else args.postgres) as url,
        migrated_runtime(Path(folder), url, plugins=["orders"]) as runtime,
    ):
        token = prepare(runtime)
        log = Path(folder) / "server.log"
        try:
            with server(runtime.config_path, log) as base:
                through_intake(base, token, warmup, "WARM")
                accord_seconds = through_intake(base, token, count, "WS")
        except Exception:
            say(log.read_text(errors="replace")[-3000:] if log.exists() else "")
            raise
        bare_inserts(runtime, warmup, "BAREWARM")
        bare_seconds = bare_inserts(runtime, count, "BARE")
        with runtime.db.engine.connect() as connection:
            made = connection.scalar(
                select(func.count()).select_from(Order).where(Order.external_ref.like("WS-%"))
            )
        assert made == count, f"{made} orders made of {count} posted"
        dialect = runtime.db.engine.dialect.name
    rate, bare_rate = count / accord_seconds, count / bare_seconds
    say(
        f"{count} web-store orders, {CLIENTS} clients: {rate:.1f}/s through the intake, "
        f"{bare_rate:.1f}/s as bare INSERTs"
    )
    print(
        json.dumps(
            {
                "bench": "intake",
                "figure": round(rate, 1),
                "unit": f"web-store orders/s through POST /orders/intake, {CLIENTS} clients "
                "(customer, confirmed order, outbox event and mail queued per order)",
                "baseline": round(bare_rate, 1),
                "ratio": round(bare_rate / rate, 2),
                "orders": count,
                "database": dialect,
                "clients": CLIENTS,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
