"""The customer record everything hangs on: companies, people, addresses, external ids."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from accord.core.db import Base, TimestampMixin, intpk, str_enum


class PartnerKind(enum.StrEnum):
    COMPANY = "company"
    PERSON = "person"


class AddressKind(enum.StrEnum):
    BILLING = "billing"
    SHIPPING = "shipping"
    OTHER = "other"


class Partner(TimestampMixin, Base):
    """A company or a person; a person may work for a company partner."""

    __tablename__ = "core_partner"
    __table_args__ = (
        # Serves the list a salesperson or an agent sees: their own customers by name,
        # keyset-paginated (bench/access_filter.py measures it).
        Index("ix_core_partner_owner_list", "owner_id", "name", "id"),
        # The customer list's filters, each followed by its default sort.
        Index("ix_core_partner_kind_list", "kind", "name", "id"),
        Index("ix_core_partner_active_list", "active", "name", "id"),
    )

    id: Mapped[intpk]
    kind: Mapped[PartnerKind] = mapped_column(str_enum(PartnerKind))
    name: Mapped[str] = mapped_column(String(200), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("core_partner.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    vat_number: Mapped[str] = mapped_column(String(40), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    company: Mapped[Partner | None] = relationship(remote_side="Partner.id")
    addresses: Mapped[list[Address]] = relationship(
        back_populates="partner", cascade="all, delete-orphan"
    )
    external_ids: Mapped[list[PartnerExternalId]] = relationship(cascade="all, delete-orphan")


class Address(Base):
    __tablename__ = "core_address"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AddressKind] = mapped_column(str_enum(AddressKind), default=AddressKind.BILLING)
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="", index=True)
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="", index=True)

    partner: Mapped[Partner] = relationship(back_populates="addresses")


class PartnerExternalId(Base):
    """The partner's number in another system (ERP, web store, EDI partner)."""

    __tablename__ = "core_partner_external_id"
    __table_args__ = (UniqueConstraint("system", "value"),)

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(120))


def find_by_external_id(session: Session, system: str, value: str) -> Partner | None:
    return session.scalar(
        select(Partner)
        .join(PartnerExternalId)
        .where(PartnerExternalId.system == system, PartnerExternalId.value == value)
    )
