"""An offer's way to a parcel, as the people doing it see it: the salesperson makes an
offer with a large discount and sees it wait for approval; the sales manager grants the
discount and the back office the availability; the customer accepts, the back office
confirms the order and ships it with a tracking number; customer service finds the order
by that number in the top bar's search. With collections enabled, a customer over its
credit line holds the order: the back office sees why, administration confirms it anyway
from the order's page with its reason."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.security import TeamKind, create_team, create_user
from accord.plugins.collections.models import CreditLine
from accord.plugins.orders.api import Product

PASSWORD = "correct horse battery"


@pytest.fixture
def accord_plugins() -> Sequence[str]:
    return ["orders"]


@pytest.fixture
def company(accord_db: Database) -> None:
    with accord_db.session(Principal.system("test")) as session:
        direct = create_team(session, "Direct sales", TeamKind.DIRECT_SALES)
        north = create_team(session, "North", TeamKind.DIRECT_SALES, direct)
        office = create_team(session, "Back office", TeamKind.BACK_OFFICE)
        sam = create_user(session, "sam", PASSWORD, roles=("salesperson",), team=north)
        create_user(session, "mia", PASSWORD, roles=("sales_manager",), team=direct)
        create_user(session, "bea", PASSWORD, roles=("back_office",), team=office)
        session.add(
            Partner(kind=PartnerKind.COMPANY, name="Garda Srl", owner_id=sam.id, team_id=north.id)
        )
        session.add(
            Product(
                sku="PUMP-100",
                name="Pump 100",
                product_line="Pumps",
                list_price=Decimal("1000"),
                cost=Decimal("600"),
                stock=Decimal("10"),
            )
        )


def test_an_offer_with_a_large_discount_is_approved_confirmed_shipped_and_found(
    company: None, page: Page, context: BrowserContext, log_in: Callable[..., None]
) -> None:
    def switch_to(login: str) -> None:
        context.clear_cookies()
        log_in(login)
        expect(page).to_have_url(re.compile(r"/$"))

    switch_to("sam")
    page.get_by_role("link", name="New offer").click()
    page.get_by_label("Customer", exact=True).select_option(label="Garda Srl")
    page.get_by_label("Product of line 1").select_option(label="PUMP-100 · Pump 100")
    page.get_by_label("Quantity of line 1").fill("2")
    page.get_by_label("Discount of line 1").fill("30")
    page.get_by_role("button", name="Save offer").click()
    expect(page.locator("#offer-state")).to_have_text("draft")
    offer_url = page.url
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#offer-state")).to_have_text("submitted")
    expect(page.locator("#offer-waiting")).to_contain_text(
        "waiting for approval: discount by sales management"
    )

    switch_to("mia")
    page.goto(offer_url)
    page.get_by_label("Note on the discount approval").fill("strategic customer")
    page.locator("li", has_text="Discount").get_by_role("button", name="Grant").click()
    expect(page.locator("li", has_text="Discount").locator(".approval-state")).to_have_text(
        "granted"
    )
    expect(page.locator("#offer-state")).to_have_text("submitted")  # availability waits

    switch_to("bea")
    page.goto(offer_url)
    page.locator("li", has_text="Availability").get_by_role("button", name="Grant").click()
    expect(page.locator("#offer-state")).to_have_text("approved")

    switch_to("sam")
    page.goto(offer_url)
    page.get_by_role("button", name="Mark sent to the customer").click()
    page.get_by_role("button", name="Customer accepted").click()
    page.get_by_role("button", name="Make the order").click()
    expect(page.locator("#order-state")).to_have_text("draft")
    order_url = page.url
    number = page.get_by_role("heading", level=1).inner_text().split()[1]

    switch_to("bea")
    page.goto(order_url)
    page.get_by_role("button", name="Check availability and confirm").click()
    expect(page.locator("#order-state")).to_have_text("confirmed")
    page.get_by_role("link", name="Shipping queue").click()
    expect(page.get_by_role("link", name=number)).to_be_visible()
    page.get_by_role("link", name=number).click()
    page.get_by_label("Tracking number", exact=True).fill("1ZBROWSER42")
    page.get_by_label("Carrier", exact=True).fill("UPS")
    page.get_by_role("button", name="Record the parcel").click()
    expect(page.locator("#order-state")).to_have_text("shipped")
    expect(page.locator(".tracking")).to_have_text("1ZBROWSER42")

    page.goto("/")
    box = page.get_by_label("Find customers and records")
    box.press_sequentially("1ZBROWSER42", delay=20)
    hit = page.locator("#topbar-results").get_by_role("link", name=f"Order {number}")
    expect(hit).to_be_visible()
    hit.click()
    expect(page).to_have_url(order_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


@pytest.mark.parametrize("accord_plugins", [["orders", "collections"]])
def test_administration_confirms_an_order_the_credit_block_holds_from_its_page(
    accord_plugins: Sequence[str],
    company: None,
    accord_db: Database,
    page: Page,
    context: BrowserContext,
    log_in: Callable[..., None],
) -> None:
    with accord_db.session(Principal.system("test")) as session:
        create_user(session, "ada", PASSWORD, roles=("administration", "back_office"))
        garda = session.scalars(select(Partner).where(Partner.name == "Garda Srl")).one()
        session.add(CreditLine(partner_id=garda.id, credit_limit=Decimal("1500.00")))

    def switch_to(login: str) -> None:
        context.clear_cookies()
        log_in(login)
        expect(page).to_have_url(re.compile(r"/$"))

    switch_to("sam")
    page.goto(f"/partners/{garda.id}")
    page.get_by_role("link", name="New order").click()
    page.get_by_label("Product of line 1").select_option(label="PUMP-100 · Pump 100")
    page.get_by_label("Quantity of line 1").fill("2")
    page.get_by_role("button", name="Save order").click()
    expect(page.locator("#order-state")).to_have_text("draft")
    order_url = page.url
    credit = page.get_by_role("region", name="Customer credit")
    expect(credit).to_contain_text("Left on the line after it")
    expect(credit).to_contain_text("-500.00 EUR")

    switch_to("bea")
    page.goto(order_url)
    expect(page.get_by_role("note", name="Credit")).to_contain_text(
        "Garda Srl would exceed its credit line of 1,500.00 EUR"
    )
    expect(page.get_by_role("button", name="Confirm despite the credit block")).to_have_count(0)

    switch_to("ada")
    page.goto(order_url)
    page.get_by_label("Confirm anyway, because").fill("prepaid by wire")
    page.get_by_role("button", name="Confirm despite the credit block").click()
    expect(page.locator("#order-state")).to_have_text("confirmed")
    expect(page.get_by_role("region", name="Customer credit")).to_contain_text(
        "Ordered, not invoiced"
    )
