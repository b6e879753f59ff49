"""The orders area's facts and the customer's timeline, derived from its workflow steps:
whichever way a record was moved (a service, a board, a job), subscribers hear the same
business event and the timeline shows it. Subscribers run as the system after commit, so
an approver who may not write the customer still leaves a trace on its timeline."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from accord.api import ActivityKind, Event, EventSubscriber, emit, log_activity

from .models import Offer, OfferApproval, Order
from .ordering import order_event_payload
from .workflows import KIND_TITLES, role_title

ORDER_STEPS = {
    "confirm": ("orders.order_confirmed", "confirmed"),
    "deliver": ("orders.order_delivered", "delivered"),
    "invoice": ("orders.order_invoiced", "invoiced"),
    "cancel": ("orders.order_cancelled", "cancelled"),
}
OFFER_STEPS = {
    "approve": "approved",
    "revise": "back to draft",
    "send": "sent to the customer",
    "accept": "accepted by the customer",
    "reject": "rejected",
    "expire": "expired",
    "order": "ordered",
}


def actor_id(event: Event) -> int | None:
    """The user id in a workflow event's ``actor`` (``user:12:sam``), if a user acted."""
    kind, _, rest = str(event.payload.get("actor", "")).partition(":")
    number = rest.partition(":")[0]
    return int(number) if kind == "user" and number.isdigit() else None


def _order_log(
    session: Session, order: Order, subject: str, user_id: int | None, body: str = ""
) -> None:
    log_activity(
        session,
        order.partner_id,
        ActivityKind.SYSTEM,
        subject,
        body=body,
        user_id=user_id,
        source="orders",
        source_ref=f"orders_order:{order.id}",
    )


def _offer_log(
    session: Session, offer: Offer, subject: str, user_id: int | None, body: str = ""
) -> None:
    log_activity(
        session,
        offer.partner_id,
        ActivityKind.SYSTEM,
        subject,
        body=body,
        user_id=user_id,
        source="orders",
        source_ref=f"orders_offer:{offer.id}",
    )


def order_step(step: str) -> EventSubscriber:
    name, verb = ORDER_STEPS[step]

    def handle(session: Session, event: Event) -> None:
        order = session.get(Order, event.payload["id"])
        if order is None:
            return
        reason = str(event.payload.get("inputs", {}).get("reason", ""))
        extra = {"reason": reason} if step == "cancel" else {}
        emit(session, name, order_event_payload(order, **extra), key=f"{name}:{order.id}")
        _order_log(session, order, f"Order {order.number} {verb}", actor_id(event), reason)

    return EventSubscriber(f"orders.order_{verb}_timeline", f"orders.order.{step}", handle=handle)


def offer_step(step: str) -> EventSubscriber:
    verb = OFFER_STEPS[step]

    def handle(session: Session, event: Event) -> None:
        offer = session.get(Offer, event.payload["id"])
        if offer is None:
            return
        reason = str(event.payload.get("inputs", {}).get("reason", ""))
        _offer_log(session, offer, f"Offer {offer.number} {verb}", actor_id(event), reason)

    return EventSubscriber(f"orders.offer_{step}_timeline", f"orders.offer.{step}", handle=handle)


def offer_submitted(session: Session, event: Event) -> None:
    offer = session.get(Offer, event.payload["id"])
    if offer is None:
        return
    waiting = [
        f"{KIND_TITLES[approval.kind]} by {role_title(approval.role)}"
        for approval in offer.approvals
        if approval.state == "pending"
    ]
    subject = f"Offer {offer.number} submitted"
    if waiting:
        subject += ", waiting for " + "; ".join(waiting)
    _offer_log(session, offer, subject[:200], actor_id(event))


def approval_step(step: str) -> EventSubscriber:
    verb = {"grant": "granted", "refuse": "refused"}[step]

    def handle(session: Session, event: Event) -> None:
        approval = session.get(OfferApproval, event.payload["id"])
        if approval is None:
            return
        reason = str(event.payload.get("inputs", {}).get("reason", ""))
        subject = f"Offer {approval.offer.number}: {KIND_TITLES[approval.kind]} {verb}"
        _offer_log(session, approval.offer, subject, actor_id(event), reason or approval.note)

    return EventSubscriber(
        f"orders.approval_{step}_timeline", f"orders.offer_approval.{step}", handle=handle
    )


def order_placed(session: Session, event: Event) -> None:
    order = session.get(Order, event.payload["order_id"])
    if order is not None:
        amount = f"{order.amount} {order.currency}"
        _order_log(
            session,
            order,
            f"Order {order.number} placed ({amount}, {order.source})",
            order.owner_id,
        )


def shipment_sent(session: Session, event: Event) -> None:
    order = session.get(Order, event.payload["order_id"])
    if order is not None:
        what = "shipped" if event.payload.get("complete") else "partly shipped"
        carrier = event.payload.get("carrier") or ""
        body = f"{carrier} {event.payload['tracking_number']}".strip()
        _order_log(session, order, f"Order {order.number} {what}", None, f"Tracking: {body}")


def subscribers() -> list[EventSubscriber]:
    simple: list[tuple[str, str, Callable[[Session, Event], None]]] = [
        ("orders.offer_submitted_timeline", "orders.offer.submit", offer_submitted),
        ("orders.order_placed_timeline", "orders.order_placed", order_placed),
        ("orders.shipment_sent_timeline", "orders.shipment_sent", shipment_sent),
    ]
    return [
        *(EventSubscriber(name, event, handle=handle) for name, event, handle in simple),
        *(order_step(step) for step in ORDER_STEPS),
        *(offer_step(step) for step in OFFER_STEPS),
        *(approval_step(step) for step in ("grant", "refuse")),
    ]
