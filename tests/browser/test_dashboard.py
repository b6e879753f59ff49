"""A sales manager opens the dashboard, changes the period from this month to this year and
sees the new-customers chart redraw in place; the address bar keeps the filters, so the
view can be shared."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind


@pytest.fixture
def customers(accord_db: Database, accord_make_user) -> None:
    """Two customers made today and three forty days ago (last year, early in January)."""
    accord_make_user("bea", "back_office")
    now = dt.datetime.now(dt.UTC)
    earlier = now - dt.timedelta(days=40)
    with accord_db.session(Principal.system("test")) as session:
        for n in range(2):
            session.add(Partner(kind=PartnerKind.COMPANY, name=f"New {n}", created_at=now))
        for n in range(3):
            session.add(Partner(kind=PartnerKind.COMPANY, name=f"Early {n}", created_at=earlier))


def test_changing_the_period_redraws_the_chart(customers, page: Page, log_in):
    log_in("bea")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    tile = page.locator("#widget-core-new_customers")
    expect(tile.locator(".widget__figure")).to_have_text("2 new customers")
    expect(tile.locator("svg")).to_be_visible()
    page.evaluate("window.accordMarker = 'still here'")

    page.get_by_label("Period").focus()
    page.get_by_label("Period").select_option(label="This year")

    now = dt.datetime.now(dt.UTC)
    this_year = 5 if (now - dt.timedelta(days=40)).year == now.year else 2
    expect(tile.locator(".widget__figure")).to_have_text(f"{this_year} new customers")
    expect(page).to_have_url(re.compile(r"[?&]period=year"))
    expect(tile.locator("table caption")).to_contain_text("per month")
    assert page.evaluate("window.accordMarker") == "still here"  # redrawn, not reloaded
    expect(page.get_by_label("Period")).to_be_focused()  # the keyboard user stays put

    page.get_by_label("Period").select_option(label="Custom dates")
    expect(page.get_by_label("From")).to_be_visible()
    page.get_by_label("From").fill("2030-05-01")
    expect(page.locator("#filter-to-error")).to_contain_text("comes before the first")

    page.reload()  # the address bar holds the dashboard as it is
    expect(page.locator("#filter-to-error")).to_contain_text("comes before the first")


def test_the_dashboard_fits_a_phone(customers, page: Page, log_in):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in("bea")

    expect(page.locator("#widget-core-new_customers svg")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    page.get_by_label("Period").select_option(label="Last 12 months")
    expect(page).to_have_url(re.compile(r"[?&]period=last_12_months"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
