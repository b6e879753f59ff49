"""The tables of collections: a customer's credit line (a 1:1 extension of the partner),
invoices, their payments, the reminders sent and the credit blocks overridden."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from accord.api import Base, TimestampMixin, created_at, intpk, str_enum

Money = Numeric(14, 2)
"""Amounts: two decimals, up to a trillion; read back as ``Decimal`` on both databases."""


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class InvoiceOrigin(enum.StrEnum):
    ORDER = "order"
    """Made by collections when an order was delivered."""
    IMPORT = "import"
    """Read from the ERP's export."""
    MANUAL = "manual"


class CreditLine(TimestampMixin, Base):
    """What a customer may owe at most, and how reliable a payer it is: one row per partner
    at most, keyed by the partner (DESIGN rule 2: collections never alters core_partner).
    ``credit_limit`` None means none is set here (the default of the settings applies)."""

    __tablename__ = "collections_credit_line"

    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), primary_key=True
    )
    credit_limit: Mapped[Decimal | None] = mapped_column(Money)
    rating: Mapped[str] = mapped_column(String(10), default="", index=True)
    rating_source: Mapped[str] = mapped_column(String(60), default="")
    rated_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")


class Invoice(TimestampMixin, Base):
    """An amount a customer owes by a due date. ``paid`` is the sum of its payments, kept
    on the row so that a payment locks and changes one row (no lost update)."""

    __tablename__ = "collections_invoice"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("paid >= 0 AND paid <= amount", name="paid_within_amount"),
        # Open invoices by due date: aging, dunning and the list's default sort.
        Index("ix_collections_invoice_status_due", "status", "due_date", "id"),
        # Today's aging: the open invoices issued by a day (without it, SQLite's planner
        # walks every invoice issued by then, paid ones included: 0.9 s at 100k).
        Index("ix_collections_invoice_status_issue", "status", "issue_date"),
        Index("ix_collections_invoice_partner_status", "partner_id", "status", "due_date"),
        Index("ix_collections_invoice_due_date", "due_date", "id"),
        Index("ix_collections_invoice_issue_date", "issue_date", "id"),
    )

    id: Mapped[intpk]
    number: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("core_partner.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders_order.id", ondelete="SET NULL"), unique=True
    )
    """The order it bills, when it came from a delivered order."""
    origin: Mapped[InvoiceOrigin] = mapped_column(
        str_enum(InvoiceOrigin), default=InvoiceOrigin.MANUAL
    )
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[InvoiceStatus] = mapped_column(
        str_enum(InvoiceStatus), default=InvoiceStatus.OPEN
    )

    @property
    def balance(self) -> Decimal:
        """What is left to pay."""
        return self.amount - self.paid


class Payment(Base):
    """Money received against one invoice; several partial payments may settle it."""

    __tablename__ = "collections_payment"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("collections_invoice.id", ondelete="CASCADE"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[dt.date] = mapped_column(Date, index=True)
    reference: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[created_at]


class DunningNotice(Base):
    """A reminder of one level sent for one invoice; the unique key is what guarantees that
    a level is never sent twice, whatever runs at the same time."""

    __tablename__ = "collections_dunning_notice"
    __table_args__ = (UniqueConstraint("invoice_id", "level"),)

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("collections_invoice.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int]
    days_overdue: Mapped[int]
    sent_to: Mapped[str] = mapped_column(String(254))
    chaser_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )
    sent_at: Mapped[created_at]


class CreditOverride(Base):
    """A confirmation let through despite the credit block, by whom and why."""

    __tablename__ = "collections_credit_override"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders_order.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    block: Mapped[str] = mapped_column(Text)
    """The block that was overridden, as the veto worded it."""
    at: Mapped[created_at]
