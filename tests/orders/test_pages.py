"""The orders pages as people use them: a salesperson makes an offer with a big discount
and sees what it waits for; the sales manager grants it from the page; the order is
confirmed by the back office, shipped with a tracking number and found by that number in
the search box; a refused step says why and changes nothing; lists and the shipping
queue show only what each hat may see."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.plugins.orders.api import Offer, Order
from accord.testing import post_form as post
from accord.testing import signed_in_client

from .conftest import Company

PASSWORD = "correct horse battery"


def browser(company: Company, login: str) -> TestClient:
    return signed_in_client(company.runtime, login, PASSWORD)


@pytest.fixture
def accord_backend() -> str:
    return "sqlite"  # what these check is the pages; the services run on both elsewhere


def test_an_offer_with_a_big_discount_waits_for_sales_management_then_ships(
    company: Company,
) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/offer",
        partner_id=str(company.customer_id),
        product_1=str(company.products["PUMP-100"]),
        quantity_1="2",
        discount_1="30",
    )
    assert response.status_code == 303, response.text
    offer_path = response.headers["location"]
    assert post(sam, f"{offer_path}/submit").status_code == 303
    page = sam.get(offer_path).text
    assert "Submitted for approval." in page
    assert "waiting for approval: discount by sales management" in page

    mia = browser(company, "mia")
    with company.system() as session:
        offer = session.get(Offer, int(offer_path.rsplit("/", 1)[1]))
        assert offer is not None
        discount = next(a for a in offer.approvals if a.kind == "discount")
        availability = next(a for a in offer.approvals if a.kind == "availability")
    post(mia, f"/orders/approvals/{discount.id}", decision="grant", note="strategic customer")
    bea = browser(company, "bea")
    post(bea, f"/orders/approvals/{availability.id}", decision="grant")
    assert 'id="offer-state">approved<' in sam.get(offer_path).text

    post(sam, f"{offer_path}/send")
    post(sam, f"{offer_path}/accept")
    response = post(sam, f"{offer_path}/order")
    order_path = response.headers["location"]
    assert order_path.startswith("/orders/orders/")

    assert post(bea, f"{order_path}/confirm").status_code == 303
    assert "in the shipping queue" in bea.get(order_path).text
    with company.system() as session:
        order = session.get(Order, int(order_path.rsplit("/", 1)[1]))
        assert order is not None
        line_id, number = order.lines[0].id, order.number
    assert number in bea.get("/orders/queue").text
    post(
        bea,
        f"{order_path}/ship",
        tracking_number="1Z555TRACK",
        carrier="UPS",
        **{f"ship_{line_id}": "2"},
    )
    assert 'id="order-state">shipped<' in bea.get(order_path).text
    assert number not in bea.get("/orders/queue").text

    found = bea.get("/search", params={"q": "1Z555TRACK"}).text
    assert f"Order {number}" in found
    assert "tracking 1Z555TRACK" in found


def test_a_refused_step_says_why_and_changes_nothing(company: Company) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/order",
        partner_id=str(company.customer_id),
        product_1=str(company.products["PUMP-100"]),
        quantity_1="50",
    )
    order_path = response.headers["location"]
    bea = browser(company, "bea")
    post(bea, f"{order_path}/confirm")
    page = bea.get(order_path).text
    assert "not available: Pump 100 (only 10 pcs free in stock)" in page
    assert 'id="order-state">draft<' in page


def test_a_bad_line_is_refused_with_its_reason_and_saves_nothing(company: Company) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/offer",
        partner_id=str(company.customer_id),
        description_1="Special skid",
        quantity_1="1",
    )
    assert response.status_code == 422
    assert "a line without a product needs a unit price" in response.text
    with company.system() as session:
        assert session.scalars(select(Offer)).all() == []


def test_an_offer_of_another_salesperson_is_not_found(company: Company) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/offer",
        partner_id=str(company.customer_id),
        product_1=str(company.products["PUMP-100"]),
        quantity_1="1",
    )
    sue = browser(company, "sue")
    assert sue.get(response.headers["location"]).status_code == 404


def test_the_printable_offer_has_a_print_stylesheet(company: Company) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/offer",
        partner_id=str(company.customer_id),
        product_1=str(company.products["PUMP-100"]),
        quantity_1="3",
        discount_1="5",
    )
    printable = sam.get(response.headers["location"] + "/print")
    assert printable.status_code == 200
    assert "/static/orders/print.css" in printable.text
    assert "2850.00 EUR" in printable.text
    assert "@media print" in sam.get("/static/orders/print.css").text


def test_the_customer_page_shows_its_orders_and_margins(company: Company) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/order",
        partner_id=str(company.customer_id),
        product_1=str(company.products["PUMP-100"]),
        quantity_1="2",
    )
    order_path = response.headers["location"]
    bea = browser(company, "bea")
    post(bea, f"{order_path}/confirm")
    page = sam.get(f"/partners/{company.customer_id}").text
    assert "Orders and margins" in page
    assert f"href='{order_path}'" in page
    assert "2,000.00 EUR" in page  # the order
    assert "800.00" in page  # its margin: 2 x (1000 - 600)


def test_the_dashboard_shows_sales_by_product_line_and_follows_its_filter(
    company: Company,
) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/order",
        partner_id=str(company.customer_id),
        product_1=str(company.products["PUMP-100"]),
        quantity_1="2",
        product_2=str(company.products["CTRL-7"]),
        quantity_2="1",
    )
    bea = browser(company, "bea")
    post(bea, response.headers["location"] + "/confirm")
    mia = browser(company, "mia")
    page = mia.get("/", params={"period": "year"}).text
    tile = page.split('id="widget-orders-sales_by_product_line"')[1].split("</article>")[0]
    assert "Pumps" in tile
    assert "Controls" in tile
    assert "2,000" in tile  # sales of pumps
    assert "800" in tile  # their margin
    only_pumps = mia.get("/", params={"period": "year", "product_line": "Pumps"}).text
    tile = only_pumps.split('id="widget-orders-sales_by_product_line"')[1].split("</article>")[0]
    assert "Controls" not in tile
    assert '<option value="Software"' in only_pumps  # the filter offers every product line
    margins = page.split('id="widget-orders-margins"')[1].split("</article>")[0]
    assert "<strong>950</strong> margin on 2,250 sales: 42.2 %" in margins  # 800 + 150


def test_a_salesperson_sees_no_sales_tiles(company: Company) -> None:
    page = browser(company, "sam").get("/").text
    assert "widget-orders-sales_by_product_line" not in page


def test_customer_service_finds_an_order_by_serial_from_the_customer_page(
    company: Company,
) -> None:
    sam = browser(company, "sam")
    response = post(
        sam,
        "/orders/new/order",
        partner_id=str(company.customer_id),
        product_1=str(company.products["CTRL-7"]),
        quantity_1="2",
    )
    order_path = response.headers["location"]
    bea = browser(company, "bea")
    post(bea, f"{order_path}/confirm")
    with company.system() as session:
        order = session.get(Order, int(order_path.rsplit("/", 1)[1]))
        assert order is not None
        line_id, number = order.lines[0].id, order.number
    post(
        bea,
        f"{order_path}/ship",
        tracking_number="GLS-77",
        **{f"ship_{line_id}": "2", f"units_{line_id}": "C7-A1\nC7-A2"},
    )
    assert "action='/orders/lookup'" in bea.get(f"/partners/{company.customer_id}").text
    found = bea.get("/orders/lookup", params={"partner_id": company.customer_id, "q": "C7-A2"})
    assert f"Order {number}" in found.text
    assert "serial C7-A2" in found.text
    in_search = bea.get("/search", params={"q": "C7-A1"}).text
    assert f"Order {number}" in in_search
    nothing = bea.get("/orders/lookup", params={"partner_id": company.customer_id, "q": "ZZ-9"})
    assert "No order matches ZZ-9." in nothing.text
