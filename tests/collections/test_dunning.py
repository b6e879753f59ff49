"""Dunning: the scheduled run mails level 1, later level 2, to the customer through the
outbox and a real SMTP server, the reply going to the right chaser; each reminder is on the
customer's timeline with a follow-up task for the chaser, and no level is sent twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from accord.api import Activity, Partner, PartnerKind, Principal, enqueue
from accord.core.jobs import JobRunner
from accord.core.security import create_user
from accord.plugins.collections.dunning import RUN_JOB
from accord.plugins.collections.models import DunningNotice
from accord.plugins.collections.receivables import create_invoice
from accord.testing import run_jobs

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def accord_plugins():
    return ["orders", "collections"]


@pytest.fixture
def chaser():
    return "administration_then_agent"


@pytest.fixture
def accord_extra_settings(smtp_server, chaser):
    return {**smtp_server.settings, "collections": {"chaser": chaser, "agent_from_level": 2}}


@pytest.fixture
def overdue(accord_runtime, accord_db):
    """Alpine Srl, the agent Ugo's customer, owes 1,200.00 EUR due eight days ago; Ada
    works in administration."""
    with accord_db.session(Principal.system("test")) as session:
        ugo = create_user(session, "ugo", "correct horse battery", roles=("agent",))
        ada = create_user(session, "ada", "correct horse battery", roles=("administration",))
        ugo.name, ugo.email = "Ugo Rossi", "ugo@agenzia.example"
        ada.name, ada.email = "Ada Byron", "ada@company.example"
        alpine = Partner(
            kind=PartnerKind.COMPANY,
            name="Alpine Srl",
            email="accounts@alpine.example",
            owner_id=ugo.id,
        )
        session.add(alpine)
        session.flush()
        create_invoice(
            session,
            partner_id=alpine.id,
            number="INV-7",
            amount="1200.00",
            currency="EUR",
            issue_date=TODAY - dt.timedelta(days=38),
            due_date=TODAY - dt.timedelta(days=8),
        )
    return {"ugo": ugo, "ada": ada, "alpine": alpine.id}


def run_dunning_for(runtime, day: dt.date) -> None:
    with runtime.db.session(Principal.system("test")) as session:
        enqueue(session, RUN_JOB, {"today": day.isoformat()})
    run_jobs(runtime)


def activities(runtime, partner_id):
    with runtime.db.session(Principal.system("test")) as session:
        return session.scalars(
            select(Activity)
            .where(Activity.partner_id == partner_id, Activity.source == "collections")
            .order_by(Activity.id)
        ).all()


def test_level_1_then_level_2_to_the_right_chaser_never_twice(accord_runtime, overdue, smtp_server):
    # The daily schedule runs today: the invoice is 8 days late, level 1 (7 days) is due.
    runner = JobRunner(accord_runtime)
    runner.run_pending()
    runner.run_pending()  # the same day again: nothing more
    assert len(smtp_server.messages) == 1
    first = smtp_server.messages[0]
    assert first["To"] == "accounts@alpine.example"
    assert first["Subject"] == "Reminder: invoice INV-7 is overdue"
    assert first["Reply-To"] == "ada@company.example"  # administration chases level 1
    body = first.get_content()
    assert "Dear Alpine Srl" in body
    assert "1,200.00 EUR" in body
    assert "Ada Byron" in body

    # Two weeks later the invoice is 22 days late: level 2 (21 days), chased by the agent.
    later = TODAY + dt.timedelta(days=14)
    run_dunning_for(accord_runtime, later)
    run_dunning_for(accord_runtime, later)
    run_dunning_for(accord_runtime, later + dt.timedelta(days=1))
    assert len(smtp_server.messages) == 2
    second = smtp_server.messages[1]
    assert second["Subject"] == "Second reminder: invoice INV-7 is 22 days overdue"
    assert second["Reply-To"] == "ugo@agenzia.example"
    assert "Ugo Rossi" in second.get_content()

    ada, ugo = overdue["ada"].id, overdue["ugo"].id
    logged = [
        (a.kind, a.subject, a.user_id, a.done)
        for a in activities(accord_runtime, overdue["alpine"])
    ]
    assert logged == [
        ("email", "Reminder 1 sent for invoice INV-7 (1,200.00 EUR, 8 days overdue)", ada, True),
        (
            "call",
            "Follow up reminder 1 of invoice INV-7 (1,200.00 EUR, 8 days overdue)",
            ada,
            False,
        ),
        ("email", "Reminder 2 sent for invoice INV-7 (1,200.00 EUR, 22 days overdue)", ugo, True),
        (
            "call",
            "Follow up reminder 2 of invoice INV-7 (1,200.00 EUR, 22 days overdue)",
            ugo,
            False,
        ),
    ]
    with accord_runtime.db.session(Principal.system("test")) as session:
        levels = session.scalars(select(DunningNotice.level).order_by(DunningNotice.level)).all()
    assert levels == [1, 2]


@pytest.mark.parametrize("chaser", ["salesperson"])
def test_the_salesperson_chases_when_the_setting_says_so(accord_runtime, overdue, smtp_server):
    run_dunning_for(accord_runtime, TODAY)
    assert smtp_server.messages[0]["Reply-To"] == "ugo@agenzia.example"
    [_, task] = activities(accord_runtime, overdue["alpine"])
    assert (task.user_id, task.done) == (overdue["ugo"].id, False)
    assert task.due_at.date() == TODAY + dt.timedelta(days=3)


def test_a_paid_invoice_is_not_chased(accord_runtime, overdue, smtp_server):
    from accord.plugins.collections.models import Invoice
    from accord.plugins.collections.receivables import register_payment

    with accord_runtime.db.session(Principal.system("test")) as session:
        invoice = session.scalars(select(Invoice)).one()
        register_payment(session, invoice.id, "1200.00", TODAY)
    run_dunning_for(accord_runtime, TODAY)
    assert smtp_server.messages == []


def test_one_mail_per_customer_and_level_lists_its_overdue_invoices(
    accord_runtime, overdue, smtp_server
):
    # Besides INV-7 (8 days late), Alpine owes INV-8, 10 days late, and INV-9, due in 5
    # days; Baltic owes INV-20, 9 days late.
    with accord_runtime.db.session(Principal.system("test")) as session:
        baltic = Partner(kind=PartnerKind.COMPANY, name="Baltic AB", email="ap@baltic.example")
        session.add(baltic)
        session.flush()
        for partner_id, number, amount, due in (
            (overdue["alpine"], "INV-8", "300.00", TODAY - dt.timedelta(days=10)),
            (overdue["alpine"], "INV-9", "90.00", TODAY + dt.timedelta(days=5)),
            (baltic.id, "INV-20", "50.00", TODAY - dt.timedelta(days=9)),
        ):
            create_invoice(
                session,
                partner_id=partner_id,
                number=number,
                amount=amount,
                currency="EUR",
                issue_date=due - dt.timedelta(days=30),
                due_date=due,
            )
    run_dunning_for(accord_runtime, TODAY)
    run_dunning_for(accord_runtime, TODAY)  # again the same day: nothing more
    by_address = {message["To"]: message for message in smtp_server.messages}
    assert len(smtp_server.messages) == 2
    alpine = by_address["accounts@alpine.example"]
    assert alpine["Subject"] == "Reminder: 2 invoices are overdue"
    body = alpine.get_content()
    assert "the following 2 invoices are still open after their due dates" in body
    # oldest due first, then the total; the invoice not due yet is not in it
    assert body.index("Invoice INV-8, issued") < body.index("Invoice INV-7, issued")
    assert "(10 days ago): 300.00 EUR still open of 300.00 EUR" in body
    assert "Still open in all: 1,500.00 EUR" in body
    assert "INV-9" not in body
    assert by_address["ap@baltic.example"]["Subject"] == "Reminder: invoice INV-20 is overdue"
    [email, task] = activities(accord_runtime, overdue["alpine"])[:2]
    assert email.subject == (
        "Reminder 1 sent for 2 invoices (1,500.00 EUR, up to 10 days overdue): INV-8, INV-7"
    )
    assert task.subject.startswith("Follow up reminder 1 of 2 invoices")

    # Twelve days later INV-8 is 22 days late (level 2) while INV-9, now 7 days late,
    # gets its first reminder: two levels, two mails to Alpine (INV-7, 20 days late, waits
    # for level 2 at 21); Baltic's INV-20, 21 days late, gets its second.
    later = TODAY + dt.timedelta(days=12)
    run_dunning_for(accord_runtime, later)
    run_dunning_for(accord_runtime, later)
    subjects = sorted((m["To"], m["Subject"]) for m in smtp_server.messages[2:])
    assert subjects == [
        ("accounts@alpine.example", "Reminder: invoice INV-9 is overdue"),
        ("accounts@alpine.example", "Second reminder: invoice INV-8 is 22 days overdue"),
        ("ap@baltic.example", "Second reminder: invoice INV-20 is 21 days overdue"),
    ]
    with accord_runtime.db.session(Principal.system("test")) as session:
        notices = session.execute(
            select(DunningNotice.invoice_id, DunningNotice.level).order_by(
                DunningNotice.invoice_id, DunningNotice.level
            )
        ).all()
    # level 1 of INV-7, -8, -9 and -20, level 2 of INV-8 and INV-20: each once
    assert len(notices) == len(set(notices)) == 6
