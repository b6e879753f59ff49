"""Invoices and payments: what customers owe and what they paid. A payment locks its
invoice's row, so two cashiers booking against one invoice at once never lose one of the
two, and an overpayment is refused naming what is left to pay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import AccordError, Partner, utcnow

from .models import Invoice, InvoiceOrigin, InvoiceStatus, Payment

CENT = Decimal("0.01")


class ReceivableError(AccordError):
    """An invoice or a payment that cannot be recorded; the message says why and where."""


def money(value: Decimal) -> str:
    """``12,345.60``: how messages and pages show an amount."""
    return f"{value:,.2f}"


def as_amount(value: Decimal | int | str, what: str) -> Decimal:
    """A positive amount with at most two decimals, or a ReceivableError naming ``what``."""
    try:
        amount = Decimal(str(value).strip())
    except ArithmeticError:
        raise ReceivableError(f"{what}: {str(value)!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise ReceivableError(f"{what}: must be more than zero, got {value}")
    if amount != amount.quantize(CENT):
        raise ReceivableError(f"{what}: at most two decimals, got {value}")
    return amount.quantize(CENT)


def create_invoice(
    session: Session,
    *,
    partner_id: int,
    number: str,
    amount: Decimal | int | str,
    currency: str,
    issue_date: dt.date,
    due_date: dt.date,
    order_id: int | None = None,
    origin: InvoiceOrigin = InvoiceOrigin.MANUAL,
) -> Invoice:
    """Record an invoice the customer owes; refuses a duplicate number, an amount that is
    not positive and a due date before the issue date."""
    number = number.strip()
    where = f"invoice {number!r}"
    if not number:
        raise ReceivableError("invoice: give a number")
    value = as_amount(amount, f"{where}, amount")
    if len(currency) != 3 or not currency.isalpha():
        raise ReceivableError(f"{where}, currency: a three-letter code (EUR), got {currency!r}")
    if due_date < issue_date:
        raise ReceivableError(
            f"{where}, due date: {due_date.isoformat()} is before its issue date "
            f"{issue_date.isoformat()}"
        )
    if session.get(Partner, partner_id) is None:
        raise ReceivableError(f"{where}: no customer #{partner_id}")
    if session.scalar(select(Invoice.id).where(Invoice.number == number)) is not None:
        raise ReceivableError(f"{where}: an invoice with this number exists already")
    invoice = Invoice(
        number=number,
        partner_id=partner_id,
        order_id=order_id,
        origin=origin,
        currency=currency.upper(),
        issue_date=issue_date,
        due_date=due_date,
        amount=value,
        paid=Decimal("0.00"),
        status=InvoiceStatus.OPEN,
    )
    session.add(invoice)
    session.flush()
    return invoice


def register_payment(
    session: Session,
    invoice_id: int,
    amount: Decimal | int | str,
    paid_on: dt.date,
    reference: str = "",
) -> Payment:
    """Book a payment, whole or partial, against an invoice, in the caller's transaction.

    The invoice's row is locked first (on PostgreSQL a second payment waits here for the
    first to commit and then sees its amount), so the paid total is never overwritten by
    a concurrent payment; more than what is left to pay is refused, changing nothing."""
    invoice = session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise ReceivableError(f"payment: no invoice #{invoice_id} (or not one you may see)")
    where = f"payment on invoice {invoice.number}"
    value = as_amount(amount, f"{where}, amount")
    if invoice.status == InvoiceStatus.CANCELLED:
        raise ReceivableError(f"{where}: the invoice is cancelled")
    left = invoice.amount - invoice.paid
    if value > left:
        raise ReceivableError(
            f"{where}: {money(value)} {invoice.currency} is more than the "
            f"{money(left)} {invoice.currency} left to pay ({money(invoice.amount)} billed, "
            f"{money(invoice.paid)} paid); nothing was recorded"
        )
    if paid_on < invoice.issue_date:
        raise ReceivableError(
            f"{where}: paid on {paid_on.isoformat()}, before the invoice was issued "
            f"({invoice.issue_date.isoformat()})"
        )
    if paid_on > utcnow().date():
        raise ReceivableError(
            f"{where}: paid on {paid_on.isoformat()}, a day that has not come yet; record it "
            "when the money is in"
        )
    payment = Payment(invoice_id=invoice.id, amount=value, paid_on=paid_on, reference=reference)
    session.add(payment)
    invoice.paid = invoice.paid + value
    if invoice.paid == invoice.amount:
        invoice.status = InvoiceStatus.PAID
    session.flush()
    return payment
