"""The tables of the campaigns area: a campaign and its cost lines, the saved segment it
targets, its tracked links, every touch (impression) it made on a lead or a customer, the
conversions revenue came in with and the share of each conversion every campaign earned."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from accord.api import AccordError, Base, TimestampMixin, intpk, utcnow

TOUCH_KINDS = (
    "email_sent",
    "email_opened",
    "email_clicked",
    "link_click",
    "ad_impression",
    "event_attendance",
)
MODELS = ("first_touch", "last_touch", "linear")


class LinkError(AccordError):
    pass


def check_destination(destination: str) -> str:
    """A link leads to a full http(s) address; anything else is refused with its reason."""
    parts = urlsplit(destination.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LinkError(
            f"link destination {destination!r}: write a full http:// or https:// address"
        )
    return destination.strip()


class Segment(TimestampMixin, Base):
    """A saved filter over leads or customers: who a campaign targets. ``criteria`` holds
    the lists a row must match (``channels``, ``countries``, ``product_lines``, ``states``
    for leads; ``kinds`` for partners) and ``min_score``/``max_score`` for leads."""

    __tablename__ = "campaigns_segment"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    target: Mapped[str] = mapped_column(String(20), default="leads")
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)

    # The criteria one by one, as the segment's form shows them.
    def _listed(self, key: str) -> tuple[str, ...]:
        return tuple((self.criteria or {}).get(key) or ())

    @property
    def channels(self) -> tuple[str, ...]:
        return self._listed("channels")

    @property
    def countries(self) -> tuple[str, ...]:
        return self._listed("countries")

    @property
    def product_lines(self) -> tuple[str, ...]:
        return self._listed("product_lines")

    @property
    def states(self) -> tuple[str, ...]:
        return self._listed("states")

    @property
    def kinds(self) -> tuple[str, ...]:
        return self._listed("kinds")

    def _score(self, key: str) -> int | None:
        value = (self.criteria or {}).get(key)
        return value if isinstance(value, int) else None

    @property
    def min_score(self) -> int | None:
        return self._score("min_score")

    @property
    def max_score(self) -> int | None:
        return self._score("max_score")


class Campaign(TimestampMixin, Base):
    """A campaign on one channel, for a period, with a budget and the segment it targets;
    its mass e-mail is ``mail_template`` rendered with ``mail_subject`` and ``mail_body``."""

    __tablename__ = "campaigns_campaign"
    __table_args__ = (
        Index("ix_campaigns_campaign_channel_list", "channel", "id"),
        Index("ix_campaigns_campaign_starts_list", "starts_on", "id"),
        Index("ix_campaigns_campaign_owner_list", "owner_id", "id"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns_segment.id"))
    mail_template: Mapped[str] = mapped_column(String(120), default="campaigns.mailing")
    mail_subject: Mapped[str] = mapped_column(String(200), default="")
    mail_body: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"), index=True)


class CostLine(Base):
    """Money a campaign spent: an invoice of the fair, the ad network's month, the print."""

    __tablename__ = "campaigns_cost"
    __table_args__ = (Index("ix_campaigns_cost_campaign", "campaign_id", "incurred_on"),)

    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_campaign.id", ondelete="CASCADE")
    )
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    incurred_on: Mapped[dt.date] = mapped_column(Date)


class TrackedLink(Base):
    """A link of a campaign: where it leads (registered here, never taken from a request)
    and the UTM parameters a click is recorded with."""

    __tablename__ = "campaigns_link"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_campaign.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    destination: Mapped[str] = mapped_column(String(500))
    utm_source: Mapped[str] = mapped_column(String(100), default="")
    utm_medium: Mapped[str] = mapped_column(String(100), default="")
    utm_campaign: Mapped[str] = mapped_column(String(100), default="")
    utm_content: Mapped[str] = mapped_column(String(100), default="")

    @validates("destination")
    def _destination(self, key: str, value: str) -> str:
        return check_destination(value)


class Touch(Base):
    """One impression that reached a person: a lead, a customer (partner), or both. An
    open or a click of a mass e-mail names the mail it answers (``sent_touch_id``, that
    mail's ``email_sent`` touch): one open per mail, one click per mail and link."""

    __tablename__ = "campaigns_touch"
    __table_args__ = (
        Index("ix_campaigns_touch_lead", "lead_id", "occurred_at", "id"),
        Index("ix_campaigns_touch_partner", "partner_id", "occurred_at", "id"),
        Index("ix_campaigns_touch_campaign", "campaign_id", "occurred_at", "id"),
        Index("ix_campaigns_touch_kind_list", "kind", "id"),
        Index("ix_campaigns_touch_sent", "sent_touch_id", "kind", "link_id"),
    )

    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_campaign.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(20))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads_lead.id", ondelete="SET NULL"))
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_partner.id", ondelete="SET NULL")
    )
    email: Mapped[str] = mapped_column(String(254), default="")
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns_link.id", ondelete="SET NULL")
    )
    utm_source: Mapped[str] = mapped_column(String(100), default="")
    utm_medium: Mapped[str] = mapped_column(String(100), default="")
    utm_campaign: Mapped[str] = mapped_column(String(100), default="")
    utm_content: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_touch_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns_touch.id", ondelete="SET NULL")
    )


class Conversion(Base):
    """A person responded: a lead converted, or revenue came in (an order). ``key`` is the
    event's own (``lead:12``, ``order:7``), so an event delivered twice counts once."""

    __tablename__ = "campaigns_conversion"
    __access__ = False  # written by event subscribers on everybody's behalf; read as figures

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads_lead.id", ondelete="SET NULL"), index=True
    )
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_partner.id", ondelete="SET NULL"), index=True
    )
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    touches: Mapped[int] = mapped_column(default=0)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Credit(Base):
    """The share of one conversion (and of its revenue) a campaign earned under one
    attribution model; the shares of a conversion add up to 1 per model."""

    __tablename__ = "campaigns_credit"
    __access__ = False  # figures derived from conversions, read by the ROI reports
    __table_args__ = (
        UniqueConstraint("conversion_id", "campaign_id", "model"),
        Index("ix_campaigns_credit_campaign", "campaign_id", "model"),
    )

    id: Mapped[intpk]
    conversion_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_conversion.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_campaign.id", ondelete="CASCADE")
    )
    model: Mapped[str] = mapped_column(String(20))
    share: Mapped[Decimal] = mapped_column(Numeric(9, 6))
    revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class OptOut(Base):
    """An address that unsubscribed: no campaign mails it again."""

    __tablename__ = "campaigns_optout"
    __access__ = False  # checked by every send, whoever starts it

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns_campaign.id", ondelete="SET NULL")
    )
    unsubscribed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
