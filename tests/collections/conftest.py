"""Fixtures of the collections tests: customers and invoices made directly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from accord.api import Partner, PartnerKind
from accord.plugins.collections.models import Invoice, InvoiceOrigin
from accord.plugins.collections.receivables import create_invoice


@pytest.fixture
def accord_plugins() -> Sequence[str]:
    return ["orders", "collections"]


@pytest.fixture
def make_customer(accord_session: Session) -> Callable[..., Partner]:
    def make(name: str, *, owner_id: int | None = None, email: str = "") -> Partner:
        partner = Partner(
            kind=PartnerKind.COMPANY,
            name=name,
            owner_id=owner_id,
            email=email or f"accounts@{name.split()[0].lower()}.example",
        )
        accord_session.add(partner)
        accord_session.flush()
        return partner

    return make


@pytest.fixture
def make_invoice(accord_session: Session) -> Callable[..., Invoice]:
    counter = iter(range(1, 10_000))

    def make(
        partner: Partner,
        amount: str,
        issued: dt.date,
        due: dt.date,
        *,
        currency: str = "EUR",
        **extra: Any,
    ) -> Invoice:
        invoice = create_invoice(
            accord_session,
            partner_id=partner.id,
            number=f"INV-{next(counter):04d}",
            amount=Decimal(amount),
            currency=currency,
            issue_date=issued,
            due_date=due,
            origin=extra.pop("origin", InvoiceOrigin.MANUAL),
            **extra,
        )
        accord_session.commit()
        return invoice

    return make
