"""`accord collections aging` and `accord collections remind` for integrators."""

from __future__ import annotations

import datetime as dt

import pytest

from accord.plugins.collections.receivables import register_payment

D = dt.date


@pytest.fixture
def accord_backend() -> str:
    return "sqlite"  # the figures are tested on both databases in test_aging


@pytest.fixture
def ledger(accord_session, make_customer, make_invoice):
    alpine = make_customer("Alpine Srl")
    make_invoice(alpine, "1000.00", D(2026, 6, 1), D(2026, 7, 1))
    late = make_invoice(alpine, "500.00", D(2026, 5, 1), D(2026, 6, 15))
    register_payment(accord_session, late.id, "200.00", D(2026, 6, 20))
    accord_session.commit()


def test_aging_as_of_a_day(accord_cli, ledger):
    result = accord_cli("collections", "aging", "--as-of", "2026-06-30")
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert lines == [
        "receivables as of 2026-06-30 (EUR)",
        "current 1,000.00",
        "1-30 300.00",
        "31-60 0.00",
        "61-90 0.00",
        "90+ 0.00",
        "total 1,300.00",
        "DSO (90 days): 78.0",  # 1,300.00 owed over 1,500.00 sold in 90 days
        "overdue, no owner: 300.00 in 1 invoice(s)",
    ]


def test_a_wrong_date_is_named(accord_cli, ledger):
    result = accord_cli("collections", "aging", "--as-of", "30/06/2026")
    assert result.exit_code == 2
    assert "'30/06/2026' is not a date (YYYY-MM-DD)" in result.output


def test_remind_sends_what_is_due(accord_cli, ledger):
    result = accord_cli("collections", "remind", "--date", "2026-06-30")
    assert result.exit_code == 0, result.output
    assert "INV-0002: level 1 to accounts@alpine.example" in result.output
    assert "1 reminder(s) queued" in result.output
    again = accord_cli("collections", "remind", "--date", "2026-06-30")
    assert "0 reminder(s) queued" in again.output
