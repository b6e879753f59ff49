"""Invoices from the ERP's export and a rating provider's file, through the kernel's import
framework: customers found by ERP or VAT number, a bad row named with nothing imported."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from accord.api import Partner, PartnerKind
from accord.plugins.collections.models import CreditLine, Invoice, InvoiceOrigin


@pytest.fixture
def accord_backend() -> str:
    return "sqlite"  # the framework runs on both in its own tests; this is the mapping


@pytest.fixture
def customers(accord_session):
    garda = Partner(kind=PartnerKind.COMPANY, name="Garda Srl", vat_number="IT01234567890")
    elbe = Partner(kind=PartnerKind.COMPANY, name="Elbe GmbH", vat_number="DE123456789")
    accord_session.add_all([garda, elbe])
    accord_session.flush()
    external = Partner.external_ids.property.mapper.class_
    accord_session.add(external(partner_id=elbe.id, system="erp", value="C-100"))
    accord_session.commit()
    return {"garda": garda.id, "elbe": elbe.id}


def write(tmp_path, text: str):
    path = tmp_path / "file.csv"
    path.write_text(text)
    return str(path)


def test_invoices_from_the_erp(accord_cli, accord_session, customers, tmp_path):
    path = write(
        tmp_path,
        "Invoice,Customer number,Amount,Currency,Invoice date,Due,Paid so far,Paid on\n"
        'E-1,IT01234567890,"1200,50",EUR,2026-05-01,2026-05-31,,\n'
        "E-2,C-100,800,EUR,01/06/2026,01/07/2026,300,15/06/2026\n",
    )
    result = accord_cli("import", "collections.invoices", path)
    assert result.exit_code == 0, result.output
    invoices = {i.number: i for i in accord_session.scalars(select(Invoice))}
    assert invoices["E-1"].amount == Decimal("1200.50")
    assert invoices["E-1"].partner_id == customers["garda"]
    assert invoices["E-2"].partner_id == customers["elbe"]
    assert invoices["E-2"].paid == Decimal("300.00")
    assert {i.origin for i in invoices.values()} == {InvoiceOrigin.IMPORT}


def test_a_bad_row_is_named_and_nothing_is_imported(
    accord_cli, accord_session, customers, tmp_path
):
    path = write(
        tmp_path,
        "number,customer,amount,issue_date,due_date\n"
        "E-1,IT01234567890,100,2026-05-01,2026-05-31\n"
        "E-2,NOBODY,100,2026-05-01,2026-05-31\n"
        "E-3,IT01234567890,100,2026-05-01,2026-04-01\n",
    )
    result = accord_cli("import", "collections.invoices", path)
    assert result.exit_code != 0
    assert "no customer with ERP or VAT number 'NOBODY'" in result.output
    assert "due date: 2026-04-01 is before its issue date" in result.output
    assert accord_session.scalars(select(Invoice)).all() == []


def test_ratings_from_a_provider(accord_cli, accord_session, customers, tmp_path):
    accord_session.add(CreditLine(partner_id=customers["garda"], credit_limit=Decimal("9000")))
    accord_session.commit()
    path = write(
        tmp_path,
        "VAT,Grade,Limit,Date,Agency\n"
        "IT01234567890,B,,2026-06-01,Creditreform\n"
        "C-100,A,25000,2026-06-01,Creditreform\n",
    )
    result = accord_cli("import", "collections.ratings", path)
    assert result.exit_code == 0, result.output
    accord_session.expire_all()
    garda = accord_session.get(CreditLine, customers["garda"])
    elbe = accord_session.get(CreditLine, customers["elbe"])
    assert (garda.rating, garda.credit_limit, garda.rating_source) == (
        "B",
        Decimal("9000.00"),
        "Creditreform",
    )
    assert (elbe.rating, elbe.credit_limit) == ("A", Decimal("25000.00"))
