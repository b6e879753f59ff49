"""Nora, a note taker, works the board of notes: she publishes a colleague's draft and sees
its card move to the Published column without a new page; when someone has meanwhile put
TODO back into another draft, her click is refused and the card says why. Rex, a reviewer,
withdraws a published note, giving the reason the board asks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind

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
    accord_make_user("rex", "dummy_reviewer", "back_office")
    with accord_db.session(SYSTEM) as session:
        acme = Partner(kind=PartnerKind.COMPANY, name="Acme", email="info@acme.example")
        session.add(acme)
        session.flush()
        made = {
            body: DummyNote(partner_id=acme.id, body=body, author_id=ann.id, state=state)
            for body, state in (
                ("Call back on Monday", "draft"),
                ("Send the catalogue", "draft"),
                ("Price list sent", "published"),
            )
        }
        session.add_all(made.values())
        session.flush()
        return {body: note.id for body, note in made.items()}


def column(page: Page, state: str):
    return page.locator(f'.board-column[data-state="{state}"]')


def card(page: Page, note_id: int):
    return page.locator(f"#card-{note_id}")


def open_board(page: Page, log_in, login: str) -> None:
    log_in(login)
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Dummy note board").click()
    expect(page).to_have_url(re.compile(r"/boards/dummy\.note$"))
    # Set on this page: a full page load would lose it, an htmx swap keeps it.
    page.evaluate("window.accordMarker = 'still here'")


def test_publishing_moves_the_card_without_loading_a_new_page(notes, page, log_in):
    open_board(page, log_in, "nora")
    expect(column(page, "published")).not_to_contain_text("Call back on Monday")

    card(page, notes["Call back on Monday"]).get_by_role("button", name="Publish").click()

    expect(column(page, "published")).to_contain_text("Call back on Monday")
    expect(column(page, "draft")).not_to_contain_text("Call back on Monday")
    expect(page.get_by_role("status")).to_contain_text("publish done, now published")
    assert page.evaluate("window.accordMarker") == "still here"


def test_a_vetoed_move_shows_the_reason_on_the_card(notes, page, log_in, accord_db):
    from accord_dummy.models import DummyNote

    open_board(page, log_in, "nora")
    note_id = notes["Send the catalogue"]
    with accord_db.session(SYSTEM) as session:  # a colleague edits it meanwhile
        session.get_one(DummyNote, note_id).body = "TODO send the catalogue"

    card(page, note_id).get_by_role("button", name="Publish").click()

    expect(card(page, note_id).get_by_role("alert")).to_contain_text(
        "still says TODO; write it before publishing"
    )
    expect(column(page, "draft")).to_contain_text("TODO send the catalogue")
    expect(column(page, "published")).not_to_contain_text("catalogue")
    assert page.evaluate("window.accordMarker") == "still here"


def test_withdrawing_asks_for_the_reason_first(notes, page, log_in):
    open_board(page, log_in, "rex")
    note = card(page, notes["Price list sent"])

    note.get_by_text("Withdraw…").click()
    note.get_by_label("Reason").fill("Prices changed")
    note.get_by_role("button", name="Withdraw").click()

    expect(column(page, "withdrawn")).to_contain_text("Price list sent")
    expect(column(page, "published")).not_to_contain_text("Price list sent")
    assert page.evaluate("window.accordMarker") == "still here"
