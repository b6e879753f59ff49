"""What people see: the customer page's credit, open invoices and aging panels, the
dashboard's receivables tiles, and administration confirming a blocked order from the web
with its reason while the back office cannot."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.api import Partner, PartnerKind, Principal, TeamKind, User
from accord.core.security import create_team, create_user
from accord.plugins.collections.models import CreditLine, CreditOverride, Invoice
from accord.plugins.collections.receivables import create_invoice
from accord.plugins.orders.api import (
    LineInput,
    Order,
    Product,
    check_availability,
    create_offer,
    create_order,
)
from accord.testing import post_form as post
from accord.testing import post_forms, run_jobs, signed_in_client, submit_form

PASSWORD = "correct horse battery"
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def accord_backend() -> str:
    return "sqlite"  # the pages; the services run on both databases in the other modules


@pytest.fixture
def accord_plugins():
    return ["orders", "collections"]


@pytest.fixture
def shop(accord_runtime, accord_db):
    """Garda Srl (Sam's) with a 5,000.00 EUR line, owing 3,800.00 (not due) and 700.00
    (40 days late); a draft order of 2,000.00 that the credit block stops."""
    with accord_db.session(Principal.system("test")) as session:
        users = {
            login: create_user(session, login, PASSWORD, roles=roles)
            for login, roles in {
                "sam": ("salesperson",),
                "sue": ("salesperson",),
                "bea": ("back_office",),
                "ada": ("administration", "back_office"),
            }.items()
        }
        garda = Partner(kind=PartnerKind.COMPANY, name="Garda Srl", owner_id=users["sam"].id)
        pump = Product(
            sku="PUMP-100",
            name="Pump 100",
            product_line="Pumps",
            list_price=Decimal("1000.00"),
            stock=Decimal("100"),
        )
        session.add_all([garda, pump])
        session.flush()
        session.add(
            CreditLine(
                partner_id=garda.id,
                credit_limit=Decimal("5000.00"),
                rating="B",
                rating_source="Creditreform",
                rated_on=TODAY,
            )
        )
        create_invoice(
            session,
            partner_id=garda.id,
            number="INV-1",
            amount="3800.00",
            currency="EUR",
            issue_date=TODAY - dt.timedelta(days=20),
            due_date=TODAY + dt.timedelta(days=10),
        )
        create_invoice(
            session,
            partner_id=garda.id,
            number="INV-2",
            amount="700.00",
            currency="EUR",
            issue_date=TODAY - dt.timedelta(days=70),
            due_date=TODAY - dt.timedelta(days=40),
        )
    with accord_db.session(accord_runtime.principal_for(users["sam"].id)) as session:
        order = create_order(
            accord_runtime,
            session,
            partner_id=garda.id,
            lines=[LineInput(quantity=Decimal(2), product_id=pump.id)],
        )
        check_availability(accord_runtime, session, order)
    return {"users": users, "garda": garda.id, "order": order.id}


def browser(runtime, login: str) -> TestClient:
    return signed_in_client(runtime, login, PASSWORD)


def test_the_customer_page_shows_credit_open_invoices_and_aging(accord_runtime, shop):
    page = browser(accord_runtime, "sam").get(f"/partners/{shop['garda']}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "5,000.00 EUR (own line)" in text
    assert "4,500.00 EUR" in text  # open invoices
    assert "500.00 EUR" in text  # available
    assert "B (Creditreform" in text
    assert "INV-2" in text
    assert "40 days late" in text
    assert "31-60 days" in text


def test_another_salesperson_does_not_see_the_customer_receivables(accord_runtime, shop):
    sue = browser(accord_runtime, "sue")
    assert "INV-1" not in sue.get("/views/invoices").text
    assert "INV-1" in browser(accord_runtime, "sam").get("/views/invoices").text


def test_the_dashboard_shows_aging_dso_and_overdue_by_salesperson(accord_runtime, shop):
    text = browser(accord_runtime, "ada").get("/").text
    assert "Receivables by days past due" in text
    assert "Days sales outstanding" in text
    assert "Overdue by salesperson" in text
    assert "700.00 EUR" in text


def test_the_dashboard_follows_the_team_filter(accord_runtime, shop):
    with accord_runtime.db.session(Principal.system("test")) as session:
        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        south = create_team(session, "South", TeamKind.DIRECT_SALES)
        session.get(Partner, shop["garda"]).team_id = north.id
    ada = browser(accord_runtime, "ada")
    assert "700.00 EUR overdue" in ada.get(f"/?team={north.id}").text
    other = ada.get(f"/?team={south.id}").text
    assert "Nothing is owed." in other
    assert "Nothing overdue." in other


def test_administration_confirms_a_blocked_order_with_its_reason(accord_runtime, shop):
    path = f"/collections/orders/{shop['order']}/override"
    refused = post(browser(accord_runtime, "bea"), path, credit_override="I know them")
    assert refused.status_code == 422
    assert "may not override the credit block" in refused.text
    assert post(browser(accord_runtime, "ada"), path, credit_override="").status_code == 422

    ada = browser(accord_runtime, "ada")
    done = post(ada, path, credit_override="paid INV-2 by wire today")
    assert done.status_code == 303, done.text
    run_jobs(accord_runtime)
    with accord_runtime.db.session(Principal.system("test")) as session:
        assert session.get(Order, shop["order"]).state == "confirmed"
        override = session.scalars(select(CreditOverride)).one()
        assert override.reason == "paid INV-2 by wire today"


def invoice_id(runtime, number: str) -> int:
    with runtime.db.session(Principal.system("test")) as session:
        return session.scalars(select(Invoice.id).where(Invoice.number == number)).one()


def test_administration_records_a_payment_from_the_customer_page(accord_runtime, shop):
    ada = browser(accord_runtime, "ada")
    assert "Record payment" in ada.get(f"/partners/{shop['garda']}").text
    assert (
        "Record payment"
        not in browser(accord_runtime, "sam").get(f"/partners/{shop['garda']}").text
    )
    path = f"/collections/invoices/{invoice_id(accord_runtime, 'INV-2')}/payments"
    htmx = {"HX-Request": "true", "X-CSRFToken": ada.cookies["csrftoken"]}
    today = TODAY.isoformat()

    over = ada.post(path, data={"amount": "700.01", "paid_on": today}, headers=htmx)
    assert over.status_code == 422
    assert "700.01 EUR is more than the 700.00 EUR left to pay" in over.text
    bad_day = ada.post(path, data={"amount": "100", "paid_on": "yesterday"}, headers=htmx)
    assert bad_day.status_code == 422
    assert "Paid on: &#39;yesterday&#39; is not a date" in bad_day.text

    paid = ada.post(path, data={"amount": "700.00", "paid_on": today}, headers=htmx)
    assert paid.status_code == 200, paid.text
    assert "INV-2" not in paid.text
    assert "INV-1" in paid.text
    with accord_runtime.db.session(Principal.system("test")) as session:
        assert session.get(Invoice, invoice_id(accord_runtime, "INV-2")).status == "paid"


def test_a_salesperson_cannot_record_payments(accord_runtime, shop):
    sam = browser(accord_runtime, "sam")
    path = f"/collections/invoices/{invoice_id(accord_runtime, 'INV-2')}/payments"
    answer = post(sam, path, amount="700.00", paid_on=TODAY.isoformat())
    assert answer.status_code == 422
    assert "may not" in answer.text
    with accord_runtime.db.session(Principal.system("test")) as session:
        assert session.get(Invoice, invoice_id(accord_runtime, "INV-2")).paid == Decimal("0.00")


def test_administration_sets_the_credit_line_and_rating(accord_runtime, shop):
    path = f"/collections/partners/{shop['garda']}/credit"
    refused = post(browser(accord_runtime, "sam"), path, credit_limit="99999", rating="A")
    assert refused.status_code == 422
    assert "may not set credit lines" in refused.text
    ada = browser(accord_runtime, "ada")
    wrong = post(ada, path, credit_limit="lots", rating="A")
    assert wrong.status_code == 422
    assert "Credit line: &#39;lots&#39; is not an amount" in wrong.text
    assert post(ada, path, credit_limit="8,000.00", rating="A").status_code == 303
    page = ada.get(f"/partners/{shop['garda']}").text
    assert "8,000.00 EUR (own line)" in page
    assert "A (manual" in page


# --- the order and offer pages --------------------------------------------------------------


def test_the_order_page_shows_the_customer_credit_and_the_block(accord_runtime, shop):
    page = browser(accord_runtime, "bea").get(f"/orders/orders/{shop['order']}")
    assert page.status_code == 200, page.text
    assert 'data-panel="collections.order_credit"' in page.text
    panel = page.text[page.text.index('data-panel="collections.order_credit"') :]
    assert "<dt>Credit line</dt><dd>5,000.00 EUR</dd>" in panel
    assert "<dt>Open invoices</dt><dd>4,500.00 EUR</dd>" in panel
    assert "<dt>This order</dt><dd>2,000.00 EUR</dd>" in panel
    assert "<dt>Left on the line after it</dt><dd>-1,500.00 EUR</dd>" in panel
    assert "<dt>Overdue over 30 days</dt><dd>700.00 EUR (1 invoice)</dd>" in panel
    assert 'data-panel="collections.order_credit_block"' in page.text
    assert "Credit block:" in page.text


def test_only_holders_of_the_override_right_see_the_override_on_the_order_page(
    accord_runtime, shop
):
    order_path = f"/orders/orders/{shop['order']}"
    back_office = browser(accord_runtime, "bea").get(order_path).text
    assert "Credit block:" in back_office
    assert "Confirm despite the credit block" not in back_office
    assert "/override" not in back_office

    ada = browser(accord_runtime, "ada")
    page = ada.get(order_path).text
    assert "Confirm despite the credit block" in page
    assert f'action="/collections/orders/{shop["order"]}/override"' in page
    htmx = {"HX-Request": "true", "X-CSRFToken": ada.cookies["csrftoken"]}
    done = ada.post(
        f"/collections/orders/{shop['order']}/override",
        data={"credit_override": "paid INV-2 by wire today"},
        headers=htmx,
    )
    assert done.status_code == 204, done.text
    run_jobs(accord_runtime)
    with accord_runtime.db.session(Principal.system("test")) as session:
        order = session.get(Order, shop["order"])
        assert order.confirmed_by_id == shop["users"]["ada"].id  # as any confirmation
        assert order.confirmed_at is not None
    confirmed = ada.get(order_path).text
    assert 'id="order-state">confirmed<' in confirmed
    assert "Credit block:" not in confirmed  # a confirmed order has nothing to unblock
    # Confirmed and not invoiced, the order now counts in the position as ordered on credit.
    assert "<dt>Ordered, not invoiced</dt><dd>2,000.00 EUR</dd>" in confirmed
    assert "<dt>This order</dt>" not in confirmed


def test_customer_service_sees_the_order_but_no_credit_figures(accord_runtime, shop):
    with accord_runtime.db.session(Principal.system("test")) as session:
        create_user(session, "cole", PASSWORD, roles=("support",))
    page = browser(accord_runtime, "cole").get(f"/orders/orders/{shop['order']}")
    assert page.status_code == 200, page.text
    assert "PUMP-100" in page.text
    assert "Customer credit" not in page.text  # support holds no collections.read
    assert "Confirm despite the credit block" not in page.text


def test_the_offer_page_says_an_order_of_it_would_be_held(accord_runtime, shop):
    with accord_runtime.db.session(Principal.system("test")) as session:
        sam = session.scalars(select(User).where(User.login == "sam")).one()
        pump = session.scalars(select(Product.id)).one()
    with accord_runtime.db.session(accord_runtime.principal_for(sam.id)) as session:
        offer = create_offer(
            accord_runtime,
            session,
            partner_id=shop["garda"],
            lines=[LineInput(quantity=Decimal(1), product_id=pump)],
        )
    page = browser(accord_runtime, "sam").get(f"/orders/offers/{offer.id}").text
    assert 'data-panel="collections.offer_credit"' in page
    assert "<dt>This offer</dt><dd>1,000.00 EUR</dd>" in page
    assert "Its order would be held today:" in page
    assert "Garda Srl would exceed its credit line of 5,000.00 EUR" in page


def test_every_form_of_the_pages_posts_without_javascript(accord_runtime, shop):
    """Each POST form on the customer, order and invoice pages carries the CSRF token in a
    field, so it works without htmx's header: administration overrides the block by the
    plain form of the order page."""
    ada = browser(accord_runtime, "ada")
    token = ada.cookies["csrftoken"]
    pages = [
        f"/partners/{shop['garda']}",
        f"/orders/orders/{shop['order']}",
        f"/views/invoices/{invoice_id(accord_runtime, 'INV-2')}",
    ]
    for path in pages:
        page = ada.get(path)
        assert page.status_code == 200, page.text
        forms = post_forms(page.text)
        assert forms, path
        for action, fields in forms.items():
            assert fields.get("csrftoken") == token, (path, action)

    override = f"/collections/orders/{shop['order']}/override"
    page = ada.get(f"/orders/orders/{shop['order']}").text
    done = submit_form(ada, page, override, credit_override="paid INV-2 by wire today")
    assert done.status_code == 303, done.text
    run_jobs(accord_runtime)
    with accord_runtime.db.session(Principal.system("test")) as session:
        assert session.get(Order, shop["order"]).state == "confirmed"
