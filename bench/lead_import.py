"""How fast leads come in from a CSV file: 100,000 leads (20,000 with --quick) imported as
a back-office user with the leads importer, through the user's session (access rules),
with duplicate detection by e-mail, phone and company-and-name (1 % of the rows repeat an
earlier lead and merge into it), assignment by the ``[[leads.assignment]]`` rules (round
robin within a team), score, first activity, ``leads.lead_created`` event, import key and
audit entries, in one transaction. Baseline, the same run and database: the same file read
with the csv module and its rows inserted into leads_lead by one plain executemany.

    python bench/lead_import.py            # 100,000 leads
    python bench/lead_import.py --quick    # 20,000 leads
    python bench/lead_import.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python bench/lead_import.py --profile  # also print where the time goes (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, create_engine, delete, func, insert, select
from throwaway import database, migrated_runtime

from accord.core.access import Principal
from accord.core.audit import AuditEntry
from accord.core.importing import read_sheet_file, run_import
from accord.core.runtime import Runtime
from accord.core.security import TeamKind, create_team, create_user

SYSTEM = Principal.system("bench")
SETTINGS = """
[[leads.assignment]]
name = "Nordics to the distributor"
countries = ["SE", "NO", "DK", "FI"]
team = "Nordic Distribution"

[[leads.assignment]]
name = "Milan to the agency"
countries = ["IT"]
postcodes = ["20100-20199"]
user = "ugo"

[[leads.assignment]]
name = "Trade fairs to the north"
channels = ["trade_fair"]
team = "North"

[[leads.assignment]]
name = "Everything else to the south"
team = "South"
"""
COUNTRIES = [
    ("IT", "+39 02", "201"),
    ("IT", "+39 06", "001"),
    ("DE", "+49 30", "101"),
    ("FR", "+33 1", "750"),
    ("SE", "+46 8", "111"),
    ("ES", "+34 91", "280"),
]
FIRST = ["Anna", "Luca", "Marta", "Lars", "Sofia", "Jonas", "Chiara", "Pierre", "Elena", "Hugo"]
LAST = ["Rossi", "Berg", "Neri", "Dubois", "Müller", "García", "Verdi", "Lind", "Conti", "Roux"]
CHANNELS = ["trade_fair", "web_form", "phone", "event", "partner"]
HEADER = [
    "External id",
    "First name",
    "Last name",
    "Company",
    "E-mail",
    "Phone",
    "City",
    "Postcode",
    "Country",
    "Source",
    "Notes",
]


def write_file(path: Path, count: int) -> int:
    """A file of ``count`` leads, 1 % of them repeating the e-mail of an earlier one;
    the number of those repeats."""
    rng = random.Random(2026)
    repeats = 0
    emails: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for number in range(1, count + 1):
            country, prefix, postcode = rng.choice(COUNTRIES)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = f"{last} {rng.choice(['Caffè', 'Bar', 'Hotel', 'Foods', 'Trading'])} {number}"
            if emails and rng.random() < 0.01:
                email = rng.choice(emails)
                repeats += 1
            else:
                email = f"{first.lower()}.{number}@{last.lower()}-{number % 997}.example"
                emails.append(email)
            writer.writerow(
                [
                    f"FAIR-{number}",
                    first,
                    last,
                    company,
                    email,
                    f"{prefix} {rng.randint(1000000, 9999999)}",
                    "Somewhere",
                    f"{postcode}{rng.randint(10, 99)}",
                    country,
                    rng.choice(CHANNELS),
                    "Met at the stand" if rng.random() < 0.3 else "",
                ]
            )
    return repeats


def make_network(runtime: Runtime) -> int:
    """Teams and people the assignment rules name; the id of the back-office importer."""
    with runtime.db.session(SYSTEM) as session:
        teams = {
            name: create_team(session, name, kind)
            for name, kind in (
                ("North", TeamKind.DIRECT_SALES),
                ("South", TeamKind.DIRECT_SALES),
                ("Nordic Distribution", TeamKind.DISTRIBUTORS),
                ("Agenzia Rossi", TeamKind.AGENTS),
                ("Back office", TeamKind.BACK_OFFICE),
            )
        }
        for login, role, team in (
            ("sam", "salesperson", "North"),
            ("nina", "salesperson", "North"),
            ("olaf", "salesperson", "North"),
            ("sue", "salesperson", "South"),
            ("tim", "salesperson", "South"),
            ("dana", "distributor", "Nordic Distribution"),
            ("ugo", "agent", "Agenzia Rossi"),
        ):
            create_user(session, login, "correct horse battery", roles=[role], team=teams[team])
        bea = create_user(
            session,
            "bea",
            "correct horse battery",
            roles=["back_office"],
            team=teams["Back office"],
        )
        return bea.id


def measure_baseline(url: str, path: Path) -> float:
    """Read the file with the csv module, insert its rows with one executemany; undone."""
    from accord.plugins.leads.api import Lead

    table = cast(Table, Lead.__table__)
    engine = create_engine(url)
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        rows = [
            {
                "first_name": r[1],
                "last_name": r[2],
                "company": r[3],
                "email": r[4],
                "phone": r[5],
                "city": r[6],
                "postcode": r[7],
                "country": r[8],
                "channel": r[9],
                "notes": r[10],
                "state": "new",
            }
            for r in reader
        ]
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
    elapsed = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(delete(table))
    engine.dispose()
    return elapsed


def measure_import(runtime: Runtime, path: Path, user_id: int) -> tuple[float, Any]:
    from accord.plugins.leads.importing import LEAD_IMPORTER

    principal = runtime.principal_for(user_id)
    started = time.perf_counter()
    with runtime.db.session(principal, context="bench") as session:
        report = run_import(session, LEAD_IMPORTER, read_sheet_file(path))
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 leads, not 100,000")
    parser.add_argument("--postgres", default="", help="run on this PostgreSQL server")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = parser.parse_args()
    count = 20_000 if args.quick else 100_000
    with (
        tempfile.TemporaryDirectory() as folder,
        database(Path(folder), args.postgres) as url,
    ):
        path = Path(folder) / "leads.csv"
        repeats = write_file(path, count)
        config_folder = Path(folder) / "config"
        config_folder.mkdir()
        with migrated_runtime(config_folder, url, plugins=["leads"]):
            pass  # the tables, before the settings name teams that do not exist yet
        (config_folder / "accord.toml").write_text(
            (config_folder / "accord.toml").read_text() + SETTINGS
        )
        runtime = Runtime(config_folder / "accord.toml")
        try:
            user_id = make_network(runtime)
            baseline_seconds = measure_baseline(url, path)
            profile = cProfile.Profile() if args.profile else None
            if profile:
                profile.enable()
            accord_seconds, report = measure_import(runtime, path, user_id)
            if profile:
                profile.disable()
            from accord.plugins.leads.api import Lead

            with runtime.db.session(SYSTEM) as session:
                leads = session.scalar(select(func.count()).select_from(Lead)) or 0
                owned = (
                    session.scalar(
                        select(func.count()).select_from(Lead).where(Lead.owner_id.is_not(None))
                    )
                    or 0
                )
                audit = (
                    session.scalar(select(func.count()).where(AuditEntry.model == "leads_lead"))
                    or 0
                )
        finally:
            runtime.close()
    assert report.written, report.summary()
    assert not report.errors, report.summary()
    assert report.merged >= repeats, report.summary()
    assert leads == count - report.merged, (leads, report.summary())
    if profile:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    result: dict[str, Any] = {
        "bench": "lead_import",
        "figure": round(count / accord_seconds),
        "unit": "rows/s imported from CSV as a back-office user (dedupe, assignment, score, "
        "activity, event, audit, import key), one transaction",
        "baseline": round(count / baseline_seconds),
        "ratio": round(accord_seconds / baseline_seconds, 2),
        "rows": count,
        "created": report.created,
        "merged": report.merged,
        "assigned": owned,
        "audit_entries": audit,
        "database": "postgresql" if args.postgres else "sqlite",
        "seconds": round(accord_seconds, 2),
        "baseline_seconds": round(baseline_seconds, 2),
    }
    print(
        f"{count} leads: {result['figure']} rows/s imported, {result['baseline']} rows/s by a "
        "plain executemany",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
