"""The customer 360 page (/partners/<id>): the header, the Edit link and the log form only for
who may change the customer, a 404 for a customer the user may not read (its timeline and
its log form too), the timeline newest first in keyset pages without gaps or duplicates,
the panels plugins add in their slots (a failing one isolated), and logging a note, call,
meeting or task with its validation and its access check."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from accord.api import RecordPanel, RenderContext, hookimpl
from accord.core.access import Principal
from accord.core.activities import Activity, ActivityKind, log_activity
from accord.core.db import Database
from accord.core.partners import Address, Partner, PartnerExternalId, PartnerKind
from accord.core.security import TeamKind, create_team, create_user
from accord.ui import timeline

from .conftest import PASSWORD, csrf_token, log_in

SYSTEM = Principal.system("test")
HTMX = {"HX-Request": "true"}


@dataclass(frozen=True)
class Book:
    acme: int
    anna: int
    other: int
    sam: int


@pytest.fixture
def book(accord_db: Database) -> Book:
    """Sam (salesperson, North) owns Acme, a company where Anna Bell works; Sue's customer
    Globex is not his. Bea is in the back office, Tom in the technical office (read only)."""
    with accord_db.session(SYSTEM) as session:
        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        south = create_team(session, "South", TeamKind.DIRECT_SALES)
        sam = create_user(session, "sam", PASSWORD, roles=["salesperson"], team=north)
        sam.name = "Sam Seller"
        sue = create_user(session, "sue", PASSWORD, roles=["salesperson"], team=south)
        create_user(session, "bea", PASSWORD, roles=["back_office"])
        create_user(session, "tom", PASSWORD, roles=["technical_office"])
        acme = Partner(
            kind=PartnerKind.COMPANY,
            name="Acme Tools",
            email="info@acme.example",
            phone="+39 02 1234",
            website="acme.example",
            vat_number="IT01234567890",
            owner_id=sam.id,
            team_id=north.id,
        )
        acme.addresses.append(
            Address(street="Via Roma 1", city="Milan", postcode="20100", country="IT")
        )
        acme.external_ids.append(PartnerExternalId(system="ERP", value="C-0042"))
        session.add(acme)
        session.flush()
        anna = Partner(
            kind=PartnerKind.PERSON, name="Anna Bell", company_id=acme.id, owner_id=sam.id
        )
        other = Partner(kind=PartnerKind.COMPANY, name="Globex", owner_id=sue.id, team_id=south.id)
        session.add_all([anna, other])
        session.flush()
        log_activity(session, other.id, ActivityKind.NOTE, "Globex secret plan")
        return Book(acme.id, anna.id, other.id, sam.id)


def client_for(make_client: Callable[..., TestClient], login: str) -> TestClient:
    client = make_client()
    assert log_in(client, login).status_code == 303
    return client


def entries(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'id="activity-(\d+)"', page)]


def activity_count(accord_db: Database, partner_id: int) -> int:
    with accord_db.session(SYSTEM) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Activity).where(Activity.partner_id == partner_id)
            )
            or 0
        )


def test_owner_sees_the_header_the_people_and_the_edit_link(book, make_client):
    sam = client_for(make_client, "sam")

    page = sam.get(f"/partners/{book.acme}")

    assert page.status_code == 200
    text = page.text
    assert "<h1>Acme Tools</h1>" in text
    assert '<a href="mailto:info@acme.example">info@acme.example</a>' in text
    assert '<a href="tel:+39021234">+39 02 1234</a>' in text
    assert 'href="https://acme.example"' in text
    assert "IT01234567890" in text
    assert "C-0042" in text
    assert "Via Roma 1" in text
    assert "<dd>Sam Seller</dd>" in text
    assert "<dd>North</dd>" in text
    assert f'<a href="/partners/{book.anna}">Anna Bell</a>' in text
    assert f'href="/views/partners/{book.acme}/edit"' in text
    assert 'name="subject"' in text  # the log form

    person = sam.get(f"/partners/{book.anna}").text
    assert f'works for <a href="/partners/{book.acme}">Acme Tools</a>' in person


def test_a_customer_the_user_may_not_read_is_not_found_nor_its_timeline(
    book, make_client, accord_db
):
    sam = client_for(make_client, "sam")

    assert sam.get(f"/partners/{book.other}").status_code == 404
    assert sam.get(f"/partners/{book.other}/timeline", headers=HTMX).status_code == 404
    posted = sam.post(
        f"/partners/{book.other}/activities",
        data={"csrftoken": csrf_token(sam), "kind": "note", "subject": "sneaky"},
    )

    assert posted.status_code == 404
    assert "Globex" not in posted.text
    assert activity_count(accord_db, book.other) == 1
    assert sam.get("/partners/999999").status_code == 404


def test_back_office_reads_every_customer_and_its_timeline(book, make_client):
    bea = client_for(make_client, "bea")

    page = bea.get(f"/partners/{book.other}")

    assert page.status_code == 200
    assert "Globex secret plan" in page.text


def test_a_read_only_user_gets_no_edit_link_and_no_log_form(book, make_client, accord_db):
    tom = client_for(make_client, "tom")

    page = tom.get(f"/partners/{book.acme}")

    assert page.status_code == 200
    assert "/edit" not in page.text
    assert 'name="subject"' not in page.text
    posted = tom.post(
        f"/partners/{book.acme}/activities",
        data={"csrftoken": csrf_token(tom), "kind": "note", "subject": "Called"},
        headers=HTMX,
    )
    assert posted.status_code == 403
    assert "Your roles do not let you add to this customer" in posted.text
    assert activity_count(accord_db, book.acme) == 0


@pytest.mark.parametrize("size", [1, 7, timeline.PAGE_SIZE])
def test_timeline_pages_hold_every_entry_once_newest_first(
    book, make_client, accord_db, monkeypatch, size
):
    """Sixty entries, most of them at the very same moment (an import, a batch of mails):
    following the "revealed" links from page to page yields each entry once, in order."""
    moment = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    with accord_db.session(SYSTEM) as session:
        for n in range(60):
            at = moment if n % 4 else moment - dt.timedelta(minutes=n)
            log_activity(session, book.acme, ActivityKind.CALL, f"call {n}", occurred_at=at)
        expected = list(
            session.scalars(
                select(Activity.id)
                .where(Activity.partner_id == book.acme)
                .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            )
        )
    sam = client_for(make_client, "sam")
    monkeypatch.setattr(timeline, "PAGE_SIZE", size)

    page = sam.get(f"/partners/{book.acme}").text
    seen = entries(page)
    assert len(seen) == size
    for _ in range(100):
        more = re.search(r'hx-get="(/partners/\d+/timeline\?before=[^"]+)"', page)
        if more is None:
            break
        fragment = sam.get(html.unescape(more[1]), headers=HTMX)
        assert fragment.status_code == 200
        page = fragment.text
        assert "<html" not in page
        seen += entries(page)

    assert seen == expected
    assert len(set(seen)) == 60


def test_timeline_shows_kind_who_when_and_tasks(book, make_client, accord_db):
    now = dt.datetime.now(dt.UTC)
    with accord_db.session(SYSTEM) as session:
        log_activity(
            session,
            book.acme,
            ActivityKind.MEETING,
            "Visit at the plant",
            body="Saw the new line",
            user_id=book.sam,
            occurred_at=now - dt.timedelta(hours=3),
        )
        log_activity(
            session,
            book.acme,
            ActivityKind.TASK,
            "Send the offer",
            user_id=book.sam,
            due_at=now - dt.timedelta(days=2),
        )
    sam = client_for(make_client, "sam")

    text = sam.get(f"/partners/{book.acme}").text

    assert text.index("Send the offer") < text.index("Visit at the plant")  # newest first
    assert "Meeting" in text
    assert "by Sam Seller" in text
    assert "(3 hours ago)" in text
    assert "Saw the new line" in text
    assert "Overdue" in text
    assert "(2 days ago)" in text


def test_a_bad_timeline_cursor_is_a_clear_400(book, make_client):
    sam = client_for(make_client, "sam")

    answer = sam.get(f"/partners/{book.acme}/timeline?before=yesterday", headers=HTMX)

    assert answer.status_code == 400


class Panels:
    """A plugin adding one panel to each slot of the customer page, and one that breaks."""

    @hookimpl
    def accord_record_panels(self):
        def says(text):
            return lambda context: f"<p>{text} {html.escape(context.record.name)}</p>"

        def broken(context: RenderContext) -> str:
            context.session.execute(select(func.count()).select_from(Partner)).scalar()
            raise RuntimeError("the credit service is down")

        return [
            RecordPanel("extra.call", "core_partner", "Call", says("Call"), slot="header_actions"),
            RecordPanel(
                "extra.credit", "core_partner", "Credit", says("Over credit:"), slot="alerts"
            ),
            RecordPanel("extra.orders", "core_partner", "Orders", says("Orders of"), slot="tabs"),
            RecordPanel("extra.stats", "core_partner", "Stats", says("Stats of"), order=1),
            RecordPanel("extra.broken", "core_partner", "Broken", broken, order=2),
            RecordPanel("extra.silent", "core_partner", "Silent", lambda context: ""),
            RecordPanel("extra.lead_panel", "leads_lead", "Elsewhere", says("Not here")),
        ]


def test_panels_of_every_plugin_render_in_their_slots_and_a_broken_one_is_isolated(
    book, make_client, accord_runtime, caplog
):
    accord_runtime.pm.register(Panels(), name="extra")
    sam = client_for(make_client, "sam")

    with caplog.at_level(logging.ERROR, logger="accord.ui"):
        page = sam.get(f"/partners/{book.acme}")

    assert page.status_code == 200
    text = page.text
    actions = text[text.index('class="record-actions"') : text.index('class="record-facts"')]
    assert "<p>Call Acme Tools</p>" in actions
    alerts = text[text.index('class="record-alerts"') :]
    assert alerts.index("Over credit: Acme Tools") < alerts.index('id="timeline"')
    assert '<a href="#panel-extra-orders">Orders</a>' in text
    assert "Orders of Acme Tools" in text
    side = text[text.index('class="record-side"') :]
    assert side.index("Stats of Acme Tools") < side.index("Broken")
    assert "This panel could not be shown just now" in side
    assert "No notes yet." in side  # the dummy add-on's panel still renders after the failure
    assert "Silent" not in text
    assert "Not here" not in text
    assert "record panel 'extra.broken' failed" in caplog.text


def test_logging_a_note_puts_it_on_top_of_the_timeline(book, make_client, accord_db):
    with accord_db.session(SYSTEM) as session:
        log_activity(session, book.acme, ActivityKind.CALL, "An older call")
    sam = client_for(make_client, "sam")

    answer = sam.post(
        f"/partners/{book.acme}/activities",
        data={
            "csrftoken": csrf_token(sam),
            "kind": "note",
            "subject": "Wants a discount",
            "body": "10%",
        },
        headers=HTMX,
    )

    assert answer.status_code == 200
    assert "<html" not in answer.text
    assert answer.text.index("Wants a discount") < answer.text.index("An older call")
    assert "Note logged: Wants a discount" in answer.text
    with accord_db.session(SYSTEM) as session:
        note = session.scalars(select(Activity).where(Activity.subject == "Wants a discount")).one()
        assert (note.kind, note.body, note.user_id, note.done) == ("note", "10%", book.sam, True)


def test_logging_without_javascript_redirects_back_with_a_message(book, make_client):
    sam = client_for(make_client, "sam")

    answer = sam.post(
        f"/partners/{book.acme}/activities",
        data={
            "csrftoken": csrf_token(sam),
            "kind": "task",
            "subject": "Call back",
            "due": "2030-01-15",
        },
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/partners/{book.acme}#timeline"
    page = sam.get(f"/partners/{book.acme}").text
    assert "Task logged: Call back" in page
    assert "Open" in page
    assert '<time datetime="2030-01-15">15 Jan 2030</time>' in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "note", "subject": ""}, "subject", "Give it a subject"),
        ({"kind": "note", "subject": "x" * 201}, "subject", "At most 200 characters, got 201"),
        ({"kind": "task", "subject": "Call back"}, "due", "A task needs a due date."),
        ({"kind": "task", "subject": "Call back", "due": "15/01/2030"}, "due", "YYYY-MM-DD"),
        ({"kind": "note", "subject": "Hi", "due": "2030-01-15"}, "due", "Only a task has"),
        ({"kind": "system", "subject": "Fake"}, "kind", "Choose what to log"),
    ],
)
def test_a_bad_log_form_says_what_is_wrong_next_to_the_field_and_saves_nothing(
    book, make_client, accord_db, data, field, message
):
    sam = client_for(make_client, "sam")

    answer = sam.post(
        f"/partners/{book.acme}/activities",
        data={"csrftoken": csrf_token(sam), **data},
        headers=HTMX,
    )

    assert answer.status_code == 422
    error = re.search(
        rf'<small id="log-{field}-error" class="field-error">([^<]*)</small>', answer.text
    )
    assert error is not None, answer.text
    assert message in html.unescape(error[1])
    assert f'aria-describedby="log-{field}-error"' in answer.text
    assert activity_count(accord_db, book.acme) == 0
    if data.get("subject"):
        assert f'value="{data["subject"]}"' in answer.text  # what was typed is kept


def test_the_log_form_needs_its_csrf_token(book, make_client, accord_db):
    sam = client_for(make_client, "sam")

    answer = sam.post(f"/partners/{book.acme}/activities", data={"kind": "note", "subject": "x"})

    assert answer.status_code == 403
    assert activity_count(accord_db, book.acme) == 0


# --- marking a task done ----------------------------------------------------------------------


@pytest.fixture
def task(book: Book, accord_db: Database) -> int:
    """Sam's task on Acme, due yesterday (so overdue), and a note beside it."""
    with accord_db.session(SYSTEM) as session:
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        log_activity(session, book.acme, ActivityKind.NOTE, "Met at the fair", user_id=book.sam)
        return log_activity(
            session,
            book.acme,
            ActivityKind.TASK,
            "Send the price list",
            user_id=book.sam,
            due_at=yesterday,
        ).id


def done_path(book: Book, activity_id: int) -> str:
    return f"/partners/{book.acme}/activities/{activity_id}/done"


def my_tasks(client: TestClient) -> str:
    return client.get("/").text.split('id="widget-core-my_tasks"')[1].split("</article>")[0]


def test_the_owner_marks_a_task_done_and_it_leaves_my_tasks(book, task, make_client, accord_db):
    sam = client_for(make_client, "sam")
    page = sam.get(f"/partners/{book.acme}").text
    assert page.count('class="timeline__done"') == 1  # the task, not the note
    assert "Send the price list" in my_tasks(sam)

    answer = sam.post(done_path(book, task), data={"csrftoken": csrf_token(sam)}, headers=HTMX)

    assert answer.status_code == 200
    assert entries(answer.text) == [task]  # htmx swaps this entry only
    assert "timeline__entry--done" in answer.text
    assert '<span class="badge badge--done">Done</span>' in answer.text
    assert "Overdue" not in answer.text
    assert "timeline__done" not in answer.text  # no button on a done task
    with accord_db.session(SYSTEM) as session:
        assert session.get_one(Activity, task).done
    assert "Send the price list" not in my_tasks(sam)
    again = sam.post(done_path(book, task), data={"csrftoken": csrf_token(sam)}, headers=HTMX)
    assert again.status_code == 200  # done twice is still done


def test_without_javascript_marking_done_redirects_back_with_a_message(book, task, make_client):
    sam = client_for(make_client, "sam")

    answer = sam.post(done_path(book, task), data={"csrftoken": csrf_token(sam)})

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/partners/{book.acme}#activity-{task}"
    assert "Done: Send the price list" in sam.get(answer.headers["location"]).text


def test_who_may_not_change_the_customer_gets_no_button_and_403(book, task, make_client, accord_db):
    tom = client_for(make_client, "tom")  # reads every customer, changes none
    assert "timeline__done" not in tom.get(f"/partners/{book.acme}").text

    refused = tom.post(done_path(book, task), data={"csrftoken": csrf_token(tom)}, headers=HTMX)

    assert refused.status_code == 403
    with accord_db.session(SYSTEM) as session:
        assert not session.get_one(Activity, task).done


def test_a_task_of_a_customer_the_user_may_not_read_is_not_found(book, make_client, accord_db):
    with accord_db.session(SYSTEM) as session:
        globex_task = log_activity(
            session,
            book.other,
            ActivityKind.TASK,
            "Globex follow-up",
            due_at=dt.datetime.now(dt.UTC),
        ).id
    sam = client_for(make_client, "sam")
    token = csrf_token(sam)

    assert (
        sam.post(
            f"/partners/{book.other}/activities/{globex_task}/done", data={"csrftoken": token}
        ).status_code
        == 404
    )
    # nor through a customer he may read
    assert sam.post(done_path(book, globex_task), data={"csrftoken": token}).status_code == 404
    with accord_db.session(SYSTEM) as session:
        assert not session.get_one(Activity, globex_task).done


def test_only_a_task_is_marked_done_and_only_with_the_csrf_token(
    book, task, make_client, accord_db
):
    with accord_db.session(SYSTEM) as session:
        note = (
            session.scalars(
                select(Activity).where(
                    Activity.kind == ActivityKind.NOTE, Activity.partner_id == book.acme
                )
            )
            .one()
            .id
        )
    sam = client_for(make_client, "sam")

    assert sam.post(done_path(book, note), data={"csrftoken": csrf_token(sam)}).status_code == 400
    assert sam.post(done_path(book, task)).status_code == 403
    with accord_db.session(SYSTEM) as session:
        assert not session.get_one(Activity, task).done
