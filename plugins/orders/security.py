"""Who may do what in the orders area: permissions given to the kernel's hats, the web
store's own role, and the access rows (each hat sees the offers and orders of its place in
the sales network; the offices see all of them)."""

from __future__ import annotations

from typing import Literal

from accord.api import AccessRule, Permission, Role

SELLERS = ("salesperson", "agent", "distributor", "export_manager", "sales_manager")
WEBSTORE_ROLE = "orders_webstore"

PERMISSIONS = (
    Permission(
        "orders.products.manage",
        "Create and change products and price lists",
        roles=("back_office",),
    ),
    Permission(
        "orders.offers.write",
        "Make offers and take them to the customer",
        roles=(*SELLERS, "back_office"),
    ),
    Permission(
        "orders.offers.approve",
        "Grant or refuse the approvals routed to one's role",
        roles=("sales_manager", "back_office", "technical_office"),
    ),
    Permission("orders.orders.write", "Enter orders", roles=(*SELLERS, "back_office")),
    Permission(
        "orders.orders.confirm",
        "Confirm orders after the availability check",
        roles=("back_office",),
    ),
    Permission(
        "orders.orders.ship",
        "Ship orders: shipments, tracking, serials, licences",
        roles=("back_office",),
    ),
    Permission(
        "orders.orders.invoice", "Mark orders invoiced", roles=("back_office", "administration")
    ),
    Permission(
        "orders.orders.cancel",
        "Cancel orders not yet shipped",
        roles=("back_office", "sales_manager"),
    ),
    Permission(
        "orders.reports.read",
        "See sales and margins on dashboards",
        roles=("sales_manager", "back_office", "administration"),
    ),
    Permission("orders.intake", "Post web-store orders to the intake endpoint"),
)
"""Admins hold every permission through their role's grant of all models; the web store's
role holds the intake."""

ROLES = (
    Role(
        WEBSTORE_ROLE,
        "Web store (order intake API)",
        permissions=(
            "orders.intake",
            "orders.orders.write",
            "orders.orders.confirm",
            "core.partners.read",
            "core.partners.write",
        ),
    ),
)

Operation = Literal["read", "write", "create", "delete"]
READ: tuple[Operation, ...] = ("read",)
READ_WRITE: tuple[Operation, ...] = ("read", "write")
CHANGE: tuple[Operation, ...] = ("read", "write", "create")
ALL: tuple[Operation, ...] = ("read", "write", "create", "delete")


def _sales_rows(model: str, prefix: str) -> list[AccessRule]:
    """The rows of offers and orders alike: sellers by their place in the network, the
    offices by their job."""
    return [
        AccessRule(f"{prefix}_salesperson", model, CHANGE, role="salesperson", scope="own"),
        AccessRule(f"{prefix}_agent", model, CHANGE, role="agent", scope="own"),
        AccessRule(f"{prefix}_distributor", model, CHANGE, role="distributor", scope="team"),
        AccessRule(
            f"{prefix}_export_manager", model, CHANGE, role="export_manager", scope="subtree"
        ),
        AccessRule(f"{prefix}_sales_manager", model, ALL, role="sales_manager", scope="subtree"),
        AccessRule(f"{prefix}_back_office", model, ALL, role="back_office"),
        AccessRule(f"{prefix}_administration", model, READ_WRITE, role="administration"),
        AccessRule(f"{prefix}_support", model, READ, role="support"),
    ]


def access_rules() -> list[AccessRule]:
    follows_offer = [
        AccessRule(
            f"orders.{table}_follows_offer", f"orders_{table}", ALL, role="*", scope="via:offer_id"
        )
        for table in ("offer_line", "offer_approval")
    ]
    follows_order = [
        AccessRule(
            "orders.order_line_follows_order",
            "orders_order_line",
            ALL,
            role="*",
            scope="via:order_id",
        ),
        AccessRule(
            "orders.shipment_follows_order", "orders_shipment", ALL, role="*", scope="via:order_id"
        ),
        AccessRule(
            "orders.shipment_line_follows_shipment",
            "orders_shipment_line",
            ALL,
            role="*",
            scope="via:shipment_id",
        ),
        AccessRule(
            "orders.unit_follows_shipment",
            "orders_delivered_unit",
            ALL,
            role="*",
            scope="via:shipment_id",
        ),
    ]
    return [
        # The catalogue is everybody's to read, the back office's to keep.
        AccessRule("orders.product_catalogue", "orders_product", READ, role="*"),
        AccessRule("orders.product_back_office", "orders_product", ALL, role="back_office"),
        AccessRule("orders.price_list_readers", "orders_price_list", READ, role="*"),
        AccessRule("orders.price_list_back_office", "orders_price_list", ALL, role="back_office"),
        AccessRule("orders.price_item_readers", "orders_price_list_item", READ, role="*"),
        AccessRule(
            "orders.price_item_back_office", "orders_price_list_item", ALL, role="back_office"
        ),
        AccessRule(
            "orders.terms_follow_customer",
            "orders_customer_terms",
            ALL,
            role="*",
            scope="via:partner_id",
        ),
        # Offers: the technical office judges and costs non-standard lines on any offer.
        *_sales_rows("orders_offer", "orders.offer"),
        AccessRule(
            "orders.offer_technical_office",
            "orders_offer",
            READ_WRITE,
            role="technical_office",
        ),
        *follows_offer,
        *_sales_rows("orders_order", "orders.order"),
        *follows_order,
        # The web store: creates and updates its customers and places confirmed orders.
        AccessRule("orders.webstore_customers", "core_partner", CHANGE, role=WEBSTORE_ROLE),
        AccessRule("orders.webstore_orders", "orders_order", CHANGE, role=WEBSTORE_ROLE),
    ]
