"""A salesperson looks a customer up from the top bar: types part of a name, the hits drop
down under the box without a new page, Escape closes them, and clicking one opens that
customer's 360 page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind


@pytest.fixture
def customers(accord_db: Database, accord_make_user) -> None:
    sam = accord_make_user("sam", "salesperson")
    with accord_db.session(Principal.system("test")) as session:
        for name in ("Zephyr Logistics", "Zenith Bakery", "Orbit Travel"):
            session.add(
                Partner(
                    kind=PartnerKind.COMPANY,
                    name=name,
                    email=f"info@{name.split()[0].lower()}.example",
                    owner_id=sam.id,
                )
            )
        session.add(Partner(kind=PartnerKind.COMPANY, name="Zeppelin Works", email="z@w.example"))


def test_type_in_the_top_bar_and_open_a_hit(customers, page: Page, log_in):
    log_in("sam")
    expect(page).to_have_url(re.compile(r"/$"))
    # Set on this page: a full page load would lose it, an htmx swap keeps it.
    page.evaluate("window.accordMarker = 'still here'")
    box = page.get_by_label("Find customers and records")
    results = page.locator("#topbar-results")

    box.press_sequentially("ze", delay=30)

    expect(results.get_by_role("heading", name="Customers")).to_be_visible()
    hits = results.get_by_role("link")
    expect(hits).to_have_text(["Zenith Bakery", "Zephyr Logistics"])  # not another's Zeppelin
    assert page.evaluate("window.accordMarker") == "still here"
    expect(page).to_have_url(re.compile(r"/$"))

    box.press("Escape")
    expect(hits).to_have_count(0)
    expect(box).to_be_focused()

    box.fill("")  # Chromium empties a search box on Escape; other browsers may not
    box.press_sequentially("zep", delay=30)
    expect(hits).to_have_text(["Zephyr Logistics"])
    hits.first.click()

    expect(page).to_have_url(re.compile(r"/partners/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Zephyr Logistics")
