"""What the orders area adds to the customer page: its orders with their margins, the
year's sales against last year's, and the open offers."""

from __future__ import annotations

import datetime as dt
from html import escape

from sqlalchemy import func, select

from accord.api import Partner, RenderContext

from .models import Offer, Order
from .reports import customer_sales

RECENT = 10
OPEN_OFFER_STATES = ("draft", "submitted", "approved", "sent", "accepted")


def money(value: object, currency: str = "") -> str:
    return escape(f"{value:,.2f} {currency}".strip())


def render_customer_orders(context: RenderContext) -> str:
    partner = context.record
    if not isinstance(partner, Partner):
        return ""
    session = context.session
    orders = session.scalars(
        select(Order).where(Order.partner_id == partner.id).order_by(Order.id.desc()).limit(RECENT)
    ).all()
    open_offers = session.scalar(
        select(func.count())
        .select_from(Offer)
        .where(Offer.partner_id == partner.id, Offer.state.in_(OPEN_OFFER_STATES))
    )
    year = dt.date.today().year
    this_year, last_year = customer_sales(session, partner.id, (year, year - 1))
    parts = [
        "<dl class='orders-panel__totals'>",
        f"<dt>Sales {year}</dt><dd>{money(this_year.amount)}</dd>",
        f"<dt>Margin {year}</dt><dd>{money(this_year.margin)}"
        + (f" ({this_year.margin_percent} %)" if this_year.margin_percent is not None else "")
        + "</dd>",
        f"<dt>Sales {year - 1}</dt><dd>{money(last_year.amount)}</dd>",
        f"<dt>Margin {year - 1}</dt><dd>{money(last_year.margin)}</dd>",
        f"<dt>Open offers</dt><dd>{int(open_offers or 0)}</dd>",
        "</dl>",
    ]
    if not orders:
        parts.append("<p>No orders yet.</p>")
    else:
        rows = "".join(
            "<tr>"
            f"<td><a href='/orders/orders/{order.id}'>{escape(order.number)}</a></td>"
            f"<td>{order.ordered_on.isoformat()}</td>"
            f"<td>{escape(order.state)}</td>"
            f"<td class='num'>{money(order.amount, order.currency)}</td>"
            f"<td class='num'>{money(order.amount - order.cost)}</td>"
            "</tr>"
            for order in orders
        )
        parts.append(
            "<table class='orders-panel__orders'><thead><tr><th>Order</th><th>Date</th>"
            "<th>State</th><th class='num'>Amount</th><th class='num'>Margin</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append(
        "<form method='get' action='/orders/lookup' role='search' class='orders-panel__lookup'>"
        f"<input type='hidden' name='partner_id' value='{partner.id}'>"
        "<input type='search' name='q' aria-label='Find an order of this customer' "
        "placeholder='Order, tracking, serial or licence…'>"
        "<button type='submit'>Find</button></form>"
    )
    parts.append(
        f"<p><a href='/orders/new/offer?partner_id={partner.id}'>New offer</a> · "
        f"<a href='/orders/new/order?partner_id={partner.id}'>New order</a></p>"
    )
    return "".join(parts)
