"""The credit block: the confirmation of an order is vetoed when the customer would exceed
its credit line or has invoices overdue beyond the set days; administration may override
it, and the override is kept; without collections the same confirmation goes through. The
orders plugin holds no code about credit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from accord.api import (
    Partner,
    PartnerKind,
    Principal,
    Runtime,
    TransitionBlockedError,
    timeline,
)
from accord.core.audit import history as audit_history
from accord.core.config_file import write_new_config
from accord.core.jobs import run_pending
from accord.core.security import create_user
from accord.plugins.collections.models import CreditLine, CreditOverride
from accord.plugins.collections.receivables import create_invoice
from accord.plugins.orders.api import (
    LineInput,
    Order,
    Product,
    check_availability,
    create_order,
)

TODAY = dt.datetime.now(dt.UTC).date()
BLOCKED = (
    "Garda Srl would exceed its credit line of 5,000.00 EUR: open invoices 3,800.00 + this "
    "order 2,000.00 = 5,800.00 EUR (800.00 EUR over)"
)


@pytest.fixture
def accord_plugins():
    return ["orders", "collections"]


@pytest.fixture
def shop(accord_runtime, accord_db):
    """Garda Srl, Sam's customer, with a credit line of 5,000.00 EUR and an open invoice of
    3,800.00 EUR due in ten days; a pump at 1,000.00 EUR; Bea in the back office confirms
    orders, Ada in administration may override the credit block."""
    with accord_db.session(Principal.system("test")) as session:
        users = {
            login: create_user(session, login, "correct horse battery", roles=roles)
            for login, roles in {
                "sam": ("salesperson",),
                "bea": ("back_office",),
                "ada": ("administration", "back_office"),
            }.items()
        }
        garda = Partner(kind=PartnerKind.COMPANY, name="Garda Srl", owner_id=users["sam"].id)
        pump = Product(
            sku="PUMP-100",
            name="Pump 100",
            product_line="Pumps",
            list_price=Decimal("1000.00"),
            stock=Decimal("100"),
        )
        session.add_all([garda, pump])
        session.flush()
        session.add(CreditLine(partner_id=garda.id, credit_limit=Decimal("5000.00")))
        create_invoice(
            session,
            partner_id=garda.id,
            number="INV-1",
            amount="3800.00",
            currency="EUR",
            issue_date=TODAY - dt.timedelta(days=20),
            due_date=TODAY + dt.timedelta(days=10),
        )
    return {"users": users, "garda": garda.id, "pump": pump.id}


def draft_order(runtime: Runtime, shop, pumps: int) -> int:
    with runtime.db.session(runtime.principal_for(shop["users"]["sam"].id)) as session:
        order = create_order(
            runtime,
            session,
            partner_id=shop["garda"],
            lines=[LineInput(quantity=Decimal(pumps), product_id=shop["pump"])],
        )
        return order.id


def confirm(runtime: Runtime, login: str, shop, order_id: int, **inputs) -> str:
    """Confirm the order as ``login``; the order's state afterwards, or the veto's reason."""
    with runtime.db.session(runtime.principal_for(shop["users"][login].id)) as session:
        order = session.get(Order, order_id)
        check_availability(runtime, session, order)  # the orders plugin's own guard
        try:
            runtime.workflows.transition(session, order, "confirm", **inputs)
        except TransitionBlockedError as blocked:
            session.rollback()
            return f"blocked: {blocked.reason}"
        return order.state


def test_over_the_credit_line_confirmation_is_blocked_naming_the_amounts(accord_runtime, shop):
    order_id = draft_order(accord_runtime, shop, pumps=2)
    assert confirm(accord_runtime, "bea", shop, order_id) == (
        f"blocked: {BLOCKED}. Administration may confirm it anyway with a credit override "
        "and its reason"
    )
    with accord_runtime.db.session(Principal.system("test")) as session:
        assert session.get(Order, order_id).state == "draft"


def test_the_block_is_shown_before_trying(accord_runtime, shop):
    order_id = draft_order(accord_runtime, shop, pumps=2)
    with accord_runtime.db.session(accord_runtime.principal_for(shop["users"]["bea"].id)) as s:
        check_availability(accord_runtime, s, s.get(Order, order_id))
        steps = {
            step.name: step
            for step in accord_runtime.workflows.available(s, s.get(Order, order_id))
        }
    assert not steps["confirm"].allowed
    assert steps["confirm"].reason.startswith(BLOCKED)


def test_within_the_credit_line_the_order_is_confirmed(accord_runtime, shop):
    assert confirm(accord_runtime, "bea", shop, draft_order(accord_runtime, shop, 1)) == "confirmed"


def test_confirmed_orders_not_yet_invoiced_count_against_the_line(accord_runtime, shop):
    assert confirm(accord_runtime, "bea", shop, draft_order(accord_runtime, shop, 1)) == "confirmed"
    assert confirm(accord_runtime, "bea", shop, draft_order(accord_runtime, shop, 1)) == (
        "blocked: Garda Srl would exceed its credit line of 5,000.00 EUR: open invoices "
        "3,800.00 + confirmed orders 1,000.00 + this order 1,000.00 = 5,800.00 EUR "
        "(800.00 EUR over). Administration may confirm it anyway with a credit override and "
        "its reason"
    )


def test_an_invoice_overdue_beyond_the_set_days_blocks(accord_runtime, shop):
    with accord_runtime.db.session(Principal.system("test")) as session:
        create_invoice(
            session,
            partner_id=shop["garda"],
            number="INV-OLD",
            amount="120.50",
            currency="EUR",
            issue_date=TODAY - dt.timedelta(days=90),
            due_date=TODAY - dt.timedelta(days=45),
        )
    assert confirm(accord_runtime, "bea", shop, draft_order(accord_runtime, shop, 1)) == (
        "blocked: Garda Srl has invoices overdue by more than 30 days (120.50 EUR): INV-OLD "
        "120.50 EUR 45 days overdue. Administration may confirm it anyway with a credit "
        "override and its reason"
    )


def test_the_back_office_may_not_override(accord_runtime, shop):
    order_id = draft_order(accord_runtime, shop, pumps=2)
    outcome = confirm(accord_runtime, "bea", shop, order_id, credit_override="known customer")
    assert outcome == (
        f"blocked: {BLOCKED}. user 'bea' (back_office) may not override the credit block: it "
        "takes the permission 'collections.override_credit_block'"
    )


def test_administration_overrides_and_the_override_is_audited(accord_runtime, shop):
    order_id = draft_order(accord_runtime, shop, pumps=2)
    reason = "paid 3,800.00 by wire this morning"
    assert confirm(accord_runtime, "ada", shop, order_id, credit_override=reason) == "confirmed"
    run_pending(accord_runtime)
    ada = shop["users"]["ada"]
    with accord_runtime.db.session(Principal.system("test")) as session:
        [history] = accord_runtime.workflows.history(session, session.get(Order, order_id))
        assert history.actor == f"user:{ada.id}:ada"
        assert reason in history.inputs
        override = session.scalars(select(CreditOverride)).one()
        assert (override.order_id, override.actor, override.reason) == (
            order_id,
            f"user:{ada.id}:ada",
            reason,
        )
        assert override.block.startswith("Garda Srl would exceed its credit line")
        (audited,) = [
            entry
            for entry in audit_history(session, "collections_credit_override", str(override.id))
            if entry.field == "reason"
        ]
        assert reason in audited.new_value
        subjects = [activity.subject for activity in timeline(session, shop["garda"])]
        order = session.get(Order, order_id)
        assert f"Credit block overridden by ada to confirm order {order.number}" in subjects


def test_without_collections_the_same_confirmation_succeeds(
    accord_runtime, accord_database_url, tmp_path, shop
):
    order_id = draft_order(accord_runtime, shop, pumps=2)
    assert confirm(accord_runtime, "bea", shop, order_id).startswith("blocked: ")
    # The same database, collections disabled: its data stays, its veto is gone.
    config = tmp_path / "orders-only" / "accord.toml"
    config.parent.mkdir()
    write_new_config(config, database_url=accord_database_url, plugins=["orders"])
    orders_only = Runtime(config)
    try:
        assert confirm(orders_only, "bea", shop, order_id) == "confirmed"
    finally:
        orders_only.close()


def test_in_one_transaction_the_second_confirmation_sees_the_first(accord_runtime, shop):
    """The credit check remembers positions within a session (a board asks once per card);
    a confirmation written meanwhile must still count."""
    first, second = draft_order(accord_runtime, shop, 1), draft_order(accord_runtime, shop, 1)
    with accord_runtime.db.session(accord_runtime.principal_for(shop["users"]["bea"].id)) as s:
        orders = [s.get(Order, first), s.get(Order, second)]
        for order in orders:
            check_availability(accord_runtime, s, order)
        before = {o.id: accord_runtime.workflows.available(s, o)[0].allowed for o in orders}
        assert before == {first: True, second: True}  # each alone fits in the line
        accord_runtime.workflows.transition(s, orders[0], "confirm")
        steps = {step.name: step for step in accord_runtime.workflows.available(s, orders[1])}
        assert not steps["confirm"].allowed
        assert "confirmed orders 1,000.00 + this order 1,000.00" in steps["confirm"].reason
        with pytest.raises(TransitionBlockedError):
            accord_runtime.workflows.transition(s, orders[1], "confirm")


def test_the_order_board_checks_each_customer_s_credit_once(accord_runtime, shop):
    """Twelve draft orders of one customer on the board: its credit is read once, not once
    per card (and the cards still say which may be confirmed)."""
    from sqlalchemy import event
    from starlette.testclient import TestClient

    from accord.ui import create_app

    ids = [draft_order(accord_runtime, shop, 1) for _ in range(12)]
    with accord_runtime.db.session(Principal.system("test")) as session:
        for order_id in ids:  # the orders' own guard passes: the veto is asked on each card
            check_availability(accord_runtime, session, session.get(Order, order_id))
    client = TestClient(create_app(accord_runtime), follow_redirects=False)
    client.get("/login")
    client.post(
        "/login",
        data={
            "login": "bea",
            "password": "correct horse battery",
            "csrftoken": client.cookies["csrftoken"],
        },
    )
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(accord_runtime.db.engine, "before_cursor_execute", seen)
    try:
        page = client.get("/boards/orders.order")
    finally:
        event.remove(accord_runtime.db.engine, "before_cursor_execute", seen)
    assert page.status_code == 200, page.text
    # each order alone fits in the line: every card offers its confirmation
    assert all(f"/boards/orders.order/{order_id}/confirm" in page.text for order_id in ids)
    # One position for the customer: its open invoices and its orders not invoiced yet.
    credit_reads = [s for s in statements if "collections_invoice" in s]
    assert len(credit_reads) == 2, credit_reads
