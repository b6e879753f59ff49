"""Invoices from the ERP's export and a rating provider's file, through the kernel's import
framework: customers found by ERP or VAT number, a bad row named with nothing imported."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

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


@pytest.mark.parametrize("accord_extra_settings", [{"company": {"locale": "it_IT"}}])
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


def test_an_amount_is_read_as_the_company_writes_it_and_never_guessed(
    accord_cli, accord_session, customers, tmp_path
):
    """An English company reads 1,200.50 and 12,500; an Italian ERP's 1200,50 is refused
    (1,200.5 or 120,050?) naming the row and the column, and nothing is imported."""
    path = write(
        tmp_path,
        "number,customer,amount,issue_date\n"
        'E-1,IT01234567890,"1,200.50",2026-05-01\n'
        'E-2,IT01234567890,"12,500",2026-05-01\n'
        'E-3,IT01234567890,"1200,50",2026-05-01\n',
    )
    refused = accord_cli("import", "collections.invoices", path)
    assert refused.exit_code != 0
    assert (
        "row 4, column 'amount': '1200,50' is not a number as this company writes it, such "
        "as 1,234.50; did you mean 120,050 or 1,200.5?"
    ) in " ".join(refused.output.split())
    assert accord_session.scalars(select(Invoice)).all() == []

    Path(path).write_text(Path(path).read_text().replace('"1200,50"', "99.5"))
    result = accord_cli("import", "collections.invoices", path)
    assert result.exit_code == 0, result.output
    amounts = {i.number: i.amount for i in accord_session.scalars(select(Invoice))}
    assert amounts == {"E-1": Decimal("1200.50"), "E-2": Decimal("12500"), "E-3": Decimal("99.5")}


@pytest.mark.parametrize("accord_extra_settings", [{"company": {"locale": "it_IT"}}])
def test_a_number_of_a_json_file_is_no_text_to_read_in_the_locale(
    accord_cli, accord_session, customers, tmp_path
):
    """A JSON number has no separators anyone typed: 1200.50 is read as it is in Italy too,
    while a text amount is read the Italian way."""
    path = write_json(
        tmp_path,
        """[{"number": "E-1", "customer": "IT01234567890", "amount": 1200.50,
             "issue_date": "2026-05-01"},
            {"number": "E-2", "customer": "IT01234567890", "amount": "1.200,50",
             "issue_date": "2026-05-01"}]""",
    )
    result = accord_cli("import", "collections.invoices", path)
    assert result.exit_code == 0, result.output
    amounts = {i.number: i.amount for i in accord_session.scalars(select(Invoice))}
    assert amounts == {"E-1": Decimal("1200.50"), "E-2": Decimal("1200.50")}


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


def write_json(tmp_path, text: str) -> str:
    path = tmp_path / "invoices.json"
    path.write_text(text)
    return str(path)


def test_invoices_from_the_erp_as_json(accord_cli, accord_session, customers, tmp_path):
    path = write_json(
        tmp_path,
        """{"invoices": [
          {"number": "E-1", "customer": "IT01234567890", "amount": 1200.50,
           "currency": "EUR", "issue_date": "2026-05-01", "due_date": "2026-05-31",
           "paid": null},
          {"number": "E-2", "customer": "C-100", "amount": "800", "issue_date": "2026-06-01",
           "due_date": "2026-07-01", "paid": 300, "paid_on": "2026-06-15"}
        ]}""",
    )
    result = accord_cli("import", "collections.invoices", path)
    assert result.exit_code == 0, result.output
    assert "JSON, 2 records" in result.output
    invoices = {i.number: i for i in accord_session.scalars(select(Invoice))}
    assert invoices["E-1"].amount == Decimal("1200.50")
    assert invoices["E-1"].partner_id == customers["garda"]
    assert invoices["E-2"].paid == Decimal("300.00")
    assert {i.origin for i in invoices.values()} == {InvoiceOrigin.IMPORT}


def test_a_bad_json_record_is_named_by_index_and_field_and_nothing_is_imported(
    accord_cli, accord_session, customers, tmp_path
):
    path = write_json(
        tmp_path,
        """[
          {"number": "E-1", "customer": "IT01234567890", "amount": 100,
           "issue_date": "2026-05-01"},
          {"number": "E-2", "customer": "IT01234567890", "amount": "a lot",
           "issue_date": "2026-05-01"},
          {"number": "E-3", "customer": "NOBODY", "amount": 100, "issue_date": "2026-05-01"}
        ]""",
    )
    result = accord_cli("import", "collections.invoices", path)
    assert result.exit_code != 0
    assert "record [1], field 'amount': 'a lot' is not a number" in result.output
    assert "record [2], field 'customer': no customer with ERP or VAT number 'NOBODY'" in (
        result.output
    )
    assert accord_session.scalars(select(Invoice)).all() == []

    skipped = accord_cli("import", "collections.invoices", path, "--skip-bad-rows")
    assert skipped.exit_code == 0, skipped.output
    assert [i.number for i in accord_session.scalars(select(Invoice))] == ["E-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[{"number": "E-1", "amount": 100,}]',
            "not valid JSON at line 1, column 34: Expecting property name",
        ),
        ('[{"number": "E-1"}, ["E-2"]]', "record [1]: a record is an object"),
        (
            '[{"number": "E-1", "customer": {"vat": "IT01234567890"}}]',
            "record [0], field 'customer': an object; a field holds one value",
        ),
        ('{"count": 2}', "an object holding 0 arrays"),
        ("[]", "the array holds no records"),
    ],
)
def test_a_file_that_is_no_array_of_records_is_named_and_nothing_is_imported(
    accord_cli, accord_session, customers, tmp_path, text, message
):
    result = accord_cli("import", "collections.invoices", write_json(tmp_path, text))
    assert result.exit_code != 0
    assert message in result.output
    assert accord_session.scalars(select(Invoice)).all() == []
