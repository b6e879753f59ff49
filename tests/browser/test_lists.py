"""A back-office clerk works the customer list: types in the search box and the table
follows without a new page, sorts by clicking a column header, goes to the next page and
back; the address bar keeps up, so a reload shows the same list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind

CUSTOMERS = [f"Customer {n:03}" for n in range(120)]


@pytest.fixture
def customers(accord_db: Database, accord_make_user) -> None:
    accord_make_user("bea", "back_office")
    with accord_db.session(Principal.system("test")) as session:
        for name in CUSTOMERS:
            session.add(
                Partner(kind=PartnerKind.COMPANY, name=name, email=f"{name[-3:]}@x.example")
            )
        session.add(
            Partner(kind=PartnerKind.COMPANY, name="Zephyr Logistics", email="z@zephyr.example")
        )


def names(page: Page) -> list[str]:
    return page.locator("#list-results tbody tr td:first-child").all_inner_texts()


def open_list(page: Page, log_in) -> None:
    log_in("bea")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page).to_have_url(re.compile(r"/views/partners$"))
    expect(page.locator(".list-count")).to_have_text("121 customers")
    # Set on this page: a full page load would lose it, an htmx swap keeps it.
    page.evaluate("window.accordMarker = 'still here'")


def test_search_updates_the_table_without_loading_a_new_page(customers, page, log_in):
    open_list(page, log_in)

    page.get_by_label("Search").press_sequentially("zeph", delay=30)

    expect(page.locator(".list-count")).to_have_text("1 customers")
    assert names(page) == ["Zephyr Logistics"]
    expect(page).to_have_url(re.compile(r"[?&]q=zeph"))
    assert page.evaluate("window.accordMarker") == "still here"

    page.get_by_label("Search").fill("")
    page.get_by_label("Search").press("Enter")  # the search event of a cleared box
    expect(page.locator(".list-count")).to_have_text("121 customers")

    page.reload()  # the address bar holds the list as it is
    expect(page.locator(".list-count")).to_have_text("121 customers")


def test_sort_by_clicking_a_header_and_page_through(customers, page, log_in):
    open_list(page, log_in)
    assert names(page)[:2] == ["Customer 000", "Customer 001"]

    page.get_by_role("link", name=re.compile(r"^Name")).click()  # sorted by name: turn it round
    expect(page.locator("#list-results tbody tr").first).to_contain_text("Zephyr Logistics")
    assert names(page)[:3] == ["Zephyr Logistics", "Customer 119", "Customer 118"]
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Name")

    page.get_by_role("link", name="Next").click()
    expect(page.locator("#list-results tbody tr").first).to_contain_text("Customer 070")
    assert len(names(page)) == 50
    page.get_by_role("link", name="Next").click()
    expect(page.locator("#list-results tbody tr").first).to_contain_text("Customer 020")
    assert names(page)[-1] == "Customer 000"
    expect(page.get_by_role("link", name="Next")).to_have_count(0)

    page.get_by_role("link", name="Previous").click()
    expect(page.locator("#list-results tbody tr").first).to_contain_text("Customer 070")
    assert page.evaluate("window.accordMarker") == "still here"
    expect(page).to_have_url(re.compile(r"sort=-name"))
