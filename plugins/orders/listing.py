"""The lists of offers, orders and products (``/views/<name>``): each filter and sort on
an indexed column (DESIGN rule 9)."""

from __future__ import annotations

from accord.api import ListColumn, ListFilter, ModelView

from .workflows import OFFER_STATES, ORDER_STATES


def _states(states: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((state, state.replace("_", " ").capitalize()) for state in states)


def model_views() -> list[ModelView]:
    return [
        ModelView(
            "orders-offers",
            model="orders_offer",
            title="Offers",
            columns=(
                ListColumn("number", "Number"),
                ListColumn("partner_id", "Customer"),
                ListColumn("state", "State", sortable=True),
                ListColumn("amount", "Amount"),
                ListColumn("currency", "Currency"),
                ListColumn("valid_until", "Valid until"),
                ListColumn("owner_id", "Salesperson"),
            ),
            search=("number",),
            filters=(ListFilter("state", "State", choices=_states(OFFER_STATES)),),
            default_sort="-id",
            order=200,
        ),
        ModelView(
            "orders-orders",
            model="orders_order",
            title="Orders",
            columns=(
                ListColumn("number", "Number"),
                ListColumn("partner_id", "Customer"),
                ListColumn("state", "State", sortable=True),
                ListColumn("ordered_on", "Ordered on", sortable=True),
                ListColumn("amount", "Amount"),
                ListColumn("currency", "Currency"),
                ListColumn("source", "Source"),
                ListColumn("owner_id", "Salesperson"),
            ),
            search=("number",),
            filters=(ListFilter("state", "State", choices=_states(ORDER_STATES)),),
            default_sort="-id",
            order=210,
        ),
        ModelView(
            "orders-products",
            model="orders_product",
            title="Products",
            columns=(
                ListColumn("sku", "SKU"),
                ListColumn("name", "Name", sortable=True),
                ListColumn("product_line", "Product line", sortable=True),
                ListColumn("list_price", "List price"),
                ListColumn("cost", "Cost"),
                ListColumn("unit", "Unit"),
                ListColumn("stock", "Stock"),
                ListColumn("standard", "Standard"),
                ListColumn("active", "Active"),
            ),
            search=("sku", "name"),
            filters=(ListFilter("active", "Active", kind="boolean"),),
            default_sort="name",
            order=230,
        ),
    ]
