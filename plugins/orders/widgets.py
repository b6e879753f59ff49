"""The orders area's dashboard tiles: sales by product line, by salesperson, this period
against the same period a year before, and margins. Each follows the filter bar (period,
team, product line) and reads through the user's session, so a salesperson totals his
own orders and a manager her team's."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import DashboardFilters, DashboardWidget, ProductLines, RenderContext, chart

from .models import Product
from .reports import Period, Sales, by_product_line, by_salesperson, year_over_year


def period_of(filters: DashboardFilters) -> Period:
    return Period(
        filters.start,
        filters.end,
        team_ids=filters.team_ids if filters.team_id is not None else (),
        product_line=filters.product_line,
    )


def euros(value: float | int | Decimal) -> str:
    return f"{value:,.0f}"


def _bars(title: str, rows: Sequence[Sales], empty: str) -> Markup:
    return chart(
        "bar",
        [row.label for row in rows],
        {
            "Sales": [float(row.amount) for row in rows],
            "Margin": [float(row.margin) for row in rows],
        },
        title=title,
        empty=empty,
        value_format=euros,
    )


def sales_by_product_line(context: RenderContext) -> str:
    filters = context.filters
    rows = by_product_line(context.session, period_of(filters))
    return _bars(
        f"Sales and margin by product line, {filters.start:%d %b %Y} to {filters.end:%d %b %Y}",
        rows,
        "No sales in this period.",
    )


def sales_by_salesperson(context: RenderContext) -> str:
    filters = context.filters
    rows = by_salesperson(context.session, period_of(filters))[:10]
    return _bars(
        f"Sales and margin by salesperson, {filters.start:%d %b %Y} to {filters.end:%d %b %Y}",
        rows,
        "No sales in this period.",
    )


def sales_year_over_year(context: RenderContext) -> str:
    filters = context.filters
    now, before = year_over_year(context.session, period_of(filters))
    change = (
        f"{(now.amount - before.amount) * 100 / before.amount:+.1f} %"
        if before.amount
        else "no sales a year before"
    )
    drawing = chart(
        "bar",
        [f"{filters.start.year - 1}", f"{filters.start.year}"]
        if filters.start.year == filters.end.year
        else ["A year before", "This period"],
        {"Sales": [float(before.amount), float(now.amount)]},
        title="Sales this period against the same period a year before",
        empty="No sales in either period.",
        value_format=euros,
    )
    return Markup(
        '<p class="widget__figure"><strong>{}</strong> against {} a year before ({})</p>{}'
    ).format(euros(now.amount), euros(before.amount), change, drawing)


def margins(context: RenderContext) -> str:
    filters = context.filters
    now, before = year_over_year(context.session, period_of(filters))

    def percent(sales: Sales) -> str:
        return f"{sales.margin_percent} %" if sales.margin_percent is not None else "no sales"

    return Markup(
        '<p class="widget__figure"><strong>{}</strong> margin on {} sales: {}</p>'
        "<p>A year before: {} margin, {}</p>"
    ).format(
        euros(now.margin), euros(now.amount), percent(now), euros(before.margin), percent(before)
    )


def product_lines(session: Session) -> Sequence[tuple[str, str]]:
    lines = session.scalars(select(Product.product_line).distinct().order_by(Product.product_line))
    return [(line, line) for line in lines if line]


def dashboard_widgets() -> list[DashboardWidget]:
    permission = "orders.reports.read"
    return [
        DashboardWidget(
            "orders.sales_by_product_line",
            "Sales by product line",
            render=sales_by_product_line,
            permission=permission,
            order=20,
        ),
        DashboardWidget(
            "orders.sales_by_salesperson",
            "Sales by salesperson",
            render=sales_by_salesperson,
            permission=permission,
            order=21,
        ),
        DashboardWidget(
            "orders.sales_year_over_year",
            "Sales, year on year",
            render=sales_year_over_year,
            permission=permission,
            order=22,
        ),
        DashboardWidget(
            "orders.margins", "Margins", render=margins, permission=permission, order=23
        ),
    ]


def product_line_choices() -> list[ProductLines]:
    return [ProductLines("orders.product_lines", choices=product_lines)]
