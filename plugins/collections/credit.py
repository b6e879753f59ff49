"""The credit block: may this customer place one more order? Over its credit line, or
with an invoice overdue beyond the set number of days, it may not, and the reason names
the amounts. The check reads the customer's whole debt, whoever asks: a salesperson who
may not read some invoice of the customer is still blocked by it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import Partner, Principal

from .models import CreditLine, Invoice, InvoiceStatus
from .receivables import money
from .settings import CollectionsSettings

ZERO = Decimal("0.00")
OVERRIDE_INPUT = "credit_override"
"""The transition input carrying the reason of an override, e.g.
``engine.transition(session, order, "confirm", credit_override="paid by wire today")``."""
OVERDUE_SHOWN = 3
"""Overdue invoices the message names one by one; the rest are counted."""


@dataclass(frozen=True)
class OverdueInvoice:
    number: str
    days: int
    balance: Decimal


@dataclass(frozen=True)
class CreditPosition:
    """What a customer owes and may owe, in the company's currency."""

    partner_id: int
    name: str
    currency: str
    credit_limit: Decimal | None
    open_invoices: Decimal
    open_orders: Decimal
    """Confirmed orders not invoiced yet."""
    overdue: tuple[OverdueInvoice, ...]

    @property
    def exposure(self) -> Decimal:
        return self.open_invoices + self.open_orders


@contextmanager
def books(session: Session) -> Iterator[Session]:
    """A session on the caller's transaction that reads every row: the credit check must
    see all of a customer's debt, not the part the user may read. It only reads."""
    with Session(
        bind=session.connection(),
        info={**session.info, "principal": Principal.system("collections.credit_check")},
    ) as system:
        yield system


def credit_position(
    session: Session,
    partner_id: int,
    settings: CollectionsSettings,
    today: dt.date,
    *,
    open_orders: Decimal = ZERO,
) -> CreditPosition:
    partner = session.get(Partner, partner_id)
    name = partner.name if partner is not None else f"customer #{partner_id}"
    line = session.get(CreditLine, partner_id)
    limit = line.credit_limit if line is not None else None
    if limit is None:
        limit = settings.default_credit_limit
    rows = session.execute(
        select(Invoice.number, Invoice.due_date, Invoice.amount - Invoice.paid)
        .where(
            Invoice.partner_id == partner_id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.currency == settings.currency,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    owed = sum((Decimal(balance).quantize(Decimal("0.01")) for _, _, balance in rows), ZERO)
    late = settings.block_overdue_days
    overdue = tuple(
        OverdueInvoice(number, (today - due).days, Decimal(balance).quantize(Decimal("0.01")))
        for number, due, balance in rows
        if late is not None and (today - due).days > late
    )
    return CreditPosition(partner_id, name, settings.currency, limit, owed, open_orders, overdue)


def block_reasons(
    position: CreditPosition, amount: Decimal, currency: str, settings: CollectionsSettings
) -> Sequence[str]:
    """Why an order of ``amount`` may not be confirmed for this customer; empty when it
    may. Each reason names the amounts."""
    reasons: list[str] = []
    unit = position.currency
    if settings.block_over_credit_line and position.credit_limit is not None and currency == unit:
        total = position.exposure + amount
        if total > position.credit_limit:
            parts = f"open invoices {money(position.open_invoices)}"
            if position.open_orders:
                parts += f" + confirmed orders {money(position.open_orders)}"
            reasons.append(
                f"{position.name} would exceed its credit line of "
                f"{money(position.credit_limit)} {unit}: {parts} + this order "
                f"{money(amount)} = {money(total)} {unit} "
                f"({money(total - position.credit_limit)} {unit} over)"
            )
    if position.overdue:
        shown = ", ".join(
            f"{item.number} {money(item.balance)} {unit} {item.days} days overdue"
            for item in position.overdue[:OVERDUE_SHOWN]
        )
        more = len(position.overdue) - OVERDUE_SHOWN
        if more > 0:
            shown += f" and {more} more"
        total = sum((item.balance for item in position.overdue), ZERO)
        reasons.append(
            f"{position.name} has invoices overdue by more than "
            f"{settings.block_overdue_days} days ({money(total)} {unit}): {shown}"
        )
    return reasons
