"""Orders: entered directly or made from an accepted offer, confirmed by the back office
after an availability check, shipped in one or more parcels with their tracking numbers
and the serial number or licence key of every tracked unit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from accord.api import AccordError, Runtime, TransitionConflictError, emit, principal_of, utcnow

from .hookspecs import Availability
from .models import (
    DeliveredUnit,
    Offer,
    Order,
    OrderLine,
    OrderSource,
    Product,
    Shipment,
    ShipmentLine,
    UnitTracking,
)
from .numbers import assign_number, next_number
from .offers import LineInput, settings_of
from .pricing import money, order_totals, price_for
from .workflows import OPEN_ORDER_STATES


class OrderError(AccordError):
    """An order cannot be made, confirmed or shipped as asked; the message says why."""


@dataclass(frozen=True)
class UnitInput:
    """One delivered unit of a tracked product."""

    serial_number: str | None = None
    licence_key: str | None = None


@dataclass(frozen=True)
class ShipmentInput:
    """What leaves in one parcel: quantities by order line id, and the units of tracked
    products by order line id (one per unit shipped)."""

    tracking_number: str
    quantities: Mapping[int, Decimal]
    carrier: str = ""
    units: Mapping[int, Sequence[UnitInput]] = field(default_factory=dict)


def create_order(
    runtime: Runtime,
    session: Session,
    *,
    partner_id: int,
    lines: Sequence[LineInput],
    owner_id: int | None = None,
    team_id: int | None = None,
    source: OrderSource = OrderSource.DIRECT,
    external_ref: str | None = None,
    offer_id: int | None = None,
    shipping_address: str = "",
    customer_email: str = "",
    campaign_token: str | None = None,
    ordered_on: dt.date | None = None,
) -> Order:
    """A draft order with its lines; emits ``orders.order_placed``."""
    settings = settings_of(runtime)
    principal = principal_of(session)
    if owner_id is None and principal is not None and source != OrderSource.WEBSTORE:
        owner_id = principal.user_id
        team_id = team_id if team_id is not None else principal.team_id
    if not lines:
        raise OrderError("an order needs at least one line")
    order = Order(
        number=next_number(session, Order, settings.order_prefix),
        partner_id=partner_id,
        owner_id=owner_id,
        team_id=team_id,
        offer_id=offer_id,
        source=source,
        external_ref=external_ref,
        currency=settings.currency,
        ordered_on=ordered_on or dt.date.today(),
        shipping_address=shipping_address,
        customer_email=customer_email,
        campaign_token=campaign_token or None,
    )
    runtime.workflows.start(session, order)
    for position, line in enumerate(lines, start=1):
        order.lines.append(_order_line(session, partner_id, position, line))
    order_totals(order, order.lines)
    number = assign_number(session, order, settings.order_prefix)
    emit(
        session,
        "orders.order_placed",
        {
            "order_id": order.id,
            "number": number,
            "partner_id": partner_id,
            "source": str(source),
            "amount": str(order.amount),
            "currency": order.currency,
            "ordered_on": order.ordered_on.isoformat(),
            "campaign_token": order.campaign_token,
        },
        key=f"orders.order_placed:{order.id}",
    )
    return order


def change_order(session: Session, order: Order, lines: Sequence[LineInput]) -> Order:
    """Replace a draft order's lines (the back office correcting a held web-store order,
    the salesperson an order not confirmed yet); availability is asked again when it is
    confirmed."""
    if order.state != "draft":
        raise OrderError(
            f"order {order.number}: its lines change only in draft (it is {order.state})"
        )
    if not lines:
        raise OrderError(f"order {order.number}: an order needs at least one line")
    order.lines.clear()
    session.flush()
    for position, line in enumerate(lines, start=1):
        order.lines.append(_order_line(session, order.partner_id, position, line))
    order_totals(order, order.lines)
    order.availability_checked_at = None
    order.availability_note = ""
    flush_or_conflict(session, order, "change")
    return order


def _order_line(session: Session, partner_id: int, position: int, line: LineInput) -> OrderLine:
    where = f"line {position}"
    if line.quantity <= 0:
        raise OrderError(f"{where}: quantity must be more than 0, got {line.quantity}")
    if not Decimal("0") <= line.discount_percent <= Decimal("100"):
        raise OrderError(
            f"{where}: discount must be between 0 and 100, got {line.discount_percent}"
        )
    product = session.get(Product, line.product_id) if line.product_id is not None else None
    if line.product_id is not None and product is None:
        raise OrderError(f"{where}: no product #{line.product_id}")
    if product is None and (not line.description.strip() or line.unit_price is None):
        raise OrderError(f"{where}: give a product, or a description and a unit price")
    unit_price = line.unit_price
    if unit_price is None:
        assert product is not None
        unit_price = price_for(session, partner_id, product)
    return OrderLine(
        position=position,
        product_id=product.id if product else None,
        sku=product.sku if product else "",
        description=line.description.strip() or (product.name if product else ""),
        product_line=product.product_line if product else "",
        quantity=line.quantity,
        unit_price=unit_price,
        discount_percent=line.discount_percent,
        cost=money(line.quantity * (product.cost if product else Decimal("0"))),
        shipped_quantity=Decimal("0"),
    )


def order_from_offer(runtime: Runtime, session: Session, offer: Offer) -> Order:
    """The order of an accepted offer, with its lines, prices and discounts; the offer
    becomes ``ordered``."""
    if offer.state != "accepted":
        raise OrderError(
            f"offer {offer.number}: only an accepted offer is ordered (it is {offer.state})"
        )
    lines = [
        LineInput(
            quantity=line.quantity,
            product_id=line.product_id,
            description=line.description,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
        )
        for line in offer.lines
    ]
    order = create_order(
        runtime,
        session,
        partner_id=offer.partner_id,
        lines=lines,
        owner_id=offer.owner_id,
        team_id=offer.team_id,
        source=OrderSource.OFFER,
        offer_id=offer.id,
    )
    for order_line, offer_line in zip(order.lines, offer.lines, strict=True):
        if offer_line.unit_cost is not None:
            order_line.cost = money(order_line.quantity * offer_line.unit_cost)
    order_totals(order, order.lines)
    runtime.workflows.transition(session, offer, "order")
    return order


def availability(
    runtime: Runtime, session: Session, product: Product, quantity: Decimal
) -> Availability:
    """The availability provider's answer (an ERP connector's, or the stock figure's)."""
    answer = runtime.pm.hook.orders_availability(
        session=session, product=product, quantity=quantity
    )
    if answer is None:
        return Availability(False, "no availability provider answered")
    assert isinstance(answer, Availability)
    return answer


def stock_availability(session: Session, product: Product, quantity: Decimal) -> Availability:
    """The default provider: the product's stock less what confirmed orders have still to
    ship."""
    committed = session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity - OrderLine.shipped_quantity), 0))
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.product_id == product.id, Order.state.in_(OPEN_ORDER_STATES))
    )
    free = product.stock - Decimal(committed or 0)
    if free >= quantity:
        return Availability(True, f"{free.normalize():f} {product.unit} free in stock")
    return Availability(
        False, f"only {max(free, Decimal(0)).normalize():f} {product.unit} free in stock"
    )


def check_availability(runtime: Runtime, session: Session, order: Order) -> list[str]:
    """Ask the availability provider about every line; the answers are kept on the order
    (what the confirm step's guard reads). Returns the lines that are short."""
    short: list[str] = []
    notes: list[str] = []
    for line in order.lines:
        if line.product is None:  # a service or a made-to-order item: nothing to stock
            line.available = True
            continue
        remaining = line.quantity - line.shipped_quantity
        answer = availability(runtime, session, line.product, remaining)
        line.available = answer.available
        notes.append(f"{line.sku}: {answer.note}" if answer.note else line.sku)
        if not answer.available:
            short.append(f"{line.description} ({answer.note})")
    order.availability_checked_at = utcnow()
    order.availability_note = "; ".join(notes)[:2000]
    flush_or_conflict(session, order, "check availability")
    return short


def flush_or_conflict(session: Session, order: Order, step: str) -> None:
    """Write the order's changes; when another user changed it meanwhile (its version
    moved on), say so as the workflow engine does, so both paths read the same."""
    label = f"orders_order #{order.id}"  # read now: after a failed flush it cannot be
    try:
        session.flush()
    except StaleDataError:
        raise TransitionConflictError(
            label, step, "it was changed by someone else meanwhile; reload it"
        ) from None


def confirm(runtime: Runtime, session: Session, order: Order, **inputs: str) -> None:
    """Check availability, then confirm the order (the ``confirm`` step: its permission,
    guards and every plugin's veto apply; ``inputs`` go to the step for those vetoes and
    stay in its history). The order then waits in the shipping queue."""
    check_availability(runtime, session, order)
    runtime.workflows.transition(session, order, "confirm", **inputs)
    principal = principal_of(session)
    order.confirmed_by_id = principal.user_id if principal is not None else None
    order.confirmed_at = utcnow()
    session.flush()


def ship(runtime: Runtime, session: Session, order: Order, parcel: ShipmentInput) -> Shipment:
    """Record a parcel: quantities shipped per line (no more than is left), the tracking
    number, and one serial number or licence key per unit of a tracked product. Stock goes
    down; the order becomes partially shipped or shipped."""
    tracking = parcel.tracking_number.strip()
    if not tracking:
        raise OrderError(f"order {order.number}: give the parcel's tracking number")
    if order.state not in OPEN_ORDER_STATES:
        raise OrderError(
            f"order {order.number}: only a confirmed order ships (it is {order.state})"
        )
    by_id = {line.id: line for line in order.lines}
    principal = principal_of(session)
    shipment = Shipment(
        order_id=order.id,
        carrier=parcel.carrier.strip(),
        tracking_number=tracking,
        shipped_at=utcnow(),
        shipped_by_id=principal.user_id if principal is not None else None,
    )
    session.add(shipment)
    session.flush()
    shipped_any = False
    for line_id, quantity in parcel.quantities.items():
        line = by_id.get(line_id)
        if line is None:
            raise OrderError(f"order {order.number}: it has no line #{line_id}")
        if quantity == 0:
            continue
        left = line.quantity - line.shipped_quantity
        where = f"order {order.number}, line {line.position} ({line.description})"
        if quantity < 0 or quantity > left:
            raise OrderError(f"{where}: ship between 0 and {left.normalize():f}, got {quantity}")
        units = list(parcel.units.get(line_id, ()))
        _check_units(where, line, quantity, units)
        session.add(ShipmentLine(shipment_id=shipment.id, order_line_id=line.id, quantity=quantity))
        for unit in units:
            session.add(
                DeliveredUnit(
                    shipment_id=shipment.id,
                    order_line_id=line.id,
                    serial_number=(unit.serial_number or "").strip() or None,
                    licence_key=(unit.licence_key or "").strip() or None,
                )
            )
        line.shipped_quantity = line.shipped_quantity + quantity
        if line.product is not None:
            line.product.stock = line.product.stock - quantity
        shipped_any = True
    if not shipped_any:
        raise OrderError(f"order {order.number}: the parcel ships nothing; give quantities")
    session.flush()
    done = all(line.shipped_quantity >= line.quantity for line in order.lines)
    runtime.workflows.transition(session, order, "ship" if done else "ship_partially")
    emit(
        session,
        "orders.shipment_sent",
        {
            "order_id": order.id,
            "number": order.number,
            "partner_id": order.partner_id,
            "shipment_id": shipment.id,
            "tracking_number": tracking,
            "carrier": shipment.carrier,
            "complete": done,
        },
        key=f"orders.shipment_sent:{shipment.id}",
    )
    return shipment


def _check_units(where: str, line: OrderLine, quantity: Decimal, units: list[UnitInput]) -> None:
    tracking = line.product.tracking if line.product is not None else UnitTracking.NONE
    if tracking == UnitTracking.NONE:
        if units:
            raise OrderError(f"{where}: this product records no serial numbers or licence keys")
        return
    what = "serial number" if tracking == UnitTracking.SERIAL else "licence key"
    if quantity != int(quantity) or len(units) != int(quantity):
        raise OrderError(
            f"{where}: give one {what} per unit shipped "
            f"({quantity.normalize():f}), got {len(units)}"
        )
    values = [
        (unit.serial_number if tracking == UnitTracking.SERIAL else unit.licence_key) or ""
        for unit in units
    ]
    if any(not value.strip() for value in values):
        raise OrderError(f"{where}: a {what} is blank")
    if len({value.strip() for value in values}) != len(values):
        raise OrderError(f"{where}: the same {what} is given twice")


def order_event_payload(order: Order, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "number": order.number,
        "partner_id": order.partner_id,
        "owner_id": order.owner_id,
        "amount": str(order.amount),
        "currency": order.currency,
        **extra,
    }
