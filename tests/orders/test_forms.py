"""Changing a draft offer's or order's lines from its page: quantities, prices and discounts
change, lines come and go and the totals follow; a wrong entry is named next to its field
with 422 and nothing changes; only a draft changes, only for who may write it, and a
change made meanwhile by someone else is not overwritten."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.core.security import create_user
from accord.plugins.orders.api import LineInput, Offer, Order, create_offer, create_order
from accord.testing import post_form as post
from accord.testing import signed_in_client

from .conftest import Company

PASSWORD = "correct horse battery"


def browser(company: Company, login: str) -> TestClient:
    return signed_in_client(company.runtime, login, PASSWORD)


@pytest.fixture
def offer_id(company: Company) -> int:
    """Sam's draft offer: 2 pumps at 1,000.00 and 1 controller at 250.00."""
    with company.as_("sam") as session:
        offer = create_offer(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[
                LineInput(quantity=Decimal(2), product_id=company.products["PUMP-100"]),
                LineInput(quantity=Decimal(1), product_id=company.products["CTRL-7"]),
            ],
            note="Delivery in spring",
        )
        return offer.id


def lines_of(company: Company, model: type[Offer] | type[Order], record_id: int) -> list[tuple]:
    with company.system() as session:
        record = session.get_one(model, record_id)
        return [
            (line.description, line.quantity, line.unit_price, line.discount_percent)
            for line in record.lines
        ] + [("total", record.amount)]


class FormReader(HTMLParser):
    """The fields of a page's forms with the values the page fills in."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {key: value or "" for key, value in attrs}
        if tag == "input" and "name" in given:
            self.fields[given["name"]] = given.get("value", "")
        elif tag == "select":
            self.select = given["name"]
            self.fields[self.select] = ""
        elif tag == "option" and self.select is not None and "selected" in given:
            self.fields[self.select] = given["value"]
        elif tag == "textarea":
            self.textarea = given["name"]
            self.fields[self.textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.fields[self.textarea] += data


def form_of(client: TestClient, path: str) -> dict[str, str]:
    """The edit form's fields as the page fills them (what a browser would send back)."""
    reader = FormReader()
    reader.feed(client.get(path).text)
    reader.fields.pop("q", None)  # the top bar's search box
    return reader.fields


def test_the_salesperson_changes_quantities_discounts_and_lines_of_a_draft_offer(
    company: Company, offer_id: int
) -> None:
    sam = browser(company, "sam")
    page = sam.get(f"/orders/offers/{offer_id}").text
    assert f'href="/orders/offers/{offer_id}/edit"' in page
    fields = form_of(sam, f"/orders/offers/{offer_id}/edit")
    assert fields["quantity_1"] == "2"
    assert fields["rows"] == "4"  # two lines, two empty rows
    fields |= {
        "quantity_1": "3",
        "discount_1": "5",
        "product_2": "",  # the controller's line goes
        "quantity_2": "",
        "price_2": "",
        "description_3": "Installation on site",
        "quantity_3": "1",
        "price_3": "400",
        "note": "Delivery in May",
    }
    answer = post(sam, f"/orders/offers/{offer_id}/edit", **fields)
    assert answer.status_code == 303, answer.text
    assert lines_of(company, Offer, offer_id) == [
        ("Pump 100", Decimal("3.000"), Decimal("1000.00"), Decimal("5.00")),
        ("Installation on site", Decimal("1.000"), Decimal("400.00"), Decimal("0.00")),
        ("total", Decimal("3250.00")),
    ]
    shown = sam.get(f"/orders/offers/{offer_id}").text
    assert "The offer&#39;s lines are saved." in shown
    assert "Delivery in May" in shown


def test_wrong_entries_are_named_next_to_their_fields_and_nothing_changes(
    company: Company, offer_id: int
) -> None:
    sam = browser(company, "sam")
    before = lines_of(company, Offer, offer_id)
    fields = form_of(sam, f"/orders/offers/{offer_id}/edit")
    fields |= {"quantity_1": "two", "discount_2": "150", "description_3": "Spare seal"}
    answer = post(sam, f"/orders/offers/{offer_id}/edit", **fields)
    assert answer.status_code == 422
    page = answer.text
    assert (
        '<small id="field-quantity_1-error" class="field-error">'
        "Line 1, quantity: &#39;two&#39; is not a number</small>" in page
    )
    assert 'id="field-discount_2-error" class="field-error">Line 2: the discount is between' in page
    assert "Line 3: give a quantity" in page
    assert "Line 3: a line without a product needs a unit price" in page
    assert 'value="two"' in page  # what was typed stays
    assert lines_of(company, Offer, offer_id) == before


def test_a_submitted_offer_does_not_change_and_says_so(company: Company, offer_id: int) -> None:
    sam = browser(company, "sam")
    fields = form_of(sam, f"/orders/offers/{offer_id}/edit")
    post(sam, f"/orders/offers/{offer_id}/submit")
    assert 'href="/orders/offers/{offer_id}/edit"' not in sam.get(f"/orders/offers/{offer_id}").text
    before = lines_of(company, Offer, offer_id)
    answer = post(sam, f"/orders/offers/{offer_id}/edit", **{**fields, "quantity_1": "9"})
    assert answer.status_code == 303
    assert "changes only in draft (it is submitted)" in sam.get(answer.headers["location"]).text
    assert lines_of(company, Offer, offer_id) == before


def test_a_change_made_meanwhile_is_not_overwritten(company: Company, offer_id: int) -> None:
    sam = browser(company, "sam")
    stale = form_of(sam, f"/orders/offers/{offer_id}/edit")
    assert (
        post(sam, f"/orders/offers/{offer_id}/edit", **{**stale, "quantity_1": "4"}).status_code
        == 303
    )
    answer = post(sam, f"/orders/offers/{offer_id}/edit", **{**stale, "quantity_1": "7"})
    assert answer.status_code == 409
    assert "changed by someone else since you opened the form" in answer.text
    assert lines_of(company, Offer, offer_id)[0][1] == Decimal("4.000")


def test_only_who_may_write_the_offer_changes_it(company: Company, offer_id: int) -> None:
    with company.system() as session:
        create_user(session, "cole", PASSWORD, roles=("support",))
    sue = browser(company, "sue")  # another salesperson: she cannot even read it
    assert sue.get(f"/orders/offers/{offer_id}/edit").status_code == 404
    fields = form_of(browser(company, "sam"), f"/orders/offers/{offer_id}/edit")
    cole = browser(company, "cole")
    assert cole.get(f"/orders/offers/{offer_id}").status_code == 200  # support reads offers
    assert cole.get(f"/orders/offers/{offer_id}/edit").status_code == 403
    before = lines_of(company, Offer, offer_id)
    assert post(cole, f"/orders/offers/{offer_id}/edit", **fields).status_code == 403
    assert lines_of(company, Offer, offer_id) == before


def test_the_back_office_corrects_a_draft_order_and_it_is_asked_for_availability_again(
    company: Company,
) -> None:
    with company.as_("sam") as session:
        order = create_order(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[LineInput(quantity=Decimal(50), product_id=company.products["PUMP-100"])],
        )
        order_id = order.id
    bea = browser(company, "bea")
    post(bea, f"/orders/orders/{order_id}/confirm")  # 50 pumps: only 10 in stock
    assert "only 10 pcs free in stock" in bea.get(f"/orders/orders/{order_id}").text
    fields = form_of(bea, f"/orders/orders/{order_id}/edit")
    assert (
        post(bea, f"/orders/orders/{order_id}/edit", **{**fields, "quantity_1": "5"}).status_code
        == 303
    )
    assert lines_of(company, Order, order_id)[-1] == ("total", Decimal("5000.00"))
    assert post(bea, f"/orders/orders/{order_id}/confirm").status_code == 303
    page = bea.get(f"/orders/orders/{order_id}").text
    assert 'id="order-state">confirmed<' in page
    assert f'href="/orders/orders/{order_id}/edit"' not in page


def test_a_new_offer_without_a_customer_is_named_next_to_the_field(company: Company) -> None:
    sam = browser(company, "sam")
    answer = post(
        sam, "/orders/new/offer", product_1=str(company.products["PUMP-100"]), quantity_1="1"
    )
    assert answer.status_code == 422
    assert '<small id="field-partner-error" class="field-error">Choose the customer.</small>' in (
        answer.text
    )
    with company.system() as session:
        assert session.scalars(select(Offer)).all() == []


def test_users_without_the_right_to_make_offers_get_no_form(company: Company) -> None:
    with company.system() as session:
        create_user(session, "cole", PASSWORD, roles=("support",))
    assert browser(company, "cole").get("/orders/new/offer").status_code == 403
