"""The tables of the orders area: products and price lists, offers with their lines and
approvals, orders with their lines, shipments and the units each shipment delivered."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accord.api import Base, TimestampMixin, WorkflowMixin, intpk, str_enum

Money = Numeric(14, 2)
Quantity = Numeric(12, 3)
Percent = Numeric(5, 2)


class UnitTracking(enum.StrEnum):
    """What is recorded for each delivered unit of a product."""

    NONE = "none"
    SERIAL = "serial"
    LICENCE = "licence"


class Product(TimestampMixin, Base):
    """An article that can be offered and ordered. ``cost`` makes margins; ``stock`` is the
    figure the default availability provider reads (an ERP connector may answer instead);
    a product that is not ``standard`` goes to the technical office when offered."""

    __tablename__ = "orders_product"

    id: Mapped[intpk]
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    product_line: Mapped[str] = mapped_column(String(60), index=True)
    list_price: Mapped[Decimal] = mapped_column(Money)
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    unit: Mapped[str] = mapped_column(String(20), default="pcs")
    stock: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    standard: Mapped[bool] = mapped_column(default=True)
    tracking: Mapped[UnitTracking] = mapped_column(
        str_enum(UnitTracking), default=UnitTracking.NONE
    )
    lead_time_days: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True, index=True)


class PriceList(Base):
    """The prices of one customer group; a product it does not list sells at list price."""

    __tablename__ = "orders_price_list"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120))
    customer_group: Mapped[str] = mapped_column(String(60), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")

    items: Mapped[list[PriceListItem]] = relationship(cascade="all, delete-orphan")


class PriceListItem(Base):
    __tablename__ = "orders_price_list_item"
    __table_args__ = (UniqueConstraint("price_list_id", "product_id"),)

    id: Mapped[intpk]
    price_list_id: Mapped[int] = mapped_column(
        ForeignKey("orders_price_list.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("orders_product.id", ondelete="CASCADE"), index=True
    )
    price: Mapped[Decimal] = mapped_column(Money)


class CustomerTerms(Base):
    """The orders area's extension of a customer (DESIGN rule 2): its customer group, which
    picks its price list."""

    __tablename__ = "orders_customer_terms"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), unique=True
    )
    customer_group: Mapped[str] = mapped_column(String(60), index=True)


class Offer(WorkflowMixin, TimestampMixin, Base):
    """A quote to a customer: lines with quantities, prices and discounts, approved as the
    company's policy asks (``OfferApproval``) before it is sent."""

    __tablename__ = "orders_offer"
    __table_args__ = (Index("ix_orders_offer_owner_list", "owner_id", "id"),)

    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(String(30), unique=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    routed_fingerprint: Mapped[str | None] = mapped_column(String(64))

    lines: Mapped[list[OfferLine]] = relationship(
        cascade="all, delete-orphan", order_by="OfferLine.position"
    )
    approvals: Mapped[list[OfferApproval]] = relationship(
        back_populates="offer", order_by="OfferApproval.id"
    )


class OfferLine(Base):
    """A line of an offer. A line without a product, or with a product that is not
    standard, is non-standard: the technical office gives its feasibility, cost and lead
    time."""

    __tablename__ = "orders_offer_line"

    id: Mapped[intpk]
    offer_id: Mapped[int] = mapped_column(
        ForeignKey("orders_offer.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=1)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("orders_product.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount_percent: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0"))
    unit_cost: Mapped[Decimal | None] = mapped_column(Money)
    standard: Mapped[bool] = mapped_column(default=True)
    lead_time_days: Mapped[int | None]

    product: Mapped[Product | None] = relationship()


class ApprovalKind(enum.StrEnum):
    DISCOUNT = "discount"
    FEASIBILITY = "feasibility"
    AVAILABILITY = "availability"


class OfferApproval(WorkflowMixin, Base):
    """One approval an offer waits for, routed to a role by the approval policy
    (``[orders]`` settings): pending, then granted or refused by someone wearing that role,
    never by who submitted the offer unless the company allows it."""

    __tablename__ = "orders_offer_approval"

    id: Mapped[intpk]
    offer_id: Mapped[int] = mapped_column(
        ForeignKey("orders_offer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ApprovalKind] = mapped_column(str_enum(ApprovalKind))
    role: Mapped[str] = mapped_column(String(60), index=True)
    reason: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    decided_at: Mapped[dt.datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")

    offer: Mapped[Offer] = relationship(back_populates="approvals")


class OrderSource(enum.StrEnum):
    OFFER = "offer"
    DIRECT = "direct"
    WEBSTORE = "webstore"


class Order(WorkflowMixin, TimestampMixin, Base):
    """A customer's order: from an accepted offer, entered directly, or arrived from the
    web store; confirmed by the back office, shipped (in parts), delivered, invoiced."""

    __tablename__ = "orders_order"
    __table_args__ = (
        UniqueConstraint("source", "external_ref"),
        # The sales dashboard: per period, optionally per salesperson.
        Index("ix_orders_order_sales", "ordered_on", "state", "owner_id"),
        Index("ix_orders_order_owner_list", "owner_id", "id"),
    )

    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(String(30), unique=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"), index=True)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("orders_offer.id"), unique=True)
    source: Mapped[OrderSource] = mapped_column(str_enum(OrderSource), default=OrderSource.DIRECT)
    external_ref: Mapped[str | None] = mapped_column(String(80))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    ordered_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipping_address: Mapped[str] = mapped_column(Text, default="")
    customer_email: Mapped[str] = mapped_column(String(254), default="")
    campaign_token: Mapped[str | None] = mapped_column(String(120))
    availability_checked_at: Mapped[dt.datetime | None]
    availability_note: Mapped[str] = mapped_column(Text, default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    confirmed_at: Mapped[dt.datetime | None]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position"
    )
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order", order_by="Shipment.id")


class OrderLine(Base):
    """A line of an order. ``product_line``, ``amount`` (net of discount) and ``cost`` are
    kept on the line as they were when ordered, so sales and margins by product line do
    not move when a price list changes later."""

    __tablename__ = "orders_order_line"
    __table_args__ = (Index("ix_orders_order_line_sales", "order_id", "product_line"),)

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(ForeignKey("orders_order.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=1)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("orders_product.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(String(300))
    product_line: Mapped[str] = mapped_column(String(60), default="", index=True)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount_percent: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipped_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    available: Mapped[bool | None]

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()


class Shipment(Base):
    """A parcel that left for the customer: part of an order or all of it."""

    __tablename__ = "orders_shipment"

    id: Mapped[intpk]
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders_order.id", ondelete="CASCADE"), index=True
    )
    carrier: Mapped[str] = mapped_column(String(60), default="")
    tracking_number: Mapped[str] = mapped_column(String(80), index=True)
    shipped_at: Mapped[dt.datetime]
    shipped_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))

    order: Mapped[Order] = relationship(back_populates="shipments")
    lines: Mapped[list[ShipmentLine]] = relationship(cascade="all, delete-orphan")


class ShipmentLine(Base):
    __tablename__ = "orders_shipment_line"

    id: Mapped[intpk]
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("orders_shipment.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("orders_order_line.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)


class DeliveredUnit(Base):
    """One delivered unit of a tracked product: its serial number or licence key, what
    customer service looks an order up by."""

    __tablename__ = "orders_delivered_unit"

    id: Mapped[intpk]
    shipment_id: Mapped[int] = mapped_column(
        ForeignKey("orders_shipment.id", ondelete="CASCADE"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("orders_order_line.id", ondelete="CASCADE"), index=True
    )
    serial_number: Mapped[str | None] = mapped_column(String(80), index=True)
    licence_key: Mapped[str | None] = mapped_column(String(120), index=True)


MODELS: tuple[type[Base], ...] = (
    Product,
    PriceList,
    PriceListItem,
    CustomerTerms,
    Offer,
    OfferLine,
    OfferApproval,
    Order,
    OrderLine,
    Shipment,
    ShipmentLine,
    DeliveredUnit,
)
