"""Invoices made from delivered orders: the subscriber of ``orders.order_delivered`` bills
the order once (an order has at most one invoice), due after the set payment days, and
moves the order on to ``invoiced`` through its workflow."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import Event, runtime_of, utcnow
from accord.plugins.orders.api import Order, order_amount

from .models import Invoice, InvoiceOrigin
from .receivables import create_invoice
from .settings import settings_of

DELIVERED = "orders.order_delivered"
log = logging.getLogger("accord.collections")


def invoice_number(order: Order) -> str:
    return f"INV-{order.number}"


def invoice_delivered_order(session: Session, event: Event) -> None:
    order = session.get(Order, event.payload["order_id"])
    if order is None:
        return
    if session.scalar(select(Invoice.id).where(Invoice.order_id == order.id)) is not None:
        return  # billed already: the event was delivered twice
    amount = order_amount(order)
    if amount <= 0:
        log.info("order %s was delivered with nothing to bill", order.number)
        return
    settings = settings_of(session)
    today = utcnow().date()
    create_invoice(
        session,
        partner_id=order.partner_id,
        number=invoice_number(order),
        amount=amount,
        currency=order.currency,
        issue_date=today,
        due_date=today + dt.timedelta(days=settings.payment_days),
        order_id=order.id,
        origin=InvoiceOrigin.ORDER,
    )
    engine = runtime_of(session).workflows
    if any(step.name == "invoice" and step.allowed for step in engine.available(session, order)):
        engine.transition(session, order, "invoice")
