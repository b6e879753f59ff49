"""Importing leads from a file: a good file, a file with bad rows in both modes, a
re-import that changes nothing, duplicates and assignment applied as for a lead entered by
hand, and the `accord leads import` command with its progress bar."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.api import read_sheet, run_import
from accord.core.audit import AuditEntry, history
from accord.core.events import OutboxEvent
from accord.plugins.leads.api import Lead, LeadActivity, create_lead
from accord.plugins.leads.importing import LEAD_IMPORTER
from accord.plugins.leads.models import AssignmentPointer

from .conftest import Network

GOOD = """External id,First name,Last name,Company,E-mail,Phone,Postcode,Country,Source
F-1,Anna,Rossi,Castello Srl,anna@castello.example,+39 02 1234 5678,20121,IT,trade_fair
F-2,Lars,Berg,Nordkaffe AB,lars@nordkaffe.example,+46 8 123 456 78,11122,SE,trade_fair
F-3,Paolo,Verdi,Bar Verdi,paolo@barverdi.example,,80100,IT,web_form
F-4,Marta,Neri,Caffè Neri,marta@neri.example,,80121,IT,web_form
"""

BAD = """External id,First name,Last name,Company,E-mail,Country,Source
F-1,Anna,Rossi,Castello Srl,anna@castello.example,IT,trade_fair
F-2,Lars,Berg,Nordkaffe AB,lars@,SE,trade_fair
F-3,Paolo,Verdi,Bar Verdi,paolo@barverdi.example,Italy,web_form
F-4,Marta,Neri,Caffè Neri,marta@neri.example,IT,carrier_pigeon
F-5,Ugo,Blu,Blu Spa,ugo@blu.example,IT,phone
"""


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def leads_by_email(session: Session) -> dict[str, Lead]:
    session.expire_all()
    return {lead.email: lead for lead in session.scalars(select(Lead))}


def test_a_good_file_creates_assigned_audited_leads(
    network: Network, system: Callable[[], Any]
) -> None:
    with system() as session:
        report = run_import(session, LEAD_IMPORTER, read_sheet(GOOD.encode(), "fair.csv"))

    with system() as session:
        leads = leads_by_email(session)
        assert report.written
        assert (report.created, report.merged, report.rejected) == (4, 0, 0)
        anna, lars, paolo = (
            leads["anna@castello.example"],
            leads["lars@nordkaffe.example"],
            leads["paolo@barverdi.example"],
        )
        # The assignment rules of tests/leads/conftest.py: Milan postcodes to ugo, the Nordics
        # to their distributor, web forms to the North team in turn.
        assert anna.owner_id == network["ugo"].id
        assert lars.team_id == network.teams["Nordic Distribution"].id
        assert paolo.team_id == network.teams["North"].id
        north = {network["sam"].id, network["nina"].id}
        assert {paolo.owner_id, leads["marta@neri.example"].owner_id} == north
        assert (anna.state, anna.channel, anna.phone_key) == ("new", "trade_fair", "+390212345678")
        assert anna.score > 0
        audited = {entry.field for entry in history(session, "leads_lead", str(anna.id))}
        assert {"email", "company", "owner_id", "state"} <= audited
        assert count(session, LeadActivity) == 4
        events = session.scalars(select(OutboxEvent.name)).all()
        assert events.count("leads.lead_created") == 4


@pytest.mark.parametrize("skip_bad_rows", [False, True])
def test_bad_rows_are_named_and_imported_only_when_asked(
    network: Network, system: Callable[[], Any], skip_bad_rows: bool
) -> None:
    with system() as session:
        report = run_import(
            session,
            LEAD_IMPORTER,
            read_sheet(BAD.encode(), "fair.csv"),
            skip_bad_rows=skip_bad_rows,
        )

    assert [str(error) for error in report.errors] == [
        "row 3, column 'E-mail': 'lars@' is not an e-mail address",
        "row 4, column 'Country': 'Italy': use the two-letter ISO code, e.g. 'IT'",
        "row 5, column 'Source': unknown channel 'carrier_pigeon'; known: social, web_form, "
        "landing_page, blog, email, newsletter, lead_generation, ecommerce, app, phone, visit, "
        "shop, partner, trade_fair, event",
    ]
    with system() as session:
        emails = sorted(leads_by_email(session))
    if skip_bad_rows:
        assert report.written
        assert emails == ["anna@castello.example", "ugo@blu.example"]
    else:
        assert not report.written
        assert emails == []


def test_reimporting_the_same_file_changes_nothing(
    network: Network, system: Callable[[], Any]
) -> None:
    with system() as session:
        run_import(session, LEAD_IMPORTER, read_sheet(GOOD.encode(), "fair.csv"))
    with system() as session:
        before = (count(session, Lead), count(session, AuditEntry), count(session, OutboxEvent))

        again = run_import(session, LEAD_IMPORTER, read_sheet(GOOD.encode(), "fair.csv"))

    with system() as session:
        after = (count(session, Lead), count(session, AuditEntry), count(session, OutboxEvent))
    assert (again.created, again.merged, again.unchanged) == (0, 0, 4)
    assert after == before


def test_duplicates_merge_into_open_leads_in_the_database_and_in_the_file(
    network: Network, system: Callable[[], Any], make_lead: Callable[..., int]
) -> None:
    existing = make_lead(first_name="Anna", email="Anna@Castello.example", company="Castello")
    content = GOOD + "F-5,Anna,R.,,anna@castello.example,,,,phone\n"
    content += "F-6,Marta,Neri,Caffè Neri srl,,+39 081 555 0101,,IT,visit\n"

    with system() as session:
        report = run_import(session, LEAD_IMPORTER, read_sheet(content.encode(), "fair.csv"))

    with system() as session:
        assert (report.created, report.merged) == (3, 3)
        merged = {merge.line: merge.note for merge in report.merges}
        assert merged[2] == f"same email as lead #{existing}"
        assert merged[6] == f"same email as lead #{existing}"
        marta = leads_by_email(session)["marta@neri.example"]
        assert merged[7] == f"same name as lead #{marta.id}"
        anna = session.get_one(Lead, existing)
        assert anna.last_name == "Rossi"  # blank fields of the open lead are filled in
        assert count(session, Lead) == 4


def test_a_user_imports_through_their_access_rules(
    network: Network, as_user: Callable[..., Any], system: Callable[[], Any]
) -> None:
    with as_user(network["bea"]) as session:
        report = run_import(session, LEAD_IMPORTER, read_sheet(GOOD.encode(), "fair.csv"))
    assert report.created == 4
    with system() as session:
        actors = set(
            session.scalars(select(AuditEntry.actor).where(AuditEntry.model == "leads_lead"))
        )
        assert actors == {f"user:{network['bea'].id}:bea"}


def test_an_import_gives_each_lead_what_entering_them_one_by_one_gives(
    network: Network, system: Callable[[], Any], make_lead: Callable[..., int]
) -> None:
    """Duplicates in the database and earlier in the file (across batches), blank fields
    filled in, notes kept, round robin and every other rule: the same leads, owners,
    activities and events as ``create_lead`` row after row."""
    make_lead(first_name="Anna", email="anna.0@rossi.example", company="Rossi Bar")
    make_lead(last_name="Berg", phone="+46 8 123 456 70", country="SE")
    make_lead(first_name="Ugo", last_name="Neri", company="Neri Caffè")
    rows = sample_rows(70)
    content = "First name,Last name,Company,E-mail,Phone,Postcode,Country,Source,Notes\n"
    content += "".join(",".join(row[name] for name in SAMPLE_FIELDS) + "\n" for row in rows)

    with system() as session:
        by_hand = session.begin_nested()
        results = [create_lead(session, {k: v for k, v in row.items() if v}) for row in rows]
        merged = {line: r.lead.id for line, r in enumerate(results, 2) if r.matched}
        expected = snapshot(session, merged)
        by_hand.rollback()
    small_batches = dataclasses.replace(LEAD_IMPORTER, batch_size=9)
    with system() as session:
        report = run_import(session, small_batches, read_sheet(content.encode(), "leads.csv"))
        merged = {merge.line: int(merge.record_id) for merge in report.merges}
        imported = snapshot(session, merged)

    assert not report.errors
    assert report.merged == len(expected["merges"]) > 10
    assert imported == expected


SAMPLE_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "postcode",
    "country",
    "channel",
    "notes",
)


def sample_rows(count: int) -> list[dict[str, str]]:
    """Leads drawn from small pools, so that many share an e-mail, a phone or a company
    and name with an earlier one, in every format the keys normalise."""
    rng = random.Random(2026)
    first = ["Anna", "Lars", "Ugo", "Marta", "Sofia"]
    last = ["Rossi", "Berg", "Neri", "Verdi", "Müller"]
    companies = ["Rossi Bar", "Neri Caffè", "Berg AB", "Verdi S.r.l.", "", ""]
    phones = ["+46 8 123 456 70", "+39 02 1234 5670", "02 1234 5671", "+39 333 123 4567"]
    rows = []
    for number in range(count):
        name, surname = rng.choice(first), rng.choice(last)
        email = f"{name.lower()}.{rng.randint(0, 6)}@{surname.lower()}.example"
        rows.append(
            {
                "first_name": name if rng.random() < 0.8 else "",
                "last_name": surname,
                "company": rng.choice(companies),
                "email": rng.choice(["", email, email.upper()]),
                "phone": rng.choice(["", "", *phones]),
                "postcode": rng.choice(["", "20121", "80100", "11122"]),
                "country": rng.choice(["", "IT", "IT", "SE", "DE"]),
                "channel": rng.choice(["web_form", "landing_page", "phone", "trade_fair"]),
                "notes": rng.choice(["", "", f"note {number}"]),
            }
        )
    return rows


def snapshot(session: Session, merges: dict[int, int]) -> dict[str, Any]:
    """The leads, activities, events and round-robin pointers in the database, the new
    leads named by their order (PostgreSQL's ids are not given back by a rollback), and
    which lead each merged row (by line) went into."""
    session.flush()
    session.expire_all()
    leads = session.scalars(select(Lead).order_by(Lead.id)).all()
    names = {lead.id: lead.id if lead.id <= 3 else f"new {n}" for n, lead in enumerate(leads)}
    fields = (*SAMPLE_FIELDS, "owner_id", "team_id", "state", "score")
    keys = ("email_key", "phone_key", "name_key")
    activities = session.scalars(select(LeadActivity).order_by(LeadActivity.id)).all()
    events = session.scalars(
        select(OutboxEvent).where(OutboxEvent.name.like("leads.%")).order_by(OutboxEvent.id)
    ).all()
    pointers = session.execute(select(AssignmentPointer.rule, AssignmentPointer.last_user_id))
    timeline: dict[Any, list[tuple[str, str]]] = {}
    for activity in activities:  # each lead's own in the order they happened
        timeline.setdefault(names[activity.lead_id], []).append((activity.subject, activity.body))
    emitted: dict[Any, list[tuple[str, str]]] = {}
    for event in events:
        data = json.loads(event.payload)
        shown = json.dumps({**data, "lead_id": None}, sort_keys=True)
        emitted.setdefault(names[data["lead_id"]], []).append((event.name, shown))
    return {
        "leads": [
            (names[lead.id], *(getattr(lead, name) for name in (*fields, *keys))) for lead in leads
        ],
        "activities": timeline,
        "events": emitted,
        "pointers": sorted((rule, last) for rule, last in pointers),
        "merges": {line: names[lead_id] for line, lead_id in merges.items()},
    }


def test_accord_leads_import_shows_progress_and_the_report(
    network: Network, accord_cli: Callable[..., Any], tmp_path: Path, system: Callable[[], Any]
) -> None:
    path = tmp_path / "fair.csv"
    path.write_text(BAD.replace("Source", "Origine"))

    unmapped = accord_cli("leads", "import", str(path))
    dry = accord_cli("leads", "import", str(path), "--map", "Origine=channel", "--dry-run")
    refused = accord_cli("leads", "import", str(path), "--map", "Origine=channel")
    done = accord_cli(
        "leads", "import", str(path), "--map", "Origine=channel", "--skip-bad-rows", "--as", "bea"
    )

    assert unmapped.exit_code == 1
    assert "no column fills the required field 'channel'" in unmapped.output
    assert dry.exit_code == 0
    assert "checking fair.csv" in dry.output  # the progress bar's label
    assert "dry run: nothing was written; 5 rows: would create 2" in dry.output
    assert refused.exit_code == 1
    assert "row 3, column 'E-mail': 'lars@' is not an e-mail address" in refused.output
    assert done.exit_code == 0, done.output
    assert "imported; 5 rows: created 2, merged 0, unchanged 0, rejected 3" in done.output
    with system() as session:
        assert count(session, Lead) == 2
        actors = set(
            session.scalars(select(AuditEntry.actor).where(AuditEntry.model == "leads_lead"))
        )
        assert actors == {f"user:{network['bea'].id}:bea"}
