"""Nora, a note taker, writes a note on Acme from the notes list: her first attempt is too
short and the form says so beside the field, keeping what she typed; she fixes it and lands
on the note's page. On a colleague's draft she presses Publish and the page shows the new
state without loading a new page; on a draft someone has meanwhile put TODO back into, her
click is refused and the reason is shown next to the buttons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")
SYSTEM = Principal.system("test")


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


@pytest.fixture
def accord_config(accord_config: Path) -> Path:
    """No job runner in the app: the dummy add-on's scheduled purge deletes drafts."""
    with accord_config.open("a") as config:
        config.write("\n[jobs]\nin_process = false\n")
    return accord_config


@pytest.fixture
def notes(accord_db: Database, accord_make_user) -> dict[str, int]:
    from accord_dummy.models import DummyNote

    ann = accord_make_user("ann", "dummy_note_taker", "back_office")
    accord_make_user("nora", "dummy_note_taker", "back_office")
    with accord_db.session(SYSTEM) as session:
        session.add(Partner(kind=PartnerKind.COMPANY, name="Globex"))
        acme = Partner(kind=PartnerKind.COMPANY, name="Acme", email="info@acme.example")
        session.add(acme)
        session.flush()
        made = {
            body: DummyNote(partner_id=acme.id, body=body, author_id=ann.id, state="draft")
            for body in ("Call back on Monday", "Send the catalogue", "TODO ask about budget")
        }
        session.add_all(made.values())
        session.flush()
        return {body: note.id for body, note in made.items()}


def sign_in(page: Page, log_in, login: str) -> None:
    log_in(login)
    expect(page).not_to_have_url(re.compile(r"/login"))  # signed in before going anywhere


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_a_note_is_refused_beside_its_field_then_created(notes, page, log_in):
    sign_in(page, log_in, "nora")
    page.goto("/views/dummy-notes")
    page.get_by_role("button", name="New").click()
    expect(page).to_have_url(re.compile(r"/views/dummy-notes/new$"))

    page.get_by_label("Find a customer").fill("acm")
    page.get_by_role("radio", name="Acme").check()
    page.get_by_label("Note").fill("Called")
    page.get_by_role("button", name="Create").click()

    note = page.get_by_label("Note")
    expect(note).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-body-error")).to_have_text(
        "Say what happened in at least three words."
    )
    expect(note).to_have_value("Called")  # kept
    expect(page.get_by_role("radio", name="Acme")).to_be_checked()
    screenshot(page, "record_form_with_an_error")

    note.fill("Called about the renewal")
    page.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"/views/dummy-notes/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Called about the renewal")
    expect(page.locator(".record-state")).to_have_text("Draft")
    expect(page.locator(".toasts")).to_contain_text("Called about the renewal was created.")
    expect(page.locator('[data-field="partner_id"] dd')).to_have_text("Acme")
    # Nora wrote it: another note taker publishes it (four eyes), and the page says so.
    expect(page.locator(".record-held")).to_contain_text("another user must")


def test_publishing_from_the_record_page_shows_the_new_state_in_place(notes, page, log_in):
    sign_in(page, log_in, "nora")
    page.goto(f"/views/dummy-notes/{notes['Call back on Monday']}")
    page.evaluate("window.accordMarker = 'still here'")

    page.get_by_role("button", name="Publish").click()

    expect(page.locator(".record-state")).to_have_text("Published")
    expect(page.locator(".toasts")).to_contain_text("publish done, now published")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    expect(page.locator(".record-history")).to_contain_text("Publish: Draft → Published")
    assert page.evaluate("window.accordMarker") == "still here"  # no new page
    screenshot(page, "record_page_after_publishing")


def test_a_veto_is_shown_next_to_the_buttons(notes, page, log_in, accord_db):
    from accord_dummy.models import DummyNote

    sign_in(page, log_in, "nora")
    page.goto(f"/views/dummy-notes/{notes['TODO ask about budget']}")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    expect(page.locator(".record-held")).to_contain_text("still says TODO")

    page.goto(f"/views/dummy-notes/{notes['Send the catalogue']}")
    with accord_db.session(SYSTEM) as session:  # meanwhile, someone puts TODO back
        session.get_one(DummyNote, notes["Send the catalogue"]).body = "TODO send it"
    page.get_by_role("button", name="Publish").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Publish refused: the note is empty or still says TODO")
    expect(page.locator(".record-state")).to_have_text("Draft")
