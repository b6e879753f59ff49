"""Aging buckets and days sales outstanding on a small ledger computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accord.plugins.collections.aging import aging, bucket_of, dso, overdue_by_salesperson
from accord.plugins.collections.receivables import ReceivableError, register_payment

D = dt.date
AS_OF = D(2026, 6, 30)


@pytest.fixture
def ledger(accord_session, accord_make_user, make_customer, make_invoice):
    """Two customers, seven invoices, as of 30 June 2026 (days late in brackets):

    Alpine (Sam's):  INV-1 1000.00 due 1 Jul (not yet due)
                     INV-2  500.00 due 15 Jun, 200.00 paid 20 Jun (15) -> 300.00
                     INV-5  250.00 due 1 Apr (90)
                     INV-6  150.00 due 30 Jun, paid in full 29 Jun -> nothing owed
                     INV-7  999.00 issued 2 Jul: after the date, not counted
    Baltic (Sue's):  INV-3  800.00 due 1 May (60)
                     INV-4  400.00 due 31 Mar (91), paid 5 Jul: still owed on 30 Jun
    """
    sam = accord_make_user("sam", "salesperson")
    sue = accord_make_user("sue", "salesperson")
    alpine = make_customer("Alpine Srl", owner_id=sam.id)
    baltic = make_customer("Baltic GmbH", owner_id=sue.id)
    make_invoice(alpine, "1000.00", D(2026, 6, 1), D(2026, 7, 1))
    inv2 = make_invoice(alpine, "500.00", D(2026, 5, 1), D(2026, 6, 15))
    make_invoice(baltic, "800.00", D(2026, 4, 1), D(2026, 5, 1))
    inv4 = make_invoice(baltic, "400.00", D(2026, 3, 1), D(2026, 3, 31))
    make_invoice(alpine, "250.00", D(2026, 2, 1), D(2026, 4, 1))
    inv6 = make_invoice(alpine, "150.00", D(2026, 6, 10), D(2026, 6, 30))
    make_invoice(alpine, "999.00", D(2026, 7, 2), D(2026, 8, 1))
    register_payment(accord_session, inv2.id, "200.00", D(2026, 6, 20))
    register_payment(accord_session, inv6.id, "150.00", D(2026, 6, 29))
    register_payment(accord_session, inv4.id, "400.00", D(2026, 7, 5))
    accord_session.commit()
    return {"sam": sam, "sue": sue, "alpine": alpine, "baltic": baltic}


def amounts(result):
    return {name: str(value) for name, value in result.buckets.items()}


def test_buckets_follow_days_past_due():
    assert [bucket_of(days) for days in (-3, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current",
        "current",
        "1-30",
        "1-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "90+",
    ]


def test_aging_of_the_ledger_as_computed_by_hand(accord_session, ledger):
    result = aging(accord_session, AS_OF)
    assert amounts(result) == {
        "current": "1000.00",
        "1-30": "300.00",
        "31-60": "800.00",
        "61-90": "250.00",
        "90+": "400.00",
    }
    assert result.total == Decimal("2750.00")
    assert result.overdue == Decimal("1750.00")


def test_aging_of_one_customer(accord_session, ledger):
    result = aging(accord_session, AS_OF, partner_id=ledger["alpine"].id)
    assert amounts(result) == {
        "current": "1000.00",
        "1-30": "300.00",
        "31-60": "0.00",
        "61-90": "250.00",
        "90+": "0.00",
    }


def test_payment_after_the_date_counts_from_its_day(accord_session, ledger):
    assert aging(accord_session, D(2026, 7, 5), partner_id=ledger["baltic"].id).buckets[
        "90+"
    ] == Decimal("0.00")


def test_dso_as_computed_by_hand(accord_session, ledger):
    # Sales of the 90 days 2 Apr - 30 Jun: INV-1, INV-2, INV-6 = 1650.00 (INV-3 was issued
    # on 1 Apr, a day before). Receivables 2750.00. 2750 / 1650 * 90 = 150.0 days.
    assert dso(accord_session, AS_OF, 90) == Decimal("150.0")
    assert dso(accord_session, D(2025, 1, 1), 90) is None  # no sales: no figure


def test_overdue_by_salesperson(accord_session, ledger):
    rows = overdue_by_salesperson(accord_session, AS_OF)
    assert [(row.owner, row.invoices, str(row.amount)) for row in rows] == [
        ("sue", 2, "1200.00"),
        ("sam", 2, "550.00"),
    ]


def test_a_salesperson_sees_the_aging_of_own_customers_only(accord_as, ledger):
    with accord_as(ledger["sam"]) as session:
        assert aging(session, AS_OF).total == Decimal("1550.00")


def test_today_from_open_invoices_equals_the_payments_replayed(
    accord_session, make_customer, make_invoice
):
    today = dt.datetime.now(dt.UTC).date()
    alpine = make_customer("Alpine Srl")
    days = (0, 20, 45, 75, 120)
    for number, late in enumerate(days, start=1):
        invoice = make_invoice(
            alpine,
            f"{number}00.00",
            today - dt.timedelta(days=late + 30),
            today - dt.timedelta(days=late),
        )
        register_payment(accord_session, invoice.id, "50.00", today - dt.timedelta(days=late))
    paid = make_invoice(alpine, "80.00", today - dt.timedelta(days=10), today)
    register_payment(accord_session, paid.id, "80.00", today)
    accord_session.commit()
    quick = aging(accord_session, today)
    assert quick == aging(accord_session, today, replay_payments=True)
    assert amounts(quick) == {
        "current": "50.00",
        "1-30": "150.00",
        "31-60": "250.00",
        "61-90": "350.00",
        "90+": "450.00",
    }


def test_a_payment_dated_in_the_future_is_refused(accord_session, make_customer, make_invoice):
    today = dt.datetime.now(dt.UTC).date()
    invoice = make_invoice(make_customer("Alpine Srl"), "100.00", today, today)
    with pytest.raises(ReceivableError, match="a day that has not come yet"):
        register_payment(accord_session, invoice.id, "10.00", today + dt.timedelta(days=1))
