"""Numbers are typed and shown as the company writes them (``[company] locale``): a
grouping separator is accepted where the locale puts one and never silently taken for a
decimal separator, an ambiguous number is refused next to its field with an example in
the locale's own format, and what a page shows can be typed back unchanged. Seen through
the invoice form of collections, whose amount is a Numeric(14, 2) column."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import select

from accord.api import Partner, PartnerKind, Principal
from accord.core.errors import SettingsError
from accord.core.runtime import Runtime
from accord.core.security import create_user
from accord.plugins.collections.models import Invoice
from accord.testing import post_form, signed_in_client, submit_form
from accord.ui import create_app

PASSWORD = "correct horse battery"
TODAY = dt.datetime.now(dt.UTC).date()
ITALIAN = {"company": {"locale": "it_IT"}}


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy", "collections"]


@pytest.fixture
def garda(accord_db) -> int:
    with accord_db.session(Principal.system("test")) as session:
        create_user(session, "ada", PASSWORD, roles=("administration",))
        garda = Partner(kind=PartnerKind.COMPANY, name="Garda Srl")
        session.add(garda)
        session.flush()
        return garda.id


def new_invoice(runtime: Runtime, garda: int, amount: str, number: str = "INV-9"):
    ada = signed_in_client(runtime, "ada", PASSWORD)
    answer = post_form(
        ada,
        "/views/invoices/new",
        partner_id=str(garda),
        number=number,
        amount=amount,
        currency="EUR",
        issue_date=TODAY.isoformat(),
        due_date=(TODAY + dt.timedelta(days=30)).isoformat(),
    )
    return ada, answer


def invoice_ids(runtime: Runtime) -> list[int]:
    with runtime.db.session(Principal.system("test")) as session:
        return list(session.scalars(select(Invoice.id)))


def amounts(runtime: Runtime) -> dict[str, Decimal]:
    with runtime.db.session(Principal.system("test")) as session:
        return {row.number: row.amount for row in session.scalars(select(Invoice))}


def amount_message(page: str) -> str:
    """The message next to the amount field of the invoice form."""
    found = re.search(r'id="field-amount-error"[^>]*>(.*?)</', page, re.DOTALL)
    assert found, "the amount field has no message"
    return unescape(found.group(1)).strip()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12,500", Decimal("12500")),
        ("12,500.00", Decimal("12500.00")),
        ("1234.5", Decimal("1234.5")),
        ("1,234,567.5", Decimal("1234567.5")),
    ],
)
def test_an_english_company_types_grouped_thousands(accord_runtime, garda, typed, stored):
    _, answer = new_invoice(accord_runtime, garda, typed)

    assert answer.status_code == 303, amount_message(answer.text)
    assert amounts(accord_runtime) == {"INV-9": stored}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12,5", "Enter a number such as 1,234.50; did you mean 125 or 12.5?"),
        ("1234,50", "Enter a number such as 1,234.50; did you mean 123,450 or 1,234.5?"),
        ("12 500", "Enter a number such as 1,234.50."),
        ("a lot", "Enter a number such as 1,234.50."),
        ("12,500.005", "At most 2 digits after the decimal point."),
    ],
)
def test_an_ambiguous_number_is_refused_not_guessed(accord_runtime, garda, typed, message):
    _, answer = new_invoice(accord_runtime, garda, typed)

    assert answer.status_code == 422
    assert amount_message(answer.text) == message
    assert f'value="{typed}"' in answer.text  # what was typed stays, to be corrected
    assert amounts(accord_runtime) == {}


@pytest.mark.parametrize("accord_extra_settings", [ITALIAN])
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12.500,00", Decimal("12500.00")),
        ("12500,5", Decimal("12500.5")),
        ("1.234", Decimal("1234")),
        ("0,75", Decimal("0.75")),
    ],
)
def test_an_italian_company_types_numbers_its_own_way(accord_runtime, garda, typed, stored):
    _, answer = new_invoice(accord_runtime, garda, typed)

    assert answer.status_code == 303, amount_message(answer.text)
    assert amounts(accord_runtime) == {"INV-9": stored}


@pytest.mark.parametrize("accord_extra_settings", [ITALIAN])
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        # A point groups thousands in Italian: 1234.5 is no way of writing a number there.
        ("1234.5", "Enter a number such as 1.234,50; did you mean 12.345 or 1.234,5?"),
        # Both separators, the wrong way round: no guess is offered, only the example.
        ("12,500.00", "Enter a number such as 1.234,50."),
        ("1.5", "Enter a number such as 1.234,50; did you mean 15 or 1,5?"),
    ],
)
def test_an_italian_company_is_told_how_to_write_a_number(accord_runtime, garda, typed, message):
    _, answer = new_invoice(accord_runtime, garda, typed)

    assert answer.status_code == 422
    assert amount_message(answer.text) == message
    assert amounts(accord_runtime) == {}


@pytest.mark.parametrize(
    ("accord_extra_settings", "typed", "shown"),
    [({}, "12500", "12,500.00"), (ITALIAN, "12500", "12.500,00")],
)
def test_what_a_page_shows_is_typed_back_unchanged(accord_runtime, garda, typed, shown):
    ada, answer = new_invoice(accord_runtime, garda, typed)
    assert answer.status_code == 303, amount_message(answer.text)
    [invoice_id] = invoice_ids(accord_runtime)

    record = ada.get(f"/views/invoices/{invoice_id}").text
    listed = ada.get("/views/invoices").text
    form = ada.get(f"/views/invoices/{invoice_id}/edit").text
    assert f"<dd>{shown}</dd>" in record
    assert f"<td>{shown}</td>" in listed
    assert f'value="{shown}"' in form

    saved = submit_form(ada, form, f"/views/invoices/{invoice_id}/edit")
    assert saved.status_code == 303, amount_message(saved.text)
    assert amounts(accord_runtime) == {"INV-9": Decimal("12500.00")}


@pytest.mark.parametrize(
    ("accord_extra_settings", "shown"),
    [({}, "12,500.00"), (ITALIAN, "12.500,00")],
)
def test_the_csv_export_keeps_plain_digits(accord_runtime, garda, shown):
    """A spreadsheet or a BI tool reads the export; the page shows it the company's way."""
    ada, answer = new_invoice(accord_runtime, garda, "12500")
    assert answer.status_code == 303

    exported = ada.get("/views/invoices.csv?col=number&col=amount").text

    assert f"<td>{shown}</td>" in ada.get("/views/invoices?col=number&col=amount").text
    assert exported.splitlines()[1:] == ["INV-9,12500.00"]


@pytest.mark.parametrize(
    "accord_extra_settings", [{"company": {"locale": "xx_YY"}}, {"company": {"locale": "12"}}]
)
def test_an_unknown_locale_stops_the_start_up_naming_the_setting(
    accord_runtime, accord_config, accord_extra_settings
):
    bad = accord_extra_settings["company"]["locale"]
    with pytest.raises(SettingsError) as refused:
        create_app(accord_runtime)

    assert str(refused.value) == (
        f"{accord_config}, [company] locale: not a locale Babel knows; write a language and, "
        'optionally, a country code, such as "en", "en_GB", "it_IT" or "de_CH", '
        f"got {bad!r}"
    )
