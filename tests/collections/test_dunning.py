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
