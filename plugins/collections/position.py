"""The customer's credit position on the order and offer pages: its credit line, what it
owes and has ordered on credit, what this order or offer adds and what is left. The figures
are the credit check's own (the customer's whole debt, whoever looks), shown to the hats
that see receivables; the block and its override are in ``override``."""

from __future__ import annotations

from decimal import Decimal

from markupsafe import Markup

from accord.api import RecordPanel, RenderContext, principal_of
from accord.plugins.orders.api import Offer, Order, order_amount

from .blocking import customer_position
from .credit import CreditPosition, block_reasons
from .receivables import money
from .security import READ
from .settings import CollectionsSettings, settings_of

OPEN_OFFER_STATES = ("draft", "submitted", "approved", "sent", "accepted")
"""Offers that may still become an order, so whether that order would be held matters."""


def position_facts(
    position: CreditPosition, settings: CollectionsSettings, adds: tuple[str, Decimal, str] | None
) -> Markup:
    """The position as a list of facts; ``adds`` is (label, amount, currency) of the
    document on the page when it is not counted in the position yet."""
    unit = position.currency
    limit = position.credit_limit
    rows: list[tuple[str, str]] = [
        ("Credit line", f"{money(limit)} {unit}" if limit is not None else "no limit"),
        ("Open invoices", f"{money(position.open_invoices)} {unit}"),
        ("Ordered, not invoiced", f"{money(position.open_orders)} {unit}"),
    ]
    exposure = position.exposure
    if adds is not None:
        label, amount, currency = adds
        rows.append((label, f"{money(amount)} {currency}"))
        if currency == unit:
            exposure += amount
    if limit is not None:
        left = limit - exposure
        rows.append(("Left on the line" + (" after it" if adds else ""), f"{money(left)} {unit}"))
    if position.overdue:
        total = sum((item.balance for item in position.overdue), Decimal("0"))
        count = len(position.overdue)
        rows.append(
            (
                f"Overdue over {settings.block_overdue_days} days",
                f"{money(total)} {unit} ({count} invoice{'s' if count != 1 else ''})",
            )
        )
    return Markup('<dl class="facts">{}</dl>').format(
        Markup("").join(Markup("<dt>{}</dt><dd>{}</dd>").format(k, v) for k, v in rows)
    )


def panel(partner_id: int, body: Markup) -> str:
    link = Markup(
        '<p><a href="/partners/{}#panel-collections-open-invoices">Open invoices and aging</a></p>'
    ).format(partner_id)
    return str(Markup('<div class="collections-position">{}{}</div>').format(body, link))


def render_order_position(context: RenderContext) -> str:
    """On an order's page: the position besides this order and this order on top while it
    is a draft (what confirming it would do); with it once confirmed."""
    order = context.record
    principal = principal_of(context.session)
    if not isinstance(order, Order) or principal is None or not principal.can(READ):
        return ""
    settings = settings_of(context.session)
    draft = order.state == "draft"
    besides = order.id if draft else None
    position = customer_position(context.session, order.partner_id, settings, besides=besides)
    adds = ("This order", order_amount(order), order.currency) if draft else None
    return panel(order.partner_id, position_facts(position, settings, adds))


def render_offer_position(context: RenderContext) -> str:
    """On an offer's page: the position, the offer on top and, while the offer may still
    become an order, whether that order would be held by the credit block today."""
    offer = context.record
    principal = principal_of(context.session)
    if not isinstance(offer, Offer) or principal is None or not principal.can(READ):
        return ""
    settings = settings_of(context.session)
    position = customer_position(context.session, offer.partner_id, settings)
    if offer.state not in OPEN_OFFER_STATES:
        return panel(offer.partner_id, position_facts(position, settings, None))
    body = position_facts(position, settings, ("This offer", offer.amount, offer.currency))
    reasons = block_reasons(position, offer.amount, offer.currency, settings)
    if reasons:
        body += Markup(
            '<p class="collections-position__held"><strong>Its order would be held today:'
            "</strong> {}.</p>"
        ).format("; ".join(reasons))
    return panel(offer.partner_id, body)


def panels() -> list[RecordPanel]:
    return [
        RecordPanel(
            "collections.order_credit",
            model="orders_order",
            title="Customer credit",
            render=render_order_position,
            order=40,
        ),
        RecordPanel(
            "collections.offer_credit",
            model="orders_offer",
            title="Customer credit",
            render=render_offer_position,
            order=40,
        ),
    ]
