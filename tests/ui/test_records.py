"""The record pages of /views/<view>/<id>: the declared fields in words, the panels other
plugins add (a failing one does not take the page down), the workflow buttons the user may
use now, steps taken from the page, and deletion; a record the user may not read is not
found, one they may read but not change shows no edit or delete button."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from accord.api import RecordPanel, RenderContext, hookimpl
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.security import Team, TeamKind
from accord.core.workflow import TransitionConflictError, TransitionRecord

from .conftest import csrf_token

SYSTEM = Principal.system("test")
HTMX = {"HX-Request": "true"}
NOTES = "/views/dummy-notes"


def dummy_note() -> type:
    from accord_dummy.models import DummyNote

    return DummyNote


@dataclass
class World:
    acme: int
    globex: int
    sam: int
    draft: int
    todo: int
    published: int


@pytest.fixture
def world(accord_db: Database, accord_make_user) -> World:
    """Sam (a salesperson) owns Acme, a company in the North team; Globex belongs to Sid.
    Ann wrote three notes on Acme: a draft, a draft that still says TODO, a published one."""
    sam = accord_make_user("sam", "salesperson")
    sid = accord_make_user("sid", "salesperson")
    ann = accord_make_user("ann", "dummy_note_taker", "back_office")
    DummyNote = dummy_note()  # noqa: N806 (a class)
    with accord_db.session(SYSTEM) as session:
        north = Team(name="North", kind=TeamKind.DIRECT_SALES)
        session.add(north)
        session.flush()
        acme = Partner(
            kind=PartnerKind.COMPANY,
            name="Acme",
            email="info@acme.example",
            owner_id=sam.id,
            team_id=north.id,
        )
        globex = Partner(kind=PartnerKind.COMPANY, name="Globex", owner_id=sid.id)
        session.add_all([acme, globex])
        session.flush()
        notes = [
            DummyNote(partner_id=acme.id, body=body, author_id=ann.id, state=state)
            for body, state in (
                ("Call back on Monday", "draft"),
                ("TODO ask about the budget", "draft"),
                ("Price list sent", "published"),
            )
        ]
        session.add_all(notes)
        session.flush()
        return World(acme.id, globex.id, sam.id, *(note.id for note in notes))


def field(page: str, name: str) -> str:
    found = re.search(rf'data-field="{name}">\s*<dt>([^<]*)</dt>\s*<dd>(.*?)</dd>', page, re.S)
    assert found, f"no field {name!r} on the page"
    return f"{found[1]}: {re.sub(r'<[^>]+>', '', found[2]).strip()}"


def buttons(page: str) -> list[str]:
    steps = re.search(r'<section class="record-steps".*?</section>', page, re.S)
    if steps is None:
        return []
    return re.findall(r"<(?:button|summary)[^>]*>([^<]+)</", steps[0])


def step(client: TestClient, note_id: int, name: str, headers=HTMX, **data: str):
    path = f"{NOTES}/{note_id}/transition/{name}"
    return client.post(path, data={"csrftoken": csrf_token(client), **data}, headers=headers)


def state_of(accord_db: Database, note_id: int) -> str:
    with accord_db.session(SYSTEM) as session:
        return session.get_one(dummy_note(), note_id).state


def history_of(accord_db: Database, note_id: int) -> list[tuple[str, str]]:
    with accord_db.session(SYSTEM) as session:
        rows = session.execute(
            select(TransitionRecord.transition, TransitionRecord.inputs).where(
                TransitionRecord.model == "dummy_note",
                TransitionRecord.record_id == str(note_id),
            )
        )
        return [tuple(row) for row in rows]


# --- what the page shows ------------------------------------------------------------------


def test_the_page_shows_the_declared_fields_in_words(world, logged_in):
    page = logged_in("bo", "back_office").get(f"/views/partners/{world.acme}")

    assert page.status_code == 200
    assert "<h1>Acme" in page.text
    assert field(page.text, "kind") == "Kind: Company"  # an enum as its label
    assert field(page.text, "owner_id") == "Owner: sam"  # a reference as its name
    assert field(page.text, "team_id") == "Team: North"
    assert field(page.text, "active") == "Active: Yes"
    assert field(page.text, "phone") == "Phone: —"


def test_a_reference_links_to_the_referenced_records_page(world, logged_in):
    page = logged_in("nora", "dummy_note_taker", "back_office").get(f"{NOTES}/{world.draft}")

    # The customer's page lives where the partners view says (the customer 360 page).
    assert f'<dd><a href="/partners/{world.acme}">Acme</a></dd>' in page.text
    assert field(page.text, "author_id") == "Author: ann"
    assert '<span class="record-state">Draft</span>' in page.text


def test_a_record_the_user_may_not_read_is_not_found(world, logged_in):
    sam = logged_in("sam2", "salesperson")
    own = logged_in("sid2", "salesperson")

    for client in (sam, own):
        for headers in ({}, HTMX):
            response = client.get(f"/views/partners/{world.globex}", headers=headers)
            assert response.status_code == 404
            assert "Globex" not in response.text
    # The same answer as for a record that does not exist at all, or a malformed id.
    assert sam.get("/views/partners/999999").status_code == 404
    assert sam.get("/views/partners/not-a-number").status_code == 404
    assert sam.get("/views/nonsense/1").status_code == 404


def test_the_owner_reads_their_record_and_htmx_gets_the_record_block(world, make_client):
    from .conftest import log_in

    client = make_client()
    assert log_in(client, "sam").status_code == 303

    whole = client.get(f"/views/partners/{world.acme}")
    block = client.get(f"/views/partners/{world.acme}", headers=HTMX)

    assert whole.status_code == block.status_code == 200
    assert "<html" in whole.text
    assert "<html" not in block.text
    assert block.text.lstrip().startswith('<div id="record"')
    assert "Acme" in block.text


def test_a_user_without_a_read_grant_on_the_model_is_refused(world, logged_in):
    nobody = logged_in("nobody")  # no roles: no grant on customers

    assert nobody.get(f"/views/partners/{world.acme}").status_code == 403


def test_read_only_users_get_no_edit_or_delete_button(world, logged_in):
    reader = logged_in("tom", "technical_office").get(f"/views/partners/{world.acme}")
    manager = logged_in("meg", "admin").get(f"/views/partners/{world.acme}")

    assert reader.status_code == 200
    assert f"/views/partners/{world.acme}/edit" not in reader.text
    assert "/delete" not in reader.text
    assert f'href="/views/partners/{world.acme}/edit">Edit</a>' in manager.text
    assert f'href="/views/partners/{world.acme}/delete">Delete…</a>' in manager.text


def test_list_rows_link_to_the_record_pages(world, logged_in):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    customers = client.get("/views/partners").text
    notes = client.get(NOTES).text

    assert f'<a href="/partners/{world.acme}">Acme</a>' in customers
    assert f'<a href="{NOTES}/{world.draft}">Call back on Monday</a>' in notes


# --- workflow buttons -----------------------------------------------------------------------


def test_only_the_steps_the_user_may_take_now_are_buttons(world, logged_in):
    nora = logged_in("nora", "dummy_note_taker", "back_office")
    rex = logged_in("rex", "dummy_reviewer", "back_office")

    assert buttons(nora.get(f"{NOTES}/{world.draft}").text) == ["Publish"]
    assert buttons(rex.get(f"{NOTES}/{world.draft}").text) == []  # reviewers do not publish
    assert buttons(nora.get(f"{NOTES}/{world.published}").text) == []
    withdraw = rex.get(f"{NOTES}/{world.published}").text
    assert buttons(withdraw) == ["Withdraw…", "Withdraw"]  # asks for the reason inline
    assert 'for="step-withdraw-reason">Reason</label>' in withdraw


def test_a_vetoed_step_shows_its_reason_next_to_the_buttons(world, logged_in):
    page = logged_in("nora", "dummy_note_taker", "back_office").get(f"{NOTES}/{world.todo}")

    assert buttons(page.text) == []
    held = re.search(r'<ul class="record-held">(.*?)</ul>', page.text, re.S)
    assert held, "no reason shown"
    assert "<strong>Publish</strong> is not possible now" in held[1]
    assert "still says TODO; write it before publishing" in held[1]


def test_a_step_the_user_never_could_take_is_not_explained(world, logged_in):
    page = logged_in("rex", "dummy_reviewer", "back_office").get(f"{NOTES}/{world.todo}")

    assert "record-held" not in page.text


def test_a_step_redraws_the_record_with_its_new_state_and_a_message(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = step(client, world.draft, "publish")

    assert response.status_code == 200
    assert "<html" not in response.text
    assert '<span class="record-state">Published</span>' in response.text
    assert 'hx-swap-oob="beforeend:.toasts"' in response.text
    assert "Call back on Monday: publish done, now published." in response.text
    assert state_of(accord_db, world.draft) == "published"
    assert history_of(accord_db, world.draft) == [("publish", "{}")]
    assert '<h2 id="record-history-title">History</h2>' in response.text


def test_without_htmx_a_step_redirects_to_the_record_with_a_flash(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = step(client, world.draft, "publish", headers={})

    assert response.status_code == 303
    assert response.headers["location"] == f"{NOTES}/{world.draft}"
    page = client.get(f"{NOTES}/{world.draft}").text
    assert "publish done, now published" in page
    assert '<span class="record-state">Published</span>' in page


def test_a_vetoed_step_is_refused_inline_and_changes_nothing(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = step(client, world.todo, "publish")

    assert response.status_code == 422
    assert '<p class="record-problem" role="alert"' in response.text
    assert "Publish refused: the note is empty or still says TODO" in response.text
    assert state_of(accord_db, world.todo) == "draft"
    assert history_of(accord_db, world.todo) == []


def test_a_required_input_is_asked_again_when_blank(world, logged_in, accord_db):
    client = logged_in("rex", "dummy_reviewer", "back_office")

    response = step(client, world.published, "withdraw", reason="   ")

    assert response.status_code == 422
    assert "give &#39;reason&#39; (missing or blank)" in response.text
    assert '<details class="record-step" open>' in response.text
    assert state_of(accord_db, world.published) == "published"

    response = step(client, world.published, "withdraw", reason="Prices changed")

    assert response.status_code == 200
    assert '<span class="record-state">Withdrawn</span>' in response.text
    assert history_of(accord_db, world.published) == [("withdraw", '{"reason": "Prices changed"}')]


def test_a_step_the_user_may_not_take_is_refused_with_403(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = step(client, world.published, "withdraw", reason="I say so")

    assert response.status_code == 403
    assert "lacks the permission &#39;dummy.notes.review&#39;" in response.text
    assert state_of(accord_db, world.published) == "published"


def test_a_record_changed_meanwhile_answers_409(world, logged_in, accord_runtime, monkeypatch):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    def conflict(session, record, name, **inputs):
        raise TransitionConflictError("dummy_note #1", name, "changed meanwhile")

    monkeypatch.setattr(accord_runtime.workflows, "transition", conflict)
    response = step(client, world.draft, "publish")

    assert response.status_code == 409
    assert "changed by someone else; the page is reloaded" in response.text


def test_a_step_that_is_no_longer_possible_answers_409(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = step(client, world.published, "publish")

    assert response.status_code == 409
    assert "Publish is not possible now" in response.text


def test_steps_on_records_the_user_may_not_read_or_that_do_not_exist_are_not_found(
    world, logged_in, accord_db
):
    outsider = logged_in("nat", "dummy_note_taker", "salesperson")  # not Acme's salesperson

    assert step(outsider, world.draft, "publish").status_code == 404
    assert state_of(accord_db, world.draft) == "draft"
    nora = logged_in("nora", "dummy_note_taker", "back_office")
    assert step(nora, world.draft, "shred").status_code == 404
    assert step(nora, 999_999, "publish").status_code == 404


# --- panels ---------------------------------------------------------------------------------


class PanelPlugin:
    def __init__(self, panels):
        self.panels = panels

    @hookimpl
    def accord_record_panels(self):
        return self.panels


def broken(context: RenderContext) -> str:
    context.session.execute(text("SELECT * FROM no_such_table"))
    return "never"


def partner_name(context: RenderContext) -> str:
    # Reads after the broken panel: on PostgreSQL, only a savepoint keeps this working.
    name = context.session.scalar(select(Partner.name).where(Partner.id == context.record.id))
    return f"<p>Tab about {name}</p>"


def test_panels_fill_their_slots_and_a_failing_one_does_not_take_the_page_down(
    world, logged_in, accord_runtime, caplog
):
    accord_runtime.pm.register(
        PanelPlugin(
            [
                RecordPanel("extra.broken", "core_partner", "Broken", broken, slot="side_panels"),
                RecordPanel("extra.tab", "core_partner", "Details", partner_name, slot="tabs"),
                RecordPanel(
                    "extra.call",
                    "core_partner",
                    "Call",
                    lambda context: "<a href='tel:1'>Call</a>",
                    slot="header_actions",
                ),
                RecordPanel("extra.other", "dummy_note", "Elsewhere", lambda c: "<p>not here</p>"),
            ]
        ),
        name="extra",
    )
    client = logged_in("bo", "back_office")

    with caplog.at_level(logging.ERROR, logger="accord.ui"):
        page = client.get(f"/views/partners/{world.acme}")

    assert page.status_code == 200
    assert "This panel could not be shown just now; the error has been logged." in page.text
    assert "record panel 'extra.broken' failed" in caplog.text
    assert "<p>Tab about Acme</p>" in page.text
    assert "<a href='tel:1'>Call</a>" in page.text
    assert '<h2 id="side-2-title">Notes</h2>' in page.text  # the dummy add-on's, after it
    assert "not here" not in page.text  # a panel of another model


def test_an_alert_panel_shows_only_when_it_has_something_to_say(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")
    assert "record-alert" not in client.get(f"{NOTES}/{world.draft}").text

    with accord_db.session(SYSTEM) as session:
        session.get_one(Partner, world.acme).active = False

    page = client.get(f"{NOTES}/{world.draft}").text
    assert '<div class="record-alert" role="note" data-panel="dummy.archived_customer">' in page
    assert "The customer Acme is archived." in page


# --- delete -------------------------------------------------------------------------------


def count_notes(accord_db: Database) -> int:
    with accord_db.session(SYSTEM) as session:
        return session.scalar(select(func.count()).select_from(dummy_note())) or 0


def test_delete_asks_for_confirmation_then_deletes(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    confirm = client.get(f"{NOTES}/{world.todo}/delete")
    assert confirm.status_code == 200
    assert "<h1>Delete TODO ask about the budget?</h1>" in confirm.text
    assert count_notes(accord_db) == 3

    response = client.post(f"{NOTES}/{world.todo}/delete", data={"csrftoken": csrf_token(client)})

    assert response.status_code == 303
    assert response.headers["location"] == NOTES
    assert count_notes(accord_db) == 2
    assert "TODO ask about the budget was deleted." in client.get(NOTES).text


def test_htmx_delete_is_told_where_to_go(world, logged_in, accord_db):
    client = logged_in("nora", "dummy_note_taker", "back_office")

    response = client.post(
        f"{NOTES}/{world.todo}/delete",
        data={"csrftoken": csrf_token(client)},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == NOTES
    assert count_notes(accord_db) == 2


def test_delete_is_refused_to_who_may_not_delete_and_hidden_from_who_may_not_read(
    world, logged_in, accord_db
):
    reviewer = logged_in("rex", "dummy_reviewer", "back_office")  # reads and writes, no delete
    outsider = logged_in("nat", "dummy_note_taker", "salesperson")  # not Acme's salesperson
    token = {"csrftoken": csrf_token(reviewer)}

    assert "/delete" not in reviewer.get(f"{NOTES}/{world.draft}").text
    assert reviewer.get(f"{NOTES}/{world.draft}/delete").status_code == 403
    assert reviewer.post(f"{NOTES}/{world.draft}/delete", data=token).status_code == 403
    outsider_token = {"csrftoken": csrf_token(outsider)}
    assert outsider.post(f"{NOTES}/{world.draft}/delete", data=outsider_token).status_code == 404
    assert count_notes(accord_db) == 3


def test_a_record_others_refer_to_is_not_deleted(world, logged_in, accord_db):
    with accord_db.session(SYSTEM) as session:
        session.add(Partner(kind=PartnerKind.PERSON, name="Wile E.", company_id=world.acme))
    admin = logged_in("meg", "admin")

    response = admin.post(
        f"/views/partners/{world.acme}/delete", data={"csrftoken": csrf_token(admin)}
    )

    assert response.status_code == 409
    assert "Acme cannot be deleted: other records refer to it." in response.text
    with accord_db.session(SYSTEM) as session:
        assert session.get(Partner, world.acme) is not None
