"""Prices and amounts: a customer group's price list over the list price, line amounts net
of discount, and the totals kept on offers and orders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import (
    CustomerTerms,
    Offer,
    OfferLine,
    Order,
    OrderLine,
    PriceList,
    PriceListItem,
    Product,
)

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal:
    """What a line costs the customer: quantity times price, less its discount."""
    return money(quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED)


def price_for(session: Session, partner_id: int, product: Product) -> Decimal:
    """The product's price for this customer: its group's price list, else the list price."""
    price = session.scalar(
        select(PriceListItem.price)
        .join(PriceList, PriceList.id == PriceListItem.price_list_id)
        .join(CustomerTerms, CustomerTerms.customer_group == PriceList.customer_group)
        .where(CustomerTerms.partner_id == partner_id, PriceListItem.product_id == product.id)
    )
    return price if price is not None else product.list_price


def offer_totals(offer: Offer, lines: Iterable[OfferLine]) -> None:
    amount = Decimal("0")
    cost = Decimal("0")
    for line in lines:
        amount += line_amount(line.quantity, line.unit_price, line.discount_percent)
        cost += money(line.quantity * (line.unit_cost or Decimal("0")))
    offer.amount, offer.cost = amount, cost


def order_totals(order: Order, lines: Iterable[OrderLine]) -> None:
    amount = Decimal("0")
    cost = Decimal("0")
    for line in lines:
        line.amount = line_amount(line.quantity, line.unit_price, line.discount_percent)
        amount += line.amount
        cost += line.cost
    order.amount, order.cost = amount, cost


def order_amount(order: Order) -> Decimal:
    """The order's total, net of discounts, in ``order.currency``."""
    return sum((line.amount for line in order.lines), Decimal("0"))
