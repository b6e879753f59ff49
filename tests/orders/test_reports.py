"""Sales and margins as the dashboards total them: by product line, by salesperson and
against the same period a year before, over sold orders only, and each hat totals only
the orders it may see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from accord.plugins.orders.api import LineInput, Order, confirm, create_order
from accord.plugins.orders.reports import Period, by_product_line, by_salesperson, year_over_year

from .conftest import Company

TODAY = dt.date(2026, 11, 23)
THIS_YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def sell(company: Company, login: str, on: dt.date, confirmed: bool = True, **skus: str) -> None:
    with company.as_(login) as session:
        order = create_order(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[
                LineInput(Decimal(q), product_id=company.products[sku.replace("_", "-")])
                for sku, q in skus.items()
            ],
            ordered_on=on,
        )
        order_id = order.id
    if confirmed:
        with company.as_("bea") as session:
            found = session.get(Order, order_id)
            assert found is not None
            confirm(company.runtime, session, found)


def test_sales_and_margins_by_product_line_count_only_sold_orders(company: Company) -> None:
    sell(company, "sam", TODAY, PUMP_100="2", CTRL_7="1")
    sell(company, "sam", TODAY, confirmed=False, PUMP_100="5")  # a draft is no sale
    with company.as_("bea") as session:
        lines = {sales.label: sales for sales in by_product_line(session, THIS_YEAR)}
    assert set(lines) == {"Pumps", "Controls"}
    assert lines["Pumps"].amount == Decimal("2000.00")
    assert lines["Pumps"].margin == Decimal("800.00")
    assert lines["Controls"].margin_percent == Decimal("60.0")


def test_sales_by_salesperson_and_a_salesperson_sees_only_his_own(company: Company) -> None:
    sell(company, "sam", TODAY, PUMP_100="1")
    with company.system() as session:
        from accord.api import Partner, PartnerKind

        other = Partner(kind=PartnerKind.COMPANY, name="Sud Srl", owner_id=company.users["sue"].id)
        session.add(other)
        session.flush()
        other_id = other.id
    with company.as_("sue") as session:
        order = create_order(
            company.runtime,
            session,
            partner_id=other_id,
            lines=[LineInput(Decimal("1"), product_id=company.products["CTRL-7"])],
            ordered_on=TODAY,
        )
        order_id = order.id
    with company.as_("bea") as session:
        confirm(company.runtime, session, session.get(Order, order_id))  # type: ignore[arg-type]
        everyone = {sales.label: sales.amount for sales in by_salesperson(session, THIS_YEAR)}
    assert everyone == {"sam": Decimal("1000.00"), "sue": Decimal("250.00")}
    with company.as_("sam") as session:
        own = {sales.label: sales.amount for sales in by_salesperson(session, THIS_YEAR)}
    assert own == {"sam": Decimal("1000.00")}


def test_year_over_year_compares_the_same_period_a_year_before(company: Company) -> None:
    sell(company, "sam", dt.date(2026, 3, 10), PUMP_100="3")
    sell(company, "sam", dt.date(2025, 3, 12), PUMP_100="1")
    sell(company, "sam", dt.date(2025, 9, 1), PUMP_100="1")  # outside the period
    with company.as_("bea") as session:
        now, before = year_over_year(session, Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)))
    assert (now.amount, before.amount) == (Decimal("3000.00"), Decimal("1000.00"))
