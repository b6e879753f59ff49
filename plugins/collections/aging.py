"""Aging and days sales outstanding, as of any date: what is owed, how late, and how many
days of sales the receivables amount to. Computed in SQL over the rows the session may
read, so each hat sees the figures of its own customers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, case, func, select, type_coerce
from sqlalchemy.orm import Session

from accord.api import Partner, User, utcnow

from .models import Invoice, InvoiceStatus, Money, Payment

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
"""Days past due: not yet due (or due today), then 1-30 days late, and so on."""
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Aging:
    """Open balances per bucket of days past due."""

    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.total - self.buckets["current"]


@dataclass(frozen=True)
class OverdueBySalesperson:
    owner_id: int | None
    owner: str
    invoices: int
    amount: Decimal


def bucket_of(days_overdue: int) -> str:
    """The bucket of an invoice ``days_overdue`` days past its due date (0 or less: not
    late)."""
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


def balances(
    as_of: dt.date, *, replay_payments: bool = False
) -> tuple[Select[int], ColumnElement[Decimal]]:
    """The invoices issued by ``as_of`` and not cancelled, joined with what was paid on
    them by that date, and the expression of their balance then.

    From today on, every payment counts (none is dated in the future), so the open
    invoices and their paid column answer, through the status index, whatever the number
    of paid invoices; a past day replays the payments made by then (``replay_payments``
    forces it)."""
    if as_of >= utcnow().date() and not replay_payments:
        balance = type_coerce(Invoice.amount - Invoice.paid, Money)
        query = select(Invoice.id).where(
            Invoice.status == InvoiceStatus.OPEN, Invoice.issue_date <= as_of
        )
        return query, balance
    paid = (
        select(Payment.invoice_id, func.sum(Payment.amount).label("paid"))
        .where(Payment.paid_on <= as_of)
        .group_by(Payment.invoice_id)
        .subquery()
    )
    balance = type_coerce(Invoice.amount - func.coalesce(paid.c.paid, 0), Money)
    query = (
        select(Invoice.id)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(
            Invoice.issue_date <= as_of,
            Invoice.status != InvoiceStatus.CANCELLED,
            balance > 0,
        )
    )
    return query, balance


def _bucket(as_of: dt.date) -> ColumnElement[str]:
    def days_ago(days: int) -> dt.date:
        return as_of - dt.timedelta(days=days)

    return case(
        (Invoice.due_date >= as_of, "current"),
        (Invoice.due_date >= days_ago(30), "1-30"),
        (Invoice.due_date >= days_ago(60), "31-60"),
        (Invoice.due_date >= days_ago(90), "61-90"),
        else_="90+",
    )


def aging(
    session: Session,
    as_of: dt.date,
    *,
    partner_id: int | None = None,
    owner_id: int | None = None,
    team_ids: Collection[int] | None = None,
    currency: str | None = None,
    replay_payments: bool = False,
) -> Aging:
    """Open balances by bucket as of ``as_of``: payments dated after it do not count, nor
    invoices issued after it. Narrow it to one customer, one owner, the customers of some
    teams or one currency."""
    query, balance = balances(as_of, replay_payments=replay_payments)
    bucket = _bucket(as_of).label("bucket")
    total = type_coerce(func.sum(balance), Money)
    statement = query.with_only_columns(bucket, total).group_by(bucket)
    if partner_id is not None:
        statement = statement.where(Invoice.partner_id == partner_id)
    if currency is not None:
        statement = statement.where(Invoice.currency == currency)
    if owner_id is not None or team_ids is not None:
        statement = statement.join(Partner, Partner.id == Invoice.partner_id)
    if owner_id is not None:
        statement = statement.where(Partner.owner_id == owner_id)
    if team_ids is not None:
        statement = statement.where(Partner.team_id.in_(sorted(team_ids)))
    result = Aging()
    for name, amount in session.execute(statement):
        result.buckets[name] = (amount or ZERO).quantize(Decimal("0.01"))
    return result


def receivables(
    session: Session,
    as_of: dt.date,
    *,
    currency: str | None = None,
    team_ids: Collection[int] | None = None,
) -> Decimal:
    """Everything owed as of ``as_of``."""
    return aging(session, as_of, currency=currency, team_ids=team_ids).total


def sales(
    session: Session,
    start: dt.date,
    end: dt.date,
    *,
    currency: str | None = None,
    team_ids: Collection[int] | None = None,
) -> Decimal:
    """What was invoiced from ``start`` to ``end``, both included (cancelled invoices not)."""
    statement = select(type_coerce(func.sum(Invoice.amount), Money)).where(
        Invoice.issue_date >= start,
        Invoice.issue_date <= end,
        Invoice.status != InvoiceStatus.CANCELLED,
    )
    if currency is not None:
        statement = statement.where(Invoice.currency == currency)
    if team_ids is not None:
        statement = statement.join(Partner, Partner.id == Invoice.partner_id).where(
            Partner.team_id.in_(sorted(team_ids))
        )
    return session.scalar(statement) or ZERO


def dso(
    session: Session,
    as_of: dt.date,
    days: int,
    *,
    currency: str | None = None,
    team_ids: Collection[int] | None = None,
) -> Decimal | None:
    """Days sales outstanding: receivables as of ``as_of`` divided by the sales of the
    ``days`` days ending that day, times ``days``; None without sales in that period."""
    start = as_of - dt.timedelta(days=days - 1)
    sold = sales(session, start, as_of, currency=currency, team_ids=team_ids)
    if sold == 0:
        return None
    owed = receivables(session, as_of, currency=currency, team_ids=team_ids)
    return (owed / sold * days).quantize(Decimal("0.1"))


def overdue_by_salesperson(
    session: Session,
    as_of: dt.date,
    *,
    currency: str | None = None,
    team_ids: Collection[int] | None = None,
) -> Sequence[OverdueBySalesperson]:
    """Overdue balances per customer owner (salesperson, agent...), largest first."""
    query, balance = balances(as_of)
    total = type_coerce(func.sum(balance), Money)
    statement = (
        query.with_only_columns(Partner.owner_id, func.count(Invoice.id), total)
        .join(Partner, Partner.id == Invoice.partner_id)
        .where(Invoice.due_date < as_of)
        .group_by(Partner.owner_id)
    )
    if currency is not None:
        statement = statement.where(Invoice.currency == currency)
    if team_ids is not None:
        statement = statement.where(Partner.team_id.in_(sorted(team_ids)))
    rows = session.execute(statement).all()
    owners = [owner_id for owner_id, _, _ in rows if owner_id is not None]
    names: dict[int, str] = {}
    if owners:
        names = {
            user_id: name
            for user_id, name in session.execute(
                select(User.id, User.name).where(User.id.in_(owners))
            )
        }
    found = [
        OverdueBySalesperson(
            owner_id=owner_id,
            owner=names.get(owner_id, f"user #{owner_id}") if owner_id else "no owner",
            invoices=count,
            amount=(amount or ZERO).quantize(Decimal("0.01")),
        )
        for owner_id, count, amount in rows
    ]
    return sorted(found, key=lambda row: (-row.amount, row.owner))
