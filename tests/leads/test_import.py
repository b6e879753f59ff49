"""Importing leads from a file: a good file, a file with bad rows in both modes, a
re-import that changes nothing, duplicates and assignment applied as for a lead entered by
hand, and the `accord leads import` command with its progress bar."""

from __future__ import annotations

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
from accord.plugins.leads.api import Lead, LeadActivity
from accord.plugins.leads.importing import LEAD_IMPORTER, phone_key

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


def test_the_fast_phone_keys_are_those_of_the_leads_service() -> None:
    from accord.plugins.leads.normalise import phone_key as service_key

    rng = random.Random(7)
    numbers = [
        "+39 02 1234 5678",
        "+39 333 123 4567",
        "+44 20 7946 0958",
        "+44 020 7946 0958",
        "+49 30 123456",
        "+49 030 123456",
        "+1 212-555-0100",
        "+1 1 212 555 0100",
        "+33 1 23 45 67 89",
        "+7 8 495 123 45 67",
        "+46 8 123 456 78",
        "+358 9 1234567",
        "+99 123",
        "+39 0",
        "+",
        "0039 02 1234 5678",
        "02 1234 5678",
    ]
    for code in (1, 7, 33, 39, 44, 46, 49, 54, 55, 61, 81, 86, 91, 352, 358, 380, 971):
        for _ in range(40):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 13)))
            numbers.append(f"+{code} {digits[:3]} {digits[3:]}")
    for number in numbers:
        assert phone_key(number, "IT") == service_key(number, "IT"), number


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
