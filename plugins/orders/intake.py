"""Stock-to-dock: a web store's order arrives as JSON and, with no human in the loop,
updates or creates the customer, becomes a confirmed order in the shipping queue, mails
the buyer its confirmation and tells campaigns which tracked link brought the buyer.

Posting the same store order again changes nothing and answers with the order it made
(idempotent by the store's order id). A malformed payload is refused whole, naming each
field that is wrong; nothing is written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.api import (
    AccordError,
    Address,
    AddressKind,
    Partner,
    PartnerExternalId,
    PartnerKind,
    Runtime,
    TransitionBlockedError,
    find_by_external_id,
    send_mail,
)

from .models import Order, OrderSource, Product
from .offers import LineInput, settings_of
from .ordering import confirm, create_order

CONFIRMATION_MAIL = "orders.order_confirmation"

Text = Annotated[str, Field(max_length=200)]


class StoreAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    street: Text = ""
    city: Annotated[str, Field(max_length=100)] = ""
    postcode: Annotated[str, Field(max_length=20)] = ""
    region: Annotated[str, Field(max_length=100)] = ""
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = Field(
        ..., description="ISO 3166 two-letter code"
    )


class StoreCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Annotated[str, Field(min_length=1, max_length=120)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: Annotated[str, Field(max_length=40)] = ""
    company: Annotated[str | None, Field(max_length=200)] = None
    address: StoreAddress


class StoreLine(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sku: Annotated[str, Field(min_length=1, max_length=40)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    discount_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal("0")


class StoreOrder(BaseModel):
    """The web store's order as it posts it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    store_order_id: Annotated[str, Field(min_length=1, max_length=80)]
    placed_at: dt.datetime | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    customer: StoreCustomer
    lines: Annotated[list[StoreLine], Field(min_length=1, max_length=500)]
    tracking_token: Annotated[str | None, Field(max_length=120)] = None

    @field_validator("placed_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-23T10:00:00Z")
        return value


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class IntakeError(AccordError):
    """The payload is refused; ``errors`` name each field that is wrong."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class IntakeResult:
    order: Order
    created: bool
    held: str | None = None
    """Why the order waits in draft for the back office (a shortage, a credit hold)."""


def field_path(location: tuple[int | str, ...]) -> str:
    """``("lines", 0, "sku")`` → ``lines[0].sku``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse(payload: Any) -> StoreOrder:
    try:
        return StoreOrder.model_validate(payload)
    except ValidationError as error:
        raise IntakeError(
            [FieldError(field_path(e["loc"]) or "(body)", e["msg"]) for e in error.errors()]
        ) from None


def receive(runtime: Runtime, session: Session, payload: Any) -> IntakeResult:
    """Take a web-store order: validate it whole, then write it in the caller's
    transaction (see the module's docstring)."""
    store_order = parse(payload)
    settings = settings_of(runtime)
    existing = _existing(session, store_order.store_order_id)
    if existing is not None:
        return IntakeResult(existing, created=False)
    errors: list[FieldError] = []
    if store_order.currency != settings.currency:
        errors.append(
            FieldError(
                "currency", f"this store sells in {settings.currency}, not {store_order.currency}"
            )
        )
    skus = {line.sku for line in store_order.lines}
    products = {
        product.sku: product
        for product in session.scalars(select(Product).where(Product.sku.in_(skus)))
    }
    for index, line in enumerate(store_order.lines):
        if line.sku not in products:
            errors.append(FieldError(f"lines[{index}].sku", f"no product with SKU {line.sku!r}"))
    if errors:
        raise IntakeError(errors)
    try:
        with session.begin_nested():
            result = _write(runtime, session, store_order, products)
    except IntegrityError:
        # The same store order posted twice at once: the other request made it.
        existing = _existing(session, store_order.store_order_id)
        if existing is None:
            raise
        return IntakeResult(existing, created=False)
    return result


def _existing(session: Session, store_order_id: str) -> Order | None:
    return session.scalar(
        select(Order).where(
            Order.source == OrderSource.WEBSTORE, Order.external_ref == store_order_id
        )
    )


def _write(
    runtime: Runtime, session: Session, store_order: StoreOrder, products: dict[str, Product]
) -> IntakeResult:
    customer = upsert_customer(runtime, session, store_order.customer)
    address = store_order.customer.address
    shipping = "\n".join(
        part
        for part in (
            store_order.customer.name,
            address.street,
            f"{address.postcode} {address.city}".strip(),
            address.region,
            address.country,
        )
        if part
    )
    order = create_order(
        runtime,
        session,
        partner_id=customer.id,
        lines=[
            LineInput(
                line.quantity,
                product_id=products[line.sku].id,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
            )
            for line in store_order.lines
        ],
        owner_id=customer.owner_id,
        team_id=customer.team_id,
        source=OrderSource.WEBSTORE,
        external_ref=store_order.store_order_id,
        shipping_address=shipping,
        customer_email=store_order.customer.email,
        campaign_token=store_order.tracking_token,
        ordered_on=store_order.placed_at.date() if store_order.placed_at else None,
    )
    held: str | None = None
    try:
        with session.begin_nested():
            confirm(runtime, session, order)
    except TransitionBlockedError as error:
        held = error.reason  # the back office decides: the order waits in draft
    if held is None:
        send_confirmation(session, order, customer.name)
    return IntakeResult(order, created=True, held=held)


def send_confirmation(session: Session, order: Order, customer_name: str) -> None:
    send_mail(
        session,
        CONFIRMATION_MAIL,
        order.customer_email,
        {
            "customer": customer_name,
            "number": order.number,
            "amount": f"{order.amount:.2f}",
            "currency": order.currency,
            "lines": [
                {"quantity": f"{line.quantity.normalize():f}", "description": line.description}
                for line in order.lines
            ],
            "shipping_address": order.shipping_address,
        },
        key=f"orders.order_confirmation:{order.id}",
    )


def upsert_customer(runtime: Runtime, session: Session, buyer: StoreCustomer) -> Partner:
    """The store's customer as a customer record: found by its store id (or else by its
    e-mail), updated with what the store knows now, or created."""
    system = settings_of(runtime).webstore_system
    partner = find_by_external_id(session, system, buyer.id)
    if partner is None:
        partner = session.scalar(
            select(Partner)
            .where(func.lower(Partner.email) == buyer.email.lower())
            .order_by(Partner.id)
            .limit(1)
        )
        if partner is not None:
            partner.external_ids.append(PartnerExternalId(system=system, value=buyer.id))
    if partner is None:
        partner = Partner(
            kind=PartnerKind.COMPANY if buyer.company else PartnerKind.PERSON,
            name=buyer.company or buyer.name,
            email=buyer.email,
            phone=buyer.phone,
        )
        partner.external_ids.append(PartnerExternalId(system=system, value=buyer.id))
        session.add(partner)
    else:
        partner.email = buyer.email
        if buyer.phone:
            partner.phone = buyer.phone
    given = buyer.address
    shipping = next(
        (address for address in partner.addresses if address.kind == AddressKind.SHIPPING), None
    )
    if shipping is None:
        shipping = Address(kind=AddressKind.SHIPPING)
        partner.addresses.append(shipping)
    shipping.street, shipping.city, shipping.postcode = given.street, given.city, given.postcode
    shipping.region, shipping.country = given.region, given.country
    session.flush()
    return partner
