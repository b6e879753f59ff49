"""The boards of /boards/<workflow>: a column per state, each card with the moves its user
may make now; a move goes through the workflow engine (history written), a veto or a missing
input is shown on the card and changes nothing, a move the user may not make is refused."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.workflow import TransitionConflictError, TransitionRecord
from accord.ui import boards

from .conftest import csrf_token

SYSTEM = Principal.system("test")
BOARD = "/boards/dummy.note"
HTMX = {"HX-Request": "true"}


def dummy_note() -> type:
    """The dummy add-on's model, importable once the add-on is installed (a fixture)."""
    from accord_dummy.models import DummyNote

    return DummyNote


@dataclass
class Notes:
    draft: int
    todo: int
    published: int


@pytest.fixture
def notes(accord_db: Database, accord_make_user) -> Notes:
    """Ann wrote three notes on Acme: a draft ready to publish, a draft that still says TODO,
    and a published one. Nora takes notes too, Rex reviews them."""
    ann = accord_make_user("ann", "dummy_note_taker", "back_office")
    DummyNote = dummy_note()  # noqa: N806 (a class)
    with accord_db.session(SYSTEM) as session:
        acme = Partner(kind=PartnerKind.COMPANY, name="Acme", email="info@acme.example")
        session.add(acme)
        session.flush()
        made = [
            DummyNote(partner_id=acme.id, body=body, author_id=ann.id, state=state)
            for body, state in (
                ("Call back on Monday", "draft"),
                ("TODO ask about the budget", "draft"),
                ("Price list sent", "published"),
            )
        ]
        session.add_all(made)
        session.flush()
        return Notes(*(note.id for note in made))


def state_of(accord_db: Database, note_id: int) -> str:
    with accord_db.session(SYSTEM) as session:
        return session.get_one(dummy_note(), note_id).state


def history_of(accord_db: Database, note_id: int) -> list[tuple[str, str, str]]:
    with accord_db.session(SYSTEM) as session:
        rows = session.execute(
            select(TransitionRecord.transition, TransitionRecord.to_state, TransitionRecord.inputs)
            .where(TransitionRecord.model == "dummy_note")
            .where(TransitionRecord.record_id == str(note_id))
        )
        return [tuple(row) for row in rows]


def card(page: str, note_id: int) -> str:
    found = re.search(rf'<article class="board-card" id="card-{note_id}".*?</article>', page, re.S)
    assert found, f"no card of note #{note_id} on the board"
    return found.group(0)


def column(page: str, state: str) -> str:
    found = re.search(
        rf'<section class="board-column"[^>]*data-state="{state}">.*?</section>', page, re.S
    )
    assert found, f"no column {state!r} on the board"
    return found.group(0)


def buttons(page: str, note_id: int) -> list[str]:
    return re.findall(r'<button type="submit">([^<]+)</button>', card(page, note_id))


def move(client: TestClient, note_id: int, transition: str, **data: str):
    headers = {**HTMX, "x-csrftoken": csrf_token(client)}
    return client.post(f"{BOARD}/{note_id}/{transition}", data=data, headers=headers)


def test_board_has_a_column_per_state_with_the_notes_newest_first(notes, logged_in):
    page = logged_in("nora", "dummy_note_taker", "back_office").get(BOARD)

    assert page.status_code == 200
    assert "<h1>Dummy note board</h1>" in page.text
    drafts = column(page.text, "draft")
    assert drafts.index("TODO ask about the budget") < drafts.index("Call back on Monday")
    assert "Price list sent" in column(page.text, "published")
    assert "Nothing here." in column(page.text, "withdrawn")


def test_only_the_moves_the_user_may_make_now_are_buttons(notes, logged_in):
    nora = logged_in("nora", "dummy_note_taker", "back_office").get(BOARD).text
    ann = logged_in("ann2", "dummy_note_taker", "back_office").get(BOARD).text
    rex = logged_in("rex", "dummy_reviewer", "back_office").get(BOARD).text

    assert buttons(nora, notes.draft) == ["Publish"]
    assert buttons(nora, notes.todo) == []  # vetoed: still says TODO
    assert buttons(nora, notes.published) == []  # withdrawing takes a reviewer
    assert buttons(ann, notes.draft) == ["Publish"]  # another author than ann2
    assert buttons(rex, notes.draft) == []  # a reviewer does not publish
    assert buttons(rex, notes.published) == ["Withdraw"]
    assert f'for="card-{notes.published}-withdraw-reason">Reason</label>' in rex


def test_the_author_gets_no_button_to_publish_their_own_note(notes, make_client):
    from .conftest import log_in

    client = make_client()
    assert log_in(client, "ann").status_code == 303

    assert buttons(client.get(BOARD).text, notes.draft) == []


def test_a_move_puts_the_card_in_its_new_column_and_writes_history(notes, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")
    client.get(BOARD)

    response = move(client, notes.draft, "publish")

    assert response.status_code == 200
    assert "<html" not in response.text  # the board alone, for htmx to swap
    assert "Call back on Monday" in column(response.text, "published")
    assert "Call back on Monday" not in column(response.text, "draft")
    assert 'hx-swap-oob="beforeend:.toasts"' in response.text
    assert "Call back on Monday: publish done, now published." in response.text
    assert state_of(accord_db, notes.draft) == "published"
    assert history_of(accord_db, notes.draft) == [("publish", "published", "{}")]


def test_without_htmx_a_move_redirects_to_the_board_with_a_message(notes, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")
    data = {"csrftoken": csrf_token(client)}

    response = client.post(f"{BOARD}/{notes.draft}/publish", data=data)

    assert response.status_code == 303
    assert response.headers["location"] == BOARD
    assert "publish done" in client.get(BOARD).text
    assert state_of(accord_db, notes.draft) == "published"


def test_a_vetoed_move_shows_the_reason_on_the_card_and_changes_nothing(
    notes, logged_in, accord_db
):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = move(client, notes.todo, "publish")

    assert response.status_code == 422
    alert = card(response.text, notes.todo)
    assert 'role="alert"' in alert
    assert "still says TODO; write it before publishing" in alert
    assert "TODO ask about the budget" in column(response.text, "draft")
    assert state_of(accord_db, notes.todo) == "draft"
    assert history_of(accord_db, notes.todo) == []


def test_a_move_that_needs_input_asks_for_it(notes, logged_in, accord_db):
    client = logged_in("rex", "dummy_reviewer", "back_office")

    response = move(client, notes.published, "withdraw", reason="  ")

    assert response.status_code == 422
    refused = card(response.text, notes.published)
    assert "give &#39;reason&#39; (missing or blank)" in refused
    assert '<details class="board-card__inputs" open>' in refused
    assert state_of(accord_db, notes.published) == "published"

    response = move(client, notes.published, "withdraw", reason="Prices changed")

    assert response.status_code == 200
    assert "Price list sent" in column(response.text, "withdrawn")
    assert history_of(accord_db, notes.published) == [
        ("withdraw", "withdrawn", '{"reason": "Prices changed"}')
    ]


def test_a_move_the_user_may_not_make_is_refused_with_the_reason(notes, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = move(client, notes.published, "withdraw", reason="I say so")

    assert response.status_code == 403
    assert "lacks the permission &#39;dummy.notes.review&#39;" in card(
        response.text, notes.published
    )
    assert state_of(accord_db, notes.published) == "published"
    assert history_of(accord_db, notes.published) == []


def test_a_move_needs_the_csrf_token(notes, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = client.post(f"{BOARD}/{notes.draft}/publish", headers=HTMX)

    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert state_of(accord_db, notes.draft) == "draft"


def test_a_record_changed_meanwhile_is_reloaded(notes, logged_in, accord_runtime, monkeypatch):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    def conflict(session, record, name, **inputs):
        raise TransitionConflictError("dummy_note #1", name, "changed meanwhile")

    monkeypatch.setattr(accord_runtime.workflows, "transition", conflict)
    response = move(client, notes.draft, "publish")

    assert response.status_code == 409
    assert "changed by someone else; the board is reloaded" in card(response.text, notes.draft)


def test_unknown_boards_records_and_moves_are_not_found(notes, logged_in):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    assert client.get("/boards/nonsense").status_code == 404
    assert move(client, 999_999, "publish").status_code == 404
    assert move(client, notes.draft, "shred").status_code == 404


class TestOnlyMarketingReadsPublishedNotes:
    """Here only marketing (and the note takers and reviewers) may read notes."""

    @pytest.fixture
    def accord_config(self, accord_config: Path) -> Path:
        with accord_config.open("a") as config:
            config.write('\n[access."dummy.note_readers"]\nrole = "marketing"\n')
        return accord_config

    def test_a_user_without_a_read_grant_gets_no_board_and_no_menu_entry(self, notes, logged_in):
        clerk = logged_in("bea", "back_office")
        reader = logged_in("mia", "marketing")

        refused = clerk.get(BOARD)
        assert refused.status_code == 403
        assert "You may not see this page" in refused.text
        assert move(clerk, notes.draft, "publish").status_code == 403
        assert f'href="{BOARD}"' not in clerk.get("/").text
        assert reader.get(BOARD).status_code == 200
        assert f'<a href="{BOARD}">Dummy note board</a>' in reader.get("/").text


def test_a_user_sees_only_the_cards_the_access_table_gives_them(notes, logged_in):
    """Marketing reads the customers, and so their published notes, but no drafts."""
    page = logged_in("mia", "marketing").get(BOARD).text

    assert "Price list sent" in column(page, "published")
    assert "Call back on Monday" not in page
    assert buttons(page, notes.published) == []


def test_a_full_column_shows_how_many_more(notes, logged_in, accord_db, monkeypatch):
    monkeypatch.setattr(boards, "COLUMN_CAP", 1)
    page = logged_in("nora", "dummy_note_taker", "back_office").get(BOARD).text

    drafts = column(page, "draft")
    assert "TODO ask about the budget" in drafts
    assert "Call back on Monday" not in drafts
    assert "1 more" in drafts


def test_many_records_are_counted_up_to_the_cap(notes, logged_in, monkeypatch):
    monkeypatch.setattr(boards, "COLUMN_CAP", 0)
    monkeypatch.setattr(boards, "COUNT_CAP", 1)
    page = logged_in("nora", "dummy_note_taker", "back_office").get(BOARD).text

    assert "more than 1 more" in column(page, "draft")
    assert "1 more" in column(page, "published")
    assert "more than" not in column(page, "published")
