"""The state machines of offers, their approvals and orders. Guards read only the record
and its rows: what needs the company's settings or another system (the approval routing,
the availability provider) runs in the services of ``api.py`` before the step, which
records its outcome on the record for the guard to judge."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.api import Guard, Transition, Workflow, principal_of

from .models import ApprovalKind, Offer, OfferApproval, OfferLine, Order, OrderLine

OFFER = "orders.offer"
APPROVAL = "orders.offer_approval"
ORDER = "orders.order"

OFFER_STATES = (
    "draft",
    "submitted",
    "approved",
    "sent",
    "accepted",
    "ordered",
    "rejected",
    "expired",
)
APPROVAL_STATES = ("pending", "granted", "refused", "withdrawn")
ORDER_STATES = (
    "draft",
    "confirmed",
    "partially_shipped",
    "shipped",
    "delivered",
    "invoiced",
    "cancelled",
)
OPEN_ORDER_STATES = ("confirmed", "partially_shipped")
"""Orders in the shipping queue."""
SOLD_ORDER_STATES = ("confirmed", "partially_shipped", "shipped", "delivered", "invoiced")
"""Orders that count as sales on the dashboards."""

ROLE_TITLES = {
    "sales_manager": "sales management",
    "back_office": "the back office",
    "technical_office": "the technical office",
}
KIND_TITLES = {
    ApprovalKind.DISCOUNT: "discount",
    ApprovalKind.FEASIBILITY: "feasibility, cost and lead time",
    ApprovalKind.AVAILABILITY: "availability",
}


def role_title(role: str) -> str:
    return ROLE_TITLES.get(role, role.replace("_", " "))


def offer_has_lines(session: Session, offer: Offer, inputs: Mapping[str, Any]) -> str | None:
    count = session.scalar(
        select(func.count()).select_from(OfferLine).where(OfferLine.offer_id == offer.id)
    )
    return None if count else "the offer has no lines; add what is offered first"


def offer_fingerprint(session: Session, offer_id: int) -> str:
    """A digest of what an offer's lines say: approvals hold for the lines they approved."""
    rows = session.execute(
        select(
            OfferLine.product_id,
            OfferLine.description,
            OfferLine.quantity,
            OfferLine.unit_price,
            OfferLine.discount_percent,
            OfferLine.standard,
        )
        .where(OfferLine.offer_id == offer_id)
        .order_by(OfferLine.position, OfferLine.id)
    ).all()
    text = "\n".join("|".join(_plain(value) for value in row) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def offer_is_routed(session: Session, offer: Offer, inputs: Mapping[str, Any]) -> str | None:
    """The lines were routed to their approvers as they are now (``submit_offer`` routes
    them with the company's policy; an unchanged offer keeps its routing)."""
    if offer.routed_fingerprint != offer_fingerprint(session, offer.id):
        return NOT_ROUTED
    return None


NOT_ROUTED = "submit it from the offer's page, which routes it to its approvers"


def approvals_granted(session: Session, offer: Offer, inputs: Mapping[str, Any]) -> str | None:
    current = (
        OfferApproval.offer_id == offer.id,
        OfferApproval.fingerprint == offer_fingerprint(session, offer.id),
    )
    if offer.routed_fingerprint != offer_fingerprint(session, offer.id):
        return "the lines changed since the offer was submitted; submit it again"
    waiting = session.execute(
        select(OfferApproval.kind, OfferApproval.role).where(
            *current, OfferApproval.state == "pending"
        )
    ).all()
    if waiting:
        parts = [f"{KIND_TITLES[kind]} by {role_title(role)}" for kind, role in waiting]
        return "waiting for approval: " + "; ".join(parts)
    refused = session.scalar(
        select(func.count())
        .select_from(OfferApproval)
        .where(*current, OfferApproval.state == "refused")
    )
    return "an approval was refused; revise the offer" if refused else None


def wears_the_role(
    session: Session, approval: OfferApproval, inputs: Mapping[str, Any]
) -> str | None:
    """An approval is decided by someone wearing the role it is routed to (or an admin)."""
    principal = principal_of(session)
    if principal is None or principal.is_system or principal.roles & {approval.role, "admin"}:
        return None
    return f"this approval is routed to {role_title(approval.role)}"


def order_has_lines(session: Session, order: Order, inputs: Mapping[str, Any]) -> str | None:
    count = session.scalar(
        select(func.count()).select_from(OrderLine).where(OrderLine.order_id == order.id)
    )
    return None if count else "the order has no lines"


def availability_confirmed(session: Session, order: Order, inputs: Mapping[str, Any]) -> str | None:
    if order.availability_checked_at is None:
        return AVAILABILITY_UNCHECKED
    short = session.execute(
        select(OrderLine.sku, OrderLine.description).where(
            OrderLine.order_id == order.id, OrderLine.available.is_not(True)
        )
    ).all()
    if not short:
        return None
    # The provider's note per SKU, as check_availability keeps it: "SKU: note; ...".
    notes = dict(
        entry.split(": ", 1) for entry in order.availability_note.split("; ") if ": " in entry
    )
    parts = [
        f"{description} ({notes[sku]})" if sku in notes else description
        for sku, description in short
    ]
    return NOT_AVAILABLE + ", ".join(parts)


AVAILABILITY_UNCHECKED = "check availability first"
NOT_AVAILABLE = "not available: "


def _shipped(session: Session, order: Order) -> tuple[int, int]:
    """(lines fully shipped, lines) of the order."""
    row = session.execute(
        select(
            func.count(),
            func.count().filter(OrderLine.shipped_quantity >= OrderLine.quantity),
        ).where(OrderLine.order_id == order.id)
    ).one()
    return int(row[1]), int(row[0])


def everything_shipped(session: Session, order: Order, inputs: Mapping[str, Any]) -> str | None:
    done, lines = _shipped(session, order)
    return None if lines and done == lines else "some lines are still to ship"


def part_shipped(session: Session, order: Order, inputs: Mapping[str, Any]) -> str | None:
    done, lines = _shipped(session, order)
    shipped_any = session.scalar(
        select(func.count())
        .select_from(OrderLine)
        .where(OrderLine.order_id == order.id, OrderLine.shipped_quantity > 0)
    )
    if not shipped_any:
        return "record a shipment first"
    return "everything is shipped" if done == lines else None


def workflows() -> list[Workflow]:
    return [
        Workflow(
            name=OFFER,
            model="orders_offer",
            initial="draft",
            states=OFFER_STATES,
            transitions=(
                Transition(
                    "submit",
                    ("draft",),
                    "submitted",
                    permission="orders.offers.write",
                    guards=(
                        Guard("orders.offer_has_lines", offer_has_lines),
                        Guard("orders.offer_is_routed", offer_is_routed),
                    ),
                ),
                # The consequence of the last approval, not a decision of its own.
                Transition(
                    "approve",
                    ("submitted",),
                    "approved",
                    guards=(Guard("orders.approvals_granted", approvals_granted),),
                ),
                Transition(
                    "revise",
                    ("submitted", "approved", "rejected"),
                    "draft",
                    permission="orders.offers.write",
                ),
                Transition("send", ("approved",), "sent", permission="orders.offers.write"),
                Transition("accept", ("sent",), "accepted", permission="orders.offers.write"),
                Transition(
                    "reject",
                    ("approved", "sent"),
                    "rejected",
                    permission="orders.offers.write",
                    required_inputs=("reason",),
                ),
                Transition("expire", ("approved", "sent"), "expired"),
                Transition("order", ("accepted",), "ordered", permission="orders.orders.write"),
            ),
        ),
        Workflow(
            name=APPROVAL,
            model="orders_offer_approval",
            initial="pending",
            states=APPROVAL_STATES,
            transitions=(
                Transition(
                    "grant",
                    ("pending",),
                    "granted",
                    permission="orders.offers.approve",
                    guards=(Guard("orders.wears_the_role", wears_the_role),),
                    requester_field="requested_by_id",
                    allow_self_approval=False,
                ),
                Transition(
                    "refuse",
                    ("pending",),
                    "refused",
                    permission="orders.offers.approve",
                    required_inputs=("reason",),
                    guards=(Guard("orders.wears_the_role_to_refuse", wears_the_role),),
                    requester_field="requested_by_id",
                    allow_self_approval=False,
                ),
                Transition("withdraw", ("pending",), "withdrawn", permission="orders.offers.write"),
            ),
        ),
        Workflow(
            name=ORDER,
            model="orders_order",
            initial="draft",
            states=ORDER_STATES,
            transitions=(
                Transition(
                    "confirm",
                    ("draft",),
                    "confirmed",
                    permission="orders.orders.confirm",
                    guards=(
                        Guard("orders.order_has_lines", order_has_lines),
                        Guard("orders.availability_confirmed", availability_confirmed),
                    ),
                ),
                Transition(
                    "ship_partially",
                    ("confirmed", "partially_shipped"),
                    "partially_shipped",
                    permission="orders.orders.ship",
                    guards=(Guard("orders.part_shipped", part_shipped),),
                ),
                Transition(
                    "ship",
                    ("confirmed", "partially_shipped"),
                    "shipped",
                    permission="orders.orders.ship",
                    guards=(Guard("orders.everything_shipped", everything_shipped),),
                ),
                Transition("deliver", ("shipped",), "delivered", permission="orders.orders.ship"),
                Transition(
                    "invoice",
                    ("shipped", "delivered"),
                    "invoiced",
                    permission="orders.orders.invoice",
                ),
                Transition(
                    "cancel",
                    ("draft", "confirmed"),
                    "cancelled",
                    permission="orders.orders.cancel",
                    required_inputs=("reason",),
                ),
            ),
        ),
    ]
