"""Who may see and change receivables and credit lines: every hat reads the receivables
of the customers it may read; administration keeps the books."""

from __future__ import annotations

from accord.api import AccessRule, Permission

READ = "collections.read"
MANAGE_CREDIT = "collections.manage_credit"
RECORD_PAYMENTS = "collections.record_payments"
OVERRIDE_BLOCK = "collections.override_credit_block"

BOOKS = ("administration",)
"""The hats that keep the books (admin holds every row through the kernel's rule)."""
SALES = ("sales_manager", "salesperson", "agent", "export_manager", "back_office")

PERMISSIONS = (
    Permission(READ, "See receivables, aging and dunning", roles=(*BOOKS, *SALES, "admin")),
    Permission(MANAGE_CREDIT, "Set customers' credit lines and ratings", roles=(*BOOKS, "admin")),
    Permission(RECORD_PAYMENTS, "Record invoices and payments", roles=(*BOOKS, "admin")),
    Permission(
        OVERRIDE_BLOCK,
        "Confirm an order despite the customer's credit block",
        roles=(*BOOKS, "admin"),
    ),
)


def access_rules() -> list[AccessRule]:
    rules = [
        # What hangs on a customer is read with it.
        AccessRule(
            "collections.credit_follows_partner",
            "collections_credit_line",
            ("read",),
            role="*",
            scope="via:partner_id",
        ),
        AccessRule(
            "collections.invoice_follows_partner",
            "collections_invoice",
            ("read",),
            role="*",
            scope="via:partner_id",
        ),
        AccessRule(
            "collections.payment_follows_invoice",
            "collections_payment",
            ("read",),
            role="*",
            scope="via:invoice_id",
        ),
        AccessRule(
            "collections.notice_follows_invoice",
            "collections_dunning_notice",
            ("read",),
            role="*",
            scope="via:invoice_id",
        ),
        AccessRule(
            "collections.override_follows_partner",
            "collections_credit_override",
            ("read",),
            role="*",
            scope="via:partner_id",
        ),
    ]
    for role in BOOKS:
        rules += [
            AccessRule(
                f"collections.credit_{role}",
                "collections_credit_line",
                ("read", "write", "create"),
                role=role,
            ),
            AccessRule(
                f"collections.invoice_{role}",
                "collections_invoice",
                ("read", "write", "create"),
                role=role,
            ),
            AccessRule(
                f"collections.payment_{role}", "collections_payment", ("read", "create"), role=role
            ),
        ]
    return rules
