"""Sales and margins as the dashboards and the customer page show them: aggregates over
order lines of sold orders (confirmed and beyond) in a period, read through the user's
session, so each hat totals only the orders it may see. The filters and groupings run on
indexed columns: ``orders_order (ordered_on, state, owner_id)`` and ``orders_order_line
(order_id, product_line)`` (bench/sales_dashboard.py measures them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from accord.api import User

from .models import Order, OrderLine
from .workflows import SOLD_ORDER_STATES

ZERO = Decimal("0")


@dataclass(frozen=True)
class Sales:
    """Sales and cost of a group; the margin follows."""

    label: str
    amount: Decimal
    cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.amount - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return (self.margin * 100 / self.amount).quantize(Decimal("0.1")) if self.amount else None


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    team_ids: Collection[int] = ()
    product_line: str | None = None

    def a_year_before(self) -> Period:
        return Period(
            _year_back(self.start), _year_back(self.end), self.team_ids, self.product_line
        )


def _year_back(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _conditions(period: Period) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        Order.ordered_on >= period.start,
        Order.ordered_on <= period.end,
        Order.state.in_(SOLD_ORDER_STATES),
    ]
    if period.team_ids:
        conditions.append(Order.team_id.in_(sorted(period.team_ids)))
    if period.product_line:
        conditions.append(OrderLine.product_line == period.product_line)
    return conditions


def _lines(period: Period, *columns: Any) -> Select[Any]:
    return (
        select(
            *columns,
            func.coalesce(func.sum(OrderLine.amount), 0),
            func.coalesce(func.sum(OrderLine.cost), 0),
        )
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_conditions(period))
    )


def by_product_line(session: Session, period: Period) -> list[Sales]:
    rows = session.execute(
        _lines(period, OrderLine.product_line)
        .group_by(OrderLine.product_line)
        .order_by(OrderLine.product_line)
    ).all()
    return [
        Sales(str(line) or "(no product line)", Decimal(amount), Decimal(cost))
        for line, amount, cost in rows
    ]


def by_salesperson(session: Session, period: Period) -> list[Sales]:
    rows = session.execute(_lines(period, Order.owner_id).group_by(Order.owner_id)).all()
    owner_ids = [owner for owner, _, _ in rows if owner is not None]
    names = (
        dict(session.execute(select(User.id, User.name).where(User.id.in_(owner_ids))).all())
        if owner_ids
        else {}
    )
    sales = [
        Sales(
            str(names.get(owner, f"user #{owner}"))
            if owner is not None
            else "(web store, no salesperson)",
            Decimal(amount),
            Decimal(cost),
        )
        for owner, amount, cost in rows
    ]
    return sorted(sales, key=lambda item: item.amount, reverse=True)


def total(session: Session, period: Period) -> Sales:
    amount, cost = session.execute(_lines(period)).one()
    return Sales(
        f"{period.start.isoformat()} to {period.end.isoformat()}", Decimal(amount), Decimal(cost)
    )


def year_over_year(session: Session, period: Period) -> tuple[Sales, Sales]:
    """This period and the same period a year before."""
    return total(session, period), total(session, period.a_year_before())


def customer_sales(session: Session, partner_id: int, years: Sequence[int]) -> list[Sales]:
    """A customer's sales and margin per calendar year, newest first."""
    result = []
    for year in years:
        amount, cost = session.execute(
            select(
                func.coalesce(func.sum(Order.amount), 0), func.coalesce(func.sum(Order.cost), 0)
            ).where(
                Order.partner_id == partner_id,
                Order.state.in_(SOLD_ORDER_STATES),
                Order.ordered_on >= dt.date(year, 1, 1),
                Order.ordered_on <= dt.date(year, 12, 31),
            )
        ).one()
        result.append(Sales(str(year), Decimal(amount), Decimal(cost)))
    return result
