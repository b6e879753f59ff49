"""A salesperson finds a customer from the top bar and opens its 360 page: reads the header,
scrolls down the timeline while older entries load, and logs a call that appears at the top
of the timeline without the page reloading; a task he logs waits in "My tasks" on the
dashboard until he marks it done on the timeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from accord.core.access import Principal
from accord.core.activities import ActivityKind, log_activity
from accord.core.db import Database
from accord.core.partners import Address, Partner, PartnerKind

HISTORY = 60


@pytest.fixture
def zephyr(accord_db: Database, accord_make_user) -> int:
    """Sam's customer Zephyr Logistics with sixty calls and notes, one a day, Entry 0 the
    oldest."""
    sam = accord_make_user("sam", "salesperson")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=HISTORY + 1)
    with accord_db.session(Principal.system("test")) as session:
        zephyr = Partner(
            kind=PartnerKind.COMPANY,
            name="Zephyr Logistics",
            email="info@zephyr.example",
            phone="+39 02 555 0101",
            website="zephyr.example",
            vat_number="IT09876543210",
            owner_id=sam.id,
        )
        zephyr.addresses.append(Address(street="Via Po 3", city="Turin", postcode="10100"))
        session.add(zephyr)
        session.flush()
        for n in range(HISTORY):
            log_activity(
                session,
                zephyr.id,
                ActivityKind.CALL if n % 2 else ActivityKind.NOTE,
                f"Entry {n}",
                body="Talked about the spring order." if n % 2 else "",
                user_id=sam.id,
                occurred_at=start + dt.timedelta(days=n),
            )
        return zephyr.id


def test_open_a_customer_scroll_its_timeline_and_log_a_call(zephyr, page: Page, log_in):
    log_in("sam")
    page.get_by_label("Find customers and records").press_sequentially("zeph", delay=30)
    page.locator("#topbar-results").get_by_role("link", name="Zephyr Logistics").click()

    expect(page).to_have_url(re.compile(rf"/partners/{zephyr}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Zephyr Logistics")
    expect(page.get_by_role("link", name="info@zephyr.example")).to_have_attribute(
        "href", "mailto:info@zephyr.example"
    )
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    page.evaluate("window.accordMarker = 'still here'")
    entries = page.locator(".timeline__entry")
    expect(entries).to_have_count(25)
    expect(entries.first).to_contain_text("Entry 59")

    for shown in (50, HISTORY):  # each time the end of the list comes into view
        entries.last.scroll_into_view_if_needed()
        expect(entries).to_have_count(shown)
    expect(entries.last).to_contain_text("Entry 0")
    expect(page.locator(".timeline__more")).to_have_count(0)

    page.get_by_text("Log a note, call, meeting or task").click()
    page.get_by_label("What").select_option(label="Call")
    page.get_by_label("Subject").fill("Asked for a demo of the new line")
    page.get_by_label("Details").fill("Wants it before Easter.")
    page.get_by_role("button", name="Add to the timeline").click()

    expect(page.locator(".form-success")).to_have_text(
        "Call logged: Asked for a demo of the new line"
    )
    expect(entries.first).to_contain_text("Asked for a demo of the new line")
    expect(entries.first).to_contain_text("by sam")
    assert page.evaluate("window.accordMarker") == "still here"  # no page load
    page.evaluate("window.scrollTo(0, 0)")


def test_a_task_without_a_date_is_refused_next_to_the_field(zephyr, page: Page, log_in):
    log_in("sam")
    page.goto(f"/partners/{zephyr}")

    page.get_by_text("Log a note, call, meeting or task").click()
    page.get_by_label("What").select_option(label="Task")
    page.get_by_label("Subject").fill("Send the offer")
    page.get_by_role("button", name="Add to the timeline").click()

    due = page.get_by_label("Due date (tasks)")
    expect(due).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#log-due-error")).to_have_text("A task needs a due date.")
    expect(page.get_by_label("Subject")).to_have_value("Send the offer")
    expect(page.locator(".timeline__entry").first).to_contain_text("Entry 59")


def test_the_360_page_fits_a_phone_and_works_with_the_keyboard(zephyr, page: Page, log_in):
    page.set_viewport_size({"width": 375, "height": 740})
    log_in("sam")
    page.goto(f"/partners/{zephyr}")

    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    opener = page.get_by_text("Log a note, call, meeting or task")
    opener.focus()
    page.keyboard.press("Enter")
    page.get_by_label("Subject").focus()
    page.keyboard.type("Left a voicemail")
    page.keyboard.press("Enter")  # sends the form

    expect(page.locator(".timeline__entry").first).to_contain_text("Left a voicemail")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_a_task_is_marked_done_on_the_timeline(zephyr, page: Page, log_in):
    log_in("sam")
    page.goto(f"/partners/{zephyr}")
    page.get_by_text("Log a note, call, meeting or task").click()
    page.get_by_label("What").select_option(label="Task")
    page.get_by_label("Subject").fill("Send the spring price list")
    page.get_by_label("Due date (tasks)").fill(dt.date.today().isoformat())
    page.get_by_role("button", name="Add to the timeline").click()
    task = page.locator(".timeline__entry", has_text="Send the spring price list")
    expect(task).to_contain_text("Open")
    page.goto("/")
    expect(page.locator("#widget-core-my_tasks")).to_contain_text("Send the spring price list")

    page.goto(f"/partners/{zephyr}")
    page.evaluate("window.accordMarker = 'still here'")
    task.get_by_role("button", name="Mark done: Send the spring price list").click()

    expect(task.locator(".badge--done")).to_have_text("Done")
    expect(task.get_by_role("button")).to_have_count(0)
    assert page.evaluate("window.accordMarker") == "still here"  # only the entry was redrawn
    page.goto("/")
    expect(page.locator("#widget-core-my_tasks")).not_to_contain_text("Send the spring price list")
