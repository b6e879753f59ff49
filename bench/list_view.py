"""What a customer list page costs over HTTP: p50/p99 latency and requests/s at 8 concurrent
clients, against a hand-written Starlette + SQLAlchemy Core endpoint (issue 5).

Accord: N partners (100,000, then 1,000,000 in the same database), 80% companies, owned at
random by 50 salespeople. ``accord.ui.create_app(runtime)`` is served by uvicorn (one
worker, lifespan off, so no in-process job runner) in a subprocess on 127.0.0.1; a back-office
user (sees every row) and a salesperson (the ``own`` scope) sign in through the login form
(GET /login for the CSRF cookie, POST /login), then 8 client threads (httpx, one connection
each) ask for ``/views/partners?f_kind=company&sort=name``: 50 rows of companies by name.

Baseline, the same run: a small Starlette app, served the same way (uvicorn subprocess, one
worker, a sync route in the thread pool), whose one route does by hand, on the runtime's engine
(same driver and pragmas), the queries the list page sends: the partner columns WHERE
kind = 'company' (AND owner_id = <the salesperson> for the salesperson) ORDER BY name, id
LIMIT 51, the count capped at 1,001 and the owners' names. It renders the same template
(list/list.html in the UI's Jinja2 environment, with its base.html layout) with the same
context shape: the layout's names (principal and menu worked out once per user, not per
request; no CSRF token) and the list's, built with the list module's plain data holders
(ListQuery, Page, encode_cursor). It has no sign-in, no session cookie, no CSRF check, no
ORM session, no access criteria: what Accord adds is all of that. The run fails unless both
sides return the same <main> for each user and size.

The sides take turns in rounds (order rotating), each round a bounded number of requests and
seconds; latency is timed per request by the client; requests/s is requests over wall time.

    python bench/list_view.py            # 100,000 then 1,000,000 partners
    python bench/list_view.py --quick    # 100,000 partners, fewer requests
    python bench/list_view.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/list_view.py --instructions  # instructions per request under callgrind

``--instructions`` counts what load does not change: the CPU instructions per list page of
each side and user, in process (the app driven by Starlette's TestClient, no sockets), as
the difference of two runs under ``valgrind --tool=callgrind`` divided by the difference
of their requests, on 100,000 partners.
"""

from __future__ import annotations

import argparse
import enum
import json
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import Table, func, insert, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from throwaway import database

from accord.core import security
from accord.core.access import Principal
from accord.core.config_file import write_new_config
from accord.core.contributions import ModelView
from accord.core.partners import Partner, PartnerKind
from accord.core.runtime import Runtime
from accord.core.security import TeamKind, User, create_team, create_user

CLIENTS = 8
SELLERS = 50
BATCH = 5_000
PAGE = 50
COUNT_CAP = 1_000
PASSWORD = "bench-password"
PATH = "/views/partners"
QUERY = "f_kind=company&sort=name"
GOAL = 1.5
BACK_OFFICE = "back office"
SELLER = "salesperson"
ACCORD = "accord"
BASELINE = "baseline"
WORDS = [
    *("Alpine", "Baltic", "Cedar", "Delta", "Eagle", "Falcon", "Granite", "Harbor", "Iris"),
    *("Juniper", "Kestrel", "Lumen", "Maple", "Nordic", "Orbit", "Pioneer", "Quartz", "Summit"),
    *("Tundra", "Union", "Vertex", "Willow", "Zenith", "Atlas", "Beacon", "Crown", "Dune"),
    *("Ember", "Fjord", "Garnet", "Helix", "Indigo", "Jasper", "Keystone", "Lotus", "Nova"),
    *("Oak", "Prism", "Meridian", "Riverside"),
]
TRADES = ["Tools", "Foods", "Logistics", "Textiles", "Plastics", "Energy", "Optics", "Motors"]
FORMS = ["SA", "GmbH", "Ltd", "SRL", "BV", "Oy"]


@dataclass(frozen=True)
class Plan:
    """How much load: requests per round and side, rounds, the seconds a round may take."""

    sizes: tuple[int, ...]
    per_round: int
    rounds: int
    round_seconds: float
    warmup: int


# --- the data ------------------------------------------------------------------------------


def build_users(runtime: Runtime) -> tuple[int, list[int]]:
    """A back-office user and 50 salespeople in one team; returns their user ids."""
    hasher = security._hasher  # the smallest Argon2 cost, as accord.testing does
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    sellers: list[int] = []
    with ExitStack() as restore:
        restore.callback(setattr, security, "_hasher", hasher)
        session = restore.enter_context(runtime.db.session(Principal.system("bench")))
        team = create_team(session, "Sales", TeamKind.DIRECT_SALES)
        office = create_user(session, "office", PASSWORD, roles=["back_office"], team=team)
        for number in range(SELLERS):
            seller = create_user(
                session, f"seller{number}", PASSWORD, roles=["salesperson"], team=team
            )
            sellers.append(seller.id)
        session.flush()
        return office.id, sellers


def load_partners(runtime: Runtime, sellers: Sequence[int], first: int, last: int) -> float:
    """Partners ``first`` to ``last`` (80% companies, random names and owners) through Core
    executemany on a system session's connection; returns seconds."""
    chance = random.Random(20261123 + first)
    started = time.perf_counter()
    with runtime.db.session(Principal.system("bench")) as session:
        connection = session.connection()
        for start in range(first, last, BATCH):
            rows = []
            for number in range(start, min(start + BATCH, last)):
                words = (chance.choice(WORDS), chance.choice(TRADES), chance.choice(FORMS))
                kind = PartnerKind.COMPANY if chance.random() < 0.8 else PartnerKind.PERSON
                rows.append(
                    {
                        "kind": kind,
                        "name": " ".join(words),
                        "email": f"info{number}@example.com",
                        "phone": f"+41 44 {number:07d}",
                        "owner_id": chance.choice(sellers),
                    }
                )
            connection.execute(insert(Partner), rows)
    return time.perf_counter() - started


def settle_statistics(runtime: Runtime) -> None:
    """The kernel's own refresh, as the job runner's hourly housekeeping runs it; on
    PostgreSQL what autovacuum does soon after a bulk load."""
    runtime.db.refresh_statistics()
    engine = runtime.db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE core_partner"))


# --- the baseline: one route, Core and the template ----------------------------------------


def baseline_app(runtime: Runtime) -> Starlette:
    """``/views/partners?f_kind=company&sort=name&as=<user id>[&owner=<user id>]``: the
    list page's queries written by hand, rendered with list/list.html."""
    from accord.core.defaults import accord_model_views
    from accord.ui.lists import ListQuery, Page, encode_cursor, listed_models
    from accord.ui.site import APP_NAME, Site

    engine = runtime.db.engine
    partner: Table = Partner.__table__  # type: ignore[assignment]
    user: Table = User.__table__  # type: ignore[assignment]
    site = Site.from_runtime(runtime)
    template = site.pages.env.get_template("list/list.html")
    view: ModelView = next(v for v in accord_model_views() if v.name == "partners")
    shown = view.default_columns
    columns = [column for column in view.columns if column.field in shown]
    sortable = {column.field for column in view.columns if column.sortable}
    filter_choices = [
        (f, f.choices if f.kind != "boolean" else (("yes", "Yes"), ("no", "No")))
        for f in view.filters
    ]
    query = ListQuery("", "name", False, {"kind": "company"}, shown)
    listed = listed_models(runtime.pm)["partners"]
    # Per user, worked out once: the principal, the menu and the "New" link.
    layout: dict[int, tuple[Principal, list[Any], str | None]] = {}

    def text_of(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, enum.Enum):
            return str(value.value)
        return str(value)

    def link(**changes: Any) -> str:
        return f"{PATH}?{urlencode(query.params(**changes))}"

    def partners(request: Request) -> Response:
        user_id = int(request.query_params["as"])
        if user_id not in layout:
            principal = runtime.principal_for(user_id)
            new_path = f"{PATH}/new" if listed.creatable_by(principal) else None
            layout[user_id] = (principal, site.menu_for(principal), new_path)
        principal, menu, new_path = layout[user_id]
        where = [partner.c.kind == PartnerKind(request.query_params["f_kind"])]
        if "owner" in request.query_params:
            where.append(partner.c.owner_id == int(request.query_params["owner"]))
        page_sql = (
            select(partner).where(*where).order_by(partner.c.name, partner.c.id).limit(PAGE + 1)
        )
        counted = select(partner.c.id).where(*where).limit(COUNT_CAP + 1).subquery()
        with engine.connect() as connection:
            rows = list(connection.execute(page_sql))
            count = connection.scalar(select(func.count()).select_from(counted)) or 0
            owners = {row.owner_id for row in rows[:PAGE]} - {None}
            names = dict(
                connection.execute(
                    select(user.c.id, user.c.name).where(user.c.id.in_(owners))
                ).all()
            )
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        next_cursor = encode_cursor(rows[-1].name, rows[-1].id) if rows and more else None
        page = Page(rows, min(count, COUNT_CAP), count > COUNT_CAP, next_cursor, None)

        def cells(row: Any, name: str) -> str:
            value = getattr(row, name)
            if name == "owner_id" and value in names:
                return str(names[value])
            return text_of(value)

        html = template.render(
            {
                "request": request,
                "app_name": APP_NAME,
                "principal": principal,
                "menu": menu,
                "current_path": PATH,
                "csrftoken": "",
                "flashes": [],
                "view": view,
                "query": query,
                "page": page,
                "problems": [],
                "list_path": PATH,
                "csv_path": f"{PATH}.csv",
                "columns": columns,
                "sortable": sortable,
                "filter_choices": filter_choices,
                "cells": cells,
                "link": link,
                "csv_link": f"{PATH}.csv?{urlencode(query.params())}",
                "new_path": new_path,
            }
        )
        return HTMLResponse(html, headers={"Vary": "HX-Request"})

    return Starlette(routes=[Route(PATH, partners)])


def serve(side: str, config: Path, port: int) -> None:
    """The server subprocess: one side's app under uvicorn, one worker, on 127.0.0.1."""
    runtime = Runtime(config)
    if side == ACCORD:
        from accord.ui import create_app

        app = create_app(runtime)
    else:
        app = baseline_app(runtime)
    uvicorn.run(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False
    )


# --- the clients ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(side: str, config: Path, log: Path) -> Iterator[str]:
    """One side served in a subprocess; yields its base URL once it answers (30 s at most)."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", side, "--config", str(config)]
    with log.open("ab") as output:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/login" if side == ACCORD else f"{base}/none", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{side} server did not start; see {log}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def sign_in(base: str, login: str) -> dict[str, str]:
    """The cookies of a signed-in browser: the CSRF cookie from GET /login, then the form."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        client.get("/login")
        token = client.cookies["csrftoken"]
        data = {"login": login, "password": PASSWORD, "csrftoken": token}
        response = client.post("/login", data=data)
        assert response.status_code == 303, (response.status_code, response.text[:500])
        return dict(client.cookies.items())


@dataclass(frozen=True)
class Target:
    """One side's list page for one user: its URL and cookies."""

    url: str
    cookies: Mapping[str, str]


def drive(target: Target, requests: int, seconds: float) -> tuple[list[float], float]:
    """``requests`` GETs (fewer if ``seconds`` run out) from 8 threads, each with its own
    connection; the seconds of each, and the wall time of all."""
    latencies: list[float] = []
    issued = 0
    lock = threading.Lock()
    failures: list[str] = []
    deadline = time.perf_counter() + seconds

    def client() -> None:
        nonlocal issued
        with httpx.Client(cookies=dict(target.cookies), timeout=30) as http:
            while True:
                with lock:
                    if issued >= requests or time.perf_counter() > deadline or failures:
                        return
                    issued += 1
                started = time.perf_counter()
                response = http.get(target.url)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    with lock:
                        failures.append(f"{target.url}: {response.status_code}")
                    return
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    wall = time.perf_counter() - started
    assert not failures, failures[0]
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    return latencies, wall


MAIN = re.compile(r"<main\b.*</main>", re.S)


def same_page(targets: Mapping[str, Target], user: str, rows: int) -> None:
    """Both sides return the same list (the <main> of the page) and it is a full page."""
    mains = {}
    for side, target in targets.items():
        response = httpx.get(target.url, cookies=dict(target.cookies), timeout=30)
        assert response.status_code == 200, (side, response.status_code)
        found = MAIN.search(response.text)
        assert found, f"{side}: no <main> in the page"
        mains[side] = found.group(0)
    assert mains[ACCORD] == mains[BASELINE], f"{user}: the two sides render different lists"
    assert mains[ACCORD].count("<tr>") == PAGE + 1, f"{user}: not {PAGE} rows"
    assert "more than 1,000" in mains[ACCORD] or rows < 2 * COUNT_CAP


@dataclass(frozen=True)
class Figures:
    p50: float
    p99: float
    rate: float
    requests: int


def measure(targets: Mapping[str, Target], plan: Plan) -> dict[str, Figures]:
    """The sides take turns, round by round, the order rotating; after a warm-up."""
    for target in targets.values():
        drive(target, plan.warmup, plan.round_seconds)
    times: dict[str, list[float]] = {side: [] for side in targets}
    walls: dict[str, float] = dict.fromkeys(targets, 0.0)
    sides = list(targets)
    for number in range(plan.rounds):
        for side in sides[number % 2 :] + sides[: number % 2]:
            latencies, wall = drive(targets[side], plan.per_round, plan.round_seconds)
            times[side].extend(latencies)
            walls[side] += wall
    return {
        side: Figures(
            statistics.median(latencies) * 1000,
            statistics.quantiles(latencies, n=100, method="inclusive")[98] * 1000,
            len(latencies) / walls[side],
            len(latencies),
        )
        for side, latencies in times.items()
    }


# --- instructions per request (callgrind) -------------------------------------------------

INSTRUCTION_RUNS = (20, 120)
"""Requests of the two runs whose difference is counted."""
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def drive_in_process(side: str, config: Path, login: str, query: str, requests: int) -> None:
    """``requests`` list pages of one side for one user, in this process, one at a time."""
    from starlette.testclient import TestClient

    runtime = Runtime(config)
    if side == ACCORD:
        from accord.ui import create_app

        app = create_app(runtime)
    else:
        app = baseline_app(runtime)

    async def without_lifespan(scope: Any, receive: Any, send: Any) -> None:
        """The app as uvicorn serves it with lifespan off: no in-process job runner."""
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    with TestClient(without_lifespan, base_url="http://127.0.0.1") as client:
        if side == ACCORD:
            client.get("/login")
            data = {"login": login, "password": PASSWORD, "csrftoken": client.cookies["csrftoken"]}
            assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        for _ in range(requests):
            response = client.get(f"{PATH}?{query}")
            assert response.status_code == 200, (response.status_code, response.text[:500])
    runtime.close()


def instructions(side: str, config: Path, login: str, query: str, log: Path) -> int:
    """Instructions per request of ``side`` for ``login``: two runs under callgrind."""
    counted = []
    for requests in INSTRUCTION_RUNS:
        command = [
            *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
            *(sys.executable, __file__, "--drive", side, "--config", str(config)),
            *("--login", login, "--query", query, "--requests", str(requests)),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        with log.open("a") as output:
            output.write(done.stderr)
        found = COLLECTED.findall(done.stderr)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"{side} under callgrind failed; see {log}")
        counted.append(int(found[-1]))
    return (counted[1] - counted[0]) // (INSTRUCTION_RUNS[1] - INSTRUCTION_RUNS[0])


def count_instructions(sides: Sequence[str], users: Sequence[str]) -> None:
    """Instructions per list page for each side and user, on 100,000 partners (SQLite)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    size = 100_000
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder, database(Path(folder), "") as url:
        config = Path(folder) / "accord.toml"
        write_new_config(config, database_url=url)
        runtime = Runtime(config)
        runtime.migrator.upgrade(report=lambda line: None)
        office, sellers = build_users(runtime)
        load_partners(runtime, sellers, 0, size)
        settle_statistics(runtime)
        runtime.close()
        log = Path(folder) / "callgrind.log"
        for user in users:
            login, user_id = ("office", office) if user == BACK_OFFICE else ("seller0", sellers[0])
            owner = f"&owner={user_id}" if user == SELLER else ""
            for side in sides:
                query = QUERY if side == ACCORD else f"{QUERY}&as={user_id}{owner}"
                try:
                    count = instructions(side, config, login, query, log)
                except RuntimeError:
                    say(log.read_text(errors="replace")[-3000:])
                    raise
                key = "office" if user == BACK_OFFICE else "seller"
                results[f"{key}_{side}_instructions"] = count
                say(f"{user:12} {side:9} {count:>12,} instructions per request")
        for key in ("office", "seller"):
            mine, theirs = (
                results.get(f"{key}_{ACCORD}_instructions"),
                results.get(f"{key}_{BASELINE}_instructions"),
            )
            if mine and theirs:
                results[f"{key}_ratio"] = round(mine / theirs, 2)
    headline = next(iter(results.values()))
    print(
        json.dumps(
            {
                "bench": "list_view_instructions",
                "figure": headline,
                "unit": "CPU instructions per list page (callgrind), in process",
                "baseline": results.get(f"office_{BASELINE}_instructions"),
                "ratio": results.get("office_ratio"),
                "partners": size,
                "database": "sqlite",
                **results,
            }
        )
    )


# --- the run -------------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 partners, fewer requests")
    parser.add_argument("--postgres", default="", help="run on this PostgreSQL server")
    parser.add_argument("--serve", choices=(ACCORD, BASELINE), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request (callgrind)"
    )
    parser.add_argument(
        "--sides", default=f"{ACCORD},{BASELINE}", help="with --instructions: sides to count"
    )
    parser.add_argument(
        "--users", default="office,seller", help="with --instructions: users to count"
    )
    parser.add_argument("--drive", choices=(ACCORD, BASELINE), help=argparse.SUPPRESS)
    parser.add_argument("--login", help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.config, args.port)
        return
    if args.drive:
        drive_in_process(args.drive, args.config, args.login, args.query, args.requests)
        return
    if args.instructions:
        sides = [side for side in (ACCORD, BASELINE) if side in args.sides.split(",")]
        chosen = args.users.split(",")
        users = [u for u, key in ((BACK_OFFICE, "office"), (SELLER, "seller")) if key in chosen]
        count_instructions(sides, users)
        return
    plan = (
        Plan((100_000,), per_round=200, rounds=3, round_seconds=6.0, warmup=24)
        if args.quick
        else Plan((100_000, 1_000_000), per_round=300, rounds=4, round_seconds=20.0, warmup=80)
    )
    started = time.perf_counter()
    results: dict[tuple[int, str], dict[str, Figures]] = {}
    with tempfile.TemporaryDirectory() as folder, database(Path(folder), args.postgres) as url:
        config = Path(folder) / "accord.toml"
        log = Path(folder) / "servers.log"
        write_new_config(config, database_url=url)
        runtime = Runtime(config)
        runtime.migrator.upgrade(report=lambda line: None)
        dialect = runtime.db.engine.dialect.name
        office, sellers = build_users(runtime)
        loaded = 0
        for size in plan.sizes:
            seconds = load_partners(runtime, sellers, loaded, size)
            loaded = size
            settle_statistics(runtime)
            say(f"{size:,} partners on {dialect} ({seconds:.1f} s to load the new ones)")
            try:
                with server(ACCORD, config, log) as accord, server(BASELINE, config, log) as base:
                    users = {
                        BACK_OFFICE: ("office", office, ""),
                        SELLER: ("seller0", sellers[0], f"&owner={sellers[0]}"),
                    }
                    for user, (login, user_id, owner) in users.items():
                        targets = {
                            ACCORD: Target(f"{accord}{PATH}?{QUERY}", sign_in(accord, login)),
                            BASELINE: Target(f"{base}{PATH}?{QUERY}&as={user_id}{owner}", {}),
                        }
                        same_page(targets, user, size)
                        results[size, user] = measure(targets, plan)
            except Exception:
                say(log.read_text(errors="replace")[-3000:] if log.exists() else "")
                raise
        runtime.close()
    elapsed = time.perf_counter() - started

    say(f"\n{CLIENTS} clients on 127.0.0.1, uvicorn one worker each side; ms per request")
    say(f"{'partners':>10} {'user':12} {'side':9} {'p50':>8} {'p99':>8} {'req/s':>8} {'n':>6}")
    for (size, user), sides in results.items():
        for side, figures in sides.items():
            say(
                f"{size:>10,} {user:12} {side:9} {figures.p50:8.2f} {figures.p99:8.2f} "
                f"{figures.rate:8.1f} {figures.requests:6}"
            )
    small, large = plan.sizes[0], plan.sizes[-1]

    def of(size: int, user: str, side: str) -> Figures:
        return results[size, user][side]

    def ratio(size: int, user: str) -> float:
        return round(of(size, user, ACCORD).p50 / of(size, user, BASELINE).p50, 2)

    def flatness(user: str, side: str) -> float:
        return round(of(large, user, side).p99 / of(small, user, side).p99, 2)

    headline = of(large, BACK_OFFICE, ACCORD)
    result: dict[str, Any] = {
        "bench": "list_view",
        "figure": round(headline.p50, 2),
        "unit": f"ms p50 per list page, {CLIENTS} clients",
        "baseline": round(of(large, BACK_OFFICE, BASELINE).p50, 2),
        "ratio": ratio(large, BACK_OFFICE),
        "partners": large,
        "database": dialect,
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
    }
    for size in plan.sizes:
        tag = f"{size // 1000}k"
        for user, key in ((BACK_OFFICE, "office"), (SELLER, "seller")):
            for side in (ACCORD, BASELINE):
                figures = of(size, user, side)
                prefix = f"{key}_{side}_{tag}"
                result[f"{prefix}_p50_ms"] = round(figures.p50, 2)
                result[f"{prefix}_p99_ms"] = round(figures.p99, 2)
                result[f"{prefix}_rps"] = round(figures.rate, 1)
            result[f"{key}_ratio_{tag}"] = ratio(size, user)
    if len(plan.sizes) > 1:
        for user, key in ((BACK_OFFICE, "office"), (SELLER, "seller")):
            for side in (ACCORD, BASELINE):
                result[f"{key}_{side}_p99_1m_over_100k"] = flatness(user, side)
    verdicts = [
        f"{user}: ratio {ratio(size, user)} at {size:,} "
        f"({'met' if ratio(size, user) <= GOAL else 'missed'})"
        for size in plan.sizes
        for user in (BACK_OFFICE, SELLER)
    ]
    say(f"\nGoal p50 <= {GOAL}x the baseline's: " + "; ".join(verdicts) + ".")
    if len(plan.sizes) > 1:
        say(
            "p99 at 1M over p99 at 100k (flat is about 1): "
            + "; ".join(
                f"{user} {side} {flatness(user, side)}"
                for user in (BACK_OFFICE, SELLER)
                for side in (ACCORD, BASELINE)
            )
            + "."
        )
    say(f"Run took {elapsed:.1f} s.")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
