"""Hooks the orders plugin offers to the plugins that depend on it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import pluggy
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .models import Product

hookspec = pluggy.HookspecMarker("accord")


@dataclass(frozen=True)
class Availability:
    """Whether ``quantity`` of a product can be delivered, and a note for the back office
    (``"12 in stock"``, ``"arrives on 3 March"``)."""

    available: bool
    note: str = ""


@hookspec(firstresult=True)
def orders_availability(
    session: Session, product: Product, quantity: Decimal
) -> Availability | None:
    """Whether ``quantity`` of ``product`` is available for a new order; the first answer
    that is not ``None`` counts. The orders plugin answers last (``trylast``) from the
    stock figure kept on the product, less what confirmed orders still have to ship; an
    ERP connector answers first from the ERP's stock.

    Example::

        @hookimpl(tryfirst=True)
        def orders_availability(session, product, quantity):
            on_hand = erp.stock(product.sku)
            return Availability(on_hand >= quantity, f"{on_hand} in the ERP")
    """
