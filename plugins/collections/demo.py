"""The demo's receivables: a few months of invoices with their payments (some late, some
paid in part), credit lines with ratings, and one customer over its credit line, whose
next order confirmation is blocked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accord.api import DemoContext, utcnow

from .models import CreditLine
from .receivables import create_invoice, money, register_payment

RATINGS = ("A", "A", "B", "B", "B", "C", "D")


def add_demo_data(demo: DemoContext) -> None:
    session, rng = demo.session, demo.rng
    today = utcnow().date()
    customers = list(demo.customers)
    if not customers:
        return
    invoices = payments = 0
    number = 0
    for customer in customers[:40]:
        rating = rng.choice(RATINGS)
        limit = Decimal(rng.choice((10_000, 20_000, 30_000, 50_000)))
        session.add(
            CreditLine(
                partner_id=customer.id,
                credit_limit=limit,
                rating=rating,
                rating_source="Creditreform",
                rated_on=today - dt.timedelta(days=rng.randint(10, 300)),
            )
        )
        for _ in range(rng.randint(1, 4)):
            number += 1
            issued = today - dt.timedelta(days=rng.randint(5, 150))
            amount = Decimal(rng.randint(300, 6_000)) + Decimal(rng.randint(0, 99)) / 100
            invoice = create_invoice(
                session,
                partner_id=customer.id,
                number=f"INV-{issued.year}-{number:04d}",
                amount=amount,
                currency="EUR",
                issue_date=issued,
                due_date=issued + dt.timedelta(days=30),
            )
            invoices += 1
            # Good payers pay on time; poorer ratings pay late, in part or not yet.
            chance = {"A": 0.9, "B": 0.7, "C": 0.4, "D": 0.15}[rating]
            paid_on = issued + dt.timedelta(days=rng.randint(20, 70))
            if paid_on <= today and rng.random() < chance:
                share = Decimal(1) if rng.random() < 0.8 else Decimal("0.5")
                register_payment(
                    session,
                    invoice.id,
                    (amount * share).quantize(Decimal("0.01")),
                    paid_on,
                    "bank transfer",
                )
                payments += 1
    blocked = customers[0]
    line = session.get(CreditLine, blocked.id)
    assert line is not None
    number += 1
    create_invoice(
        session,
        partner_id=blocked.id,
        number=f"INV-{today.year}-{number:04d}",
        amount=line.credit_limit or Decimal("10000"),
        currency="EUR",
        issue_date=today - dt.timedelta(days=10),
        due_date=today + dt.timedelta(days=20),
    )
    session.flush()
    demo.report(
        f"{invoices + 1} invoices, {payments} payments, credit lines for "
        f"{min(len(customers), 40)} customers; {blocked.name} is over its credit line of "
        f"{money(line.credit_limit or Decimal('0'))} EUR: confirming its next order is blocked"
    )
