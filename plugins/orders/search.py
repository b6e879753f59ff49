"""Customer service finds an order by what the customer has at hand: the order number, a
parcel's tracking number, a unit's serial number or licence key; offers by number. Read
through the user's session, so each hat finds only what it may see."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accord.api import Partner, SearchHit

from .models import DeliveredUnit, Offer, Order, Shipment


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


def find_orders(session: Session, text: str, limit: int) -> Sequence[SearchHit]:
    """Orders whose number starts with ``text``, or with a parcel, serial number or
    licence key that is ``text`` exactly (each an indexed lookup)."""
    return lookup(session, text, min(limit, 5))


def lookup(
    session: Session, text: str, limit: int, partner_id: int | None = None
) -> Sequence[SearchHit]:
    """As :func:`find_orders`, optionally among one customer's orders only."""
    wanted = text.strip()
    prefix = _escaped(wanted) + "%"
    by_parcel = select(Shipment.order_id).where(Shipment.tracking_number == wanted)
    by_unit = (
        select(Shipment.order_id)
        .join(DeliveredUnit, DeliveredUnit.shipment_id == Shipment.id)
        .where(or_(DeliveredUnit.serial_number == wanted, DeliveredUnit.licence_key == wanted))
    )
    rows = session.execute(
        select(Order, Partner.name)
        .join(Partner, Partner.id == Order.partner_id)
        .where(
            or_(
                Order.number.like(prefix, escape="\\"),
                Order.number == wanted.upper(),
                Order.id.in_(by_parcel),
                Order.id.in_(by_unit),
            )
        )
        .where(*([Order.partner_id == partner_id] if partner_id is not None else []))
        .order_by(Order.id.desc())
        .limit(limit)
    ).all()
    hits = []
    for order, customer in rows:
        matched = _why(session, order, wanted)
        subtitle = f"{customer} · {order.state}" + (f" · {matched}" if matched else "")
        hits.append(SearchHit(f"Order {order.number}", f"/orders/orders/{order.id}", subtitle))
    return hits


def _why(session: Session, order: Order, wanted: str) -> str:
    if order.number.upper().startswith(wanted.upper()):
        return ""
    if session.scalar(
        select(Shipment.id).where(Shipment.order_id == order.id, Shipment.tracking_number == wanted)
    ):
        return f"tracking {wanted}"
    unit = session.scalar(
        select(DeliveredUnit)
        .join(Shipment, Shipment.id == DeliveredUnit.shipment_id)
        .where(
            Shipment.order_id == order.id,
            or_(DeliveredUnit.serial_number == wanted, DeliveredUnit.licence_key == wanted),
        )
        .limit(1)
    )
    if unit is not None:
        return f"serial {wanted}" if unit.serial_number == wanted else f"licence {wanted}"
    return ""


def find_offers(session: Session, text: str, limit: int) -> Sequence[SearchHit]:
    prefix = _escaped(text.strip()) + "%"
    rows = session.execute(
        select(Offer, Partner.name)
        .join(Partner, Partner.id == Offer.partner_id)
        .where(or_(Offer.number.like(prefix, escape="\\"), Offer.number == text.strip().upper()))
        .order_by(Offer.id.desc())
        .limit(min(limit, 5))
    ).all()
    return [
        SearchHit(
            f"Offer {offer.number}", f"/orders/offers/{offer.id}", f"{customer} · {offer.state}"
        )
        for offer, customer in rows
    ]
