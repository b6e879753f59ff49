"""Administration records an invoice by hand and a payment on the invoice's own page; a
wrong entry is named next to its field and nothing is saved; an invoice with payments
keeps its amount, one from the ERP is corrected in the ERP; sellers do neither."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.api import Partner, PartnerKind, Principal
from accord.core.security import create_user
from accord.plugins.collections.models import Invoice, InvoiceOrigin, InvoiceStatus
from accord.plugins.collections.receivables import create_invoice
from accord.testing import post_form as post
from accord.testing import signed_in_client

PASSWORD = "correct horse battery"
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def books(accord_runtime, accord_db) -> dict[str, int]:
    """Garda Srl (Sam's), owing INV-1 (1,000.00 EUR, 300.00 paid) and the ERP's ERP-7."""
    with accord_db.session(Principal.system("test")) as session:
        sam = create_user(session, "sam", PASSWORD, roles=("salesperson",))
        create_user(session, "ada", PASSWORD, roles=("administration",))
        garda = Partner(kind=PartnerKind.COMPANY, name="Garda Srl", owner_id=sam.id)
        session.add(garda)
        session.flush()
        paid = create_invoice(
            session,
            partner_id=garda.id,
            number="INV-1",
            amount="1000.00",
            currency="EUR",
            issue_date=TODAY - dt.timedelta(days=10),
            due_date=TODAY + dt.timedelta(days=20),
        )
        paid.paid = Decimal("300.00")
        erp = create_invoice(
            session,
            partner_id=garda.id,
            number="ERP-7",
            amount="500.00",
            currency="EUR",
            issue_date=TODAY,
            due_date=TODAY,
            origin=InvoiceOrigin.IMPORT,
        )
        session.flush()
        return {"garda": garda.id, "paid": paid.id, "erp": erp.id}


def browser(runtime, login: str) -> TestClient:
    return signed_in_client(runtime, login, PASSWORD)


def invoices(runtime) -> list[tuple[str, Decimal, str]]:
    with runtime.db.session(Principal.system("test")) as session:
        rows = session.scalars(select(Invoice).order_by(Invoice.number)).all()
        return [(row.number, row.amount, row.currency) for row in rows]


def test_administration_records_an_invoice_by_hand(accord_runtime, books) -> None:
    ada = browser(accord_runtime, "ada")
    form = ada.get("/views/invoices/new")
    assert form.status_code == 200
    assert 'value="EUR"' in form.text
    assert f'value="{(TODAY + dt.timedelta(days=30)).isoformat()}"' in form.text
    answer = post(
        ada,
        "/views/invoices/new",
        partner_id=str(books["garda"]),
        number="INV-2",
        amount="1250.50",
        currency="EUR",
        issue_date=TODAY.isoformat(),
        due_date=(TODAY + dt.timedelta(days=30)).isoformat(),
    )
    assert answer.status_code == 303, answer.text
    with accord_runtime.db.session(Principal.system("test")) as session:
        made = session.scalars(select(Invoice).where(Invoice.number == "INV-2")).one()
        assert (made.amount, made.origin, made.status) == (
            Decimal("1250.50"),
            InvoiceOrigin.MANUAL,
            InvoiceStatus.OPEN,
        )
    assert "1,250.50 EUR" in ada.get(f"/partners/{books['garda']}").text


def test_a_wrong_invoice_is_named_field_by_field_and_nothing_is_saved(
    accord_runtime, books
) -> None:
    before = invoices(accord_runtime)
    answer = post(
        browser(accord_runtime, "ada"),
        "/views/invoices/new",
        partner_id=str(books["garda"]),
        number="INV-1",
        amount="0",
        currency="eur",
        issue_date=TODAY.isoformat(),
        due_date=(TODAY - dt.timedelta(days=1)).isoformat(),
    )
    assert answer.status_code == 422
    text = answer.text
    assert "Invoice INV-1 exists already." in text
    assert "The amount must be more than zero." in text
    assert "Three capital letters such as EUR, got &#39;eur&#39;." in text
    assert f"It is before the issue date ({TODAY.isoformat()})." in text
    assert invoices(accord_runtime) == before


def test_sellers_record_no_invoices(accord_runtime, books) -> None:
    sam = browser(accord_runtime, "sam")
    assert sam.get("/views/invoices/new").status_code == 403
    assert 'href="/views/invoices/new"' not in sam.get("/views/invoices").text


def test_an_invoice_with_payments_keeps_its_amount_and_an_erp_one_is_not_changed_here(
    accord_runtime, books
) -> None:
    ada = browser(accord_runtime, "ada")
    fields = {
        "partner_id": str(books["garda"]),
        "number": "INV-1",
        "amount": "200.00",
        "currency": "EUR",
        "issue_date": (TODAY - dt.timedelta(days=10)).isoformat(),
        "due_date": (TODAY + dt.timedelta(days=40)).isoformat(),
    }
    refused = post(ada, f"/views/invoices/{books['paid']}/edit", **fields)
    assert refused.status_code == 422
    assert "Payments are recorded against this invoice (300.00 EUR)" in refused.text
    later = post(ada, f"/views/invoices/{books['paid']}/edit", **{**fields, "amount": "1000.00"})
    assert later.status_code == 303, later.text  # a later due date is a fair correction
    erp = post(
        ada, f"/views/invoices/{books['erp']}/edit", **{**fields, "number": "ERP-7", "amount": "9"}
    )
    assert erp.status_code == 422
    assert "This invoice comes from the ERP; correct it there, not here." in erp.text
    assert invoices(accord_runtime) == [
        ("ERP-7", Decimal("500.00"), "EUR"),
        ("INV-1", Decimal("1000.00"), "EUR"),
    ]


def test_a_payment_is_recorded_on_the_invoice_page(accord_runtime, books) -> None:
    path = f"/views/invoices/{books['paid']}"
    assert "Record payment" not in browser(accord_runtime, "sam").get(path).text
    ada = browser(accord_runtime, "ada")
    page = ada.get(path).text
    assert "Left to pay:</strong> 700.00 EUR" in page
    assert "Record payment" in page
    htmx = {"HX-Request": "true", "X-CSRFToken": ada.cookies["csrftoken"]}
    payments = f"/collections/invoices/{books['paid']}/payments"
    data = {"panel": "invoice", "paid_on": TODAY.isoformat(), "reference": "wire 4471"}
    over = ada.post(payments, data={**data, "amount": "700.01"}, headers=htmx)
    assert over.status_code == 422
    assert "is more than the 700.00 EUR left to pay" in over.text
    assert 'class="collections-payments"' in over.text
    paid = ada.post(payments, data={**data, "amount": "700.00"}, headers=htmx)
    assert paid.status_code == 200, paid.text
    assert "Left to pay:</strong> 0.00 EUR" in paid.text
    assert f"{TODAY.isoformat()} · 700.00 EUR · wire 4471" in paid.text
    assert "Record payment" not in paid.text  # paid in full
    plain = post(ada, payments, panel="invoice", amount="1", paid_on=TODAY.isoformat())
    assert plain.status_code == 422  # nothing left to pay
