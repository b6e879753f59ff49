"""Payments against an invoice: partial ones add up, an overpayment is refused with what is
left to pay, and two payments at the same moment never lose one another."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accord.api import Principal
from accord.core.runtime import Runtime
from accord.plugins.collections.models import Invoice, InvoiceStatus, Payment
from accord.plugins.collections.receivables import ReceivableError, register_payment

D = dt.date


@pytest.fixture
def invoice(make_customer, make_invoice):
    return make_invoice(make_customer("Castello Srl"), "1000.00", D(2026, 5, 1), D(2026, 5, 31))


def test_partial_payments_settle_the_invoice(accord_session, invoice):
    register_payment(accord_session, invoice.id, "400.00", D(2026, 5, 20), "bank 1")
    assert accord_session.get(Invoice, invoice.id).status == InvoiceStatus.OPEN
    register_payment(accord_session, invoice.id, Decimal("600"), D(2026, 6, 2), "bank 2")
    accord_session.commit()
    settled = accord_session.get(Invoice, invoice.id)
    assert (settled.paid, settled.balance, settled.status) == (
        Decimal("1000.00"),
        Decimal("0.00"),
        InvoiceStatus.PAID,
    )


def test_overpayment_is_refused_and_changes_nothing(accord_session, invoice):
    register_payment(accord_session, invoice.id, "700.00", D(2026, 5, 20))
    accord_session.commit()
    with pytest.raises(ReceivableError) as refused:
        register_payment(accord_session, invoice.id, "300.01", D(2026, 5, 21))
    assert str(refused.value) == (
        f"payment on invoice {invoice.number}: 300.01 EUR is more than the 300.00 EUR left to "
        "pay (1,000.00 billed, 700.00 paid); nothing was recorded"
    )
    accord_session.rollback()
    assert accord_session.scalar(select(func.count(Payment.id))) == 1
    assert accord_session.get(Invoice, invoice.id).paid == Decimal("700.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "must be more than zero"),
        ("-5", "must be more than zero"),
        ("12.345", "at most two decimals"),
        ("ten", "'ten' is not an amount"),
    ],
)
def test_a_bad_amount_is_named(accord_session, invoice, amount, message):
    with pytest.raises(ReceivableError, match=message):
        register_payment(accord_session, invoice.id, amount, D(2026, 5, 20))


def test_a_payment_before_the_invoice_is_refused(accord_session, invoice):
    with pytest.raises(ReceivableError, match="before the invoice was issued"):
        register_payment(accord_session, invoice.id, "10", D(2026, 4, 30))


def test_two_payments_at_once_are_both_kept_and_overpayment_refused(
    accord_backend, accord_config, accord_session, invoice, at_once
):
    """Two cashiers book 600.00 each against the 1,000.00 invoice at the same moment: one
    payment is recorded, the other is refused by the balance the first one left (on
    PostgreSQL the second waits for the first's row lock and reads its result)."""
    if accord_backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    accord_session.commit()

    def pay(runtime: Runtime) -> str:
        try:
            with runtime.db.session(Principal.system("cashier")) as session:
                register_payment(session, invoice.id, "600.00", D(2026, 5, 20))
                return "paid"
        except ReceivableError as error:
            return str(error)

    outcomes = at_once(accord_config, pay)
    assert outcomes.count("paid") == 1
    refused = next(outcome for outcome in outcomes if outcome != "paid")
    assert "600.00 EUR is more than the 400.00 EUR left to pay" in refused
    accord_session.expire_all()
    assert accord_session.get(Invoice, invoice.id).paid == Decimal("600.00")
    assert accord_session.scalar(select(func.count(Payment.id))) == 1


def test_two_partial_payments_at_once_are_both_counted(
    accord_backend, accord_config, accord_session, invoice, at_once
):
    if accord_backend != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    accord_session.commit()

    def pay(runtime: Runtime) -> None:
        with runtime.db.session(Principal.system("cashier")) as session:
            register_payment(session, invoice.id, "300.00", D(2026, 5, 20))

    at_once(accord_config, pay, processes=3)
    accord_session.expire_all()
    assert accord_session.get(Invoice, invoice.id).paid == Decimal("900.00")
    assert accord_session.scalar(select(func.sum(Payment.amount))) == Decimal("900.00")
