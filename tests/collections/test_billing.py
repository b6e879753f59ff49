"""A delivered order is billed once: an invoice for its amount, due after the payment days,
and the order moves on to invoiced through its workflow."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from accord.api import Partner, PartnerKind, Principal
from accord.plugins.collections.models import Invoice, InvoiceOrigin, InvoiceStatus
from accord.plugins.orders.api import (
    LineInput,
    Order,
    Product,
    ShipmentInput,
    check_availability,
    confirm,
    create_order,
    ship,
)
from accord.testing import run_jobs


@pytest.fixture
def accord_extra_settings():
    return {"collections": {"payment_days": 45}}


@pytest.fixture
def delivered(accord_runtime, accord_db):
    runtime = accord_runtime
    with accord_db.session(Principal.system("test")) as session:
        garda = Partner(kind=PartnerKind.COMPANY, name="Garda Srl")
        pump = Product(
            sku="PUMP-100",
            name="Pump 100",
            product_line="Pumps",
            list_price=Decimal("1000.00"),
            stock=Decimal("10"),
        )
        session.add_all([garda, pump])
        session.flush()
        order = create_order(
            runtime,
            session,
            partner_id=garda.id,
            lines=[
                LineInput(quantity=Decimal(3), product_id=pump.id, discount_percent=Decimal("10"))
            ],
        )
        check_availability(runtime, session, order)
        confirm(runtime, session, order)
        [line] = order.lines
        ship(runtime, session, order, ShipmentInput("TRK-1", {line.id: Decimal(3)}))
        runtime.workflows.transition(session, order, "deliver")
        order_id = order.id
    run_jobs(runtime)
    return order_id


def test_a_delivered_order_is_invoiced_once(accord_runtime, delivered):
    run_jobs(accord_runtime)  # nothing more to do: the event was handled
    today = dt.datetime.now(dt.UTC).date()
    with accord_runtime.db.session(Principal.system("test")) as session:
        order = session.get(Order, delivered)
        [invoice] = session.scalars(select(Invoice)).all()
        assert (invoice.number, invoice.order_id, invoice.origin) == (
            f"INV-{order.number}",
            order.id,
            InvoiceOrigin.ORDER,
        )
        assert invoice.amount == Decimal("2700.00")
        assert (invoice.issue_date, invoice.due_date) == (today, today + dt.timedelta(days=45))
        assert invoice.status == InvoiceStatus.OPEN
        assert order.state == "invoiced"
