"""The tables of the leads area: a lead, what happened with it, the opportunity a qualified
lead becomes, and where each round-robin assignment rule stands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.api import Base, TimestampMixin, WorkflowMixin, intpk, utcnow


class Lead(WorkflowMixin, TimestampMixin, Base):
    """A person and/or a company that may buy: where it came from, what it is interested
    in, who works it, and how far it got (``new`` to ``converted``, or ``disqualified``
    with its reason). The ``*_key`` columns hold the normalised e-mail, phone and
    company-and-name that duplicates are found by."""

    __tablename__ = "leads_lead"
    __table_args__ = (
        # The lists a salesperson and a team see, newest first; and the lists' filters.
        Index("ix_leads_lead_owner_list", "owner_id", "id"),
        Index("ix_leads_lead_team_list", "team_id", "id"),
        Index("ix_leads_lead_state_list", "state", "id"),
        Index("ix_leads_lead_channel_list", "channel", "id"),
        Index("ix_leads_lead_product_line_list", "product_line", "id"),
        Index("ix_leads_lead_score_list", "score", "id"),
    )

    id: Mapped[intpk]
    first_name: Mapped[str] = mapped_column(String(80), default="")
    last_name: Mapped[str] = mapped_column(String(80), default="")
    company: Mapped[str] = mapped_column(String(200), default="", index=True)
    job_title: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    channel: Mapped[str] = mapped_column(String(40))
    product_line: Mapped[str] = mapped_column(String(60), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[int] = mapped_column(default=0)
    touches: Mapped[int] = mapped_column(default=0)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"))
    disqualify_reason: Mapped[str] = mapped_column(String(120), default="")
    email_key: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone_key: Mapped[str] = mapped_column(String(20), default="", index=True)
    name_key: Mapped[str] = mapped_column(String(300), default="", index=True)
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_partner.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_partner.id", ondelete="SET NULL")
    )
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("leads_lead.id"), index=True)
    converted_at: Mapped[dt.datetime | None]

    @property
    def person(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def name(self) -> str:
        """How the lead is shown: the person, at the company."""
        if self.person and self.company:
            return f"{self.person} ({self.company})"
        return self.person or self.company or self.email or f"Lead #{self.id}"


class LeadActivity(Base):
    """Something that happened with a lead before it became a customer: a call, a form
    posted again, an auto-reply sent, a merge. On conversion they are copied onto the
    customer's timeline."""

    __tablename__ = "leads_activity"
    __table_args__ = (Index("ix_leads_activity_lead", "lead_id", "occurred_at", "id"),)

    id: Mapped[intpk]
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads_lead.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="note")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)


class Opportunity(WorkflowMixin, TimestampMixin, Base):
    """A deal in the pipeline: a customer, what it may buy for how much, how likely and
    when. ``probability`` overrides the stage's default ([leads] stage_probabilities)."""

    __tablename__ = "leads_opportunity"
    __table_args__ = (
        Index("ix_leads_opportunity_owner_list", "owner_id", "id"),
        Index("ix_leads_opportunity_team_list", "team_id", "id"),
        Index("ix_leads_opportunity_state_list", "state", "id"),
        Index("ix_leads_opportunity_product_line_list", "product_line", "id"),
        Index("ix_leads_opportunity_close_list", "expected_close", "id"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    partner_id: Mapped[int] = mapped_column(ForeignKey("core_partner.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("core_partner.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads_lead.id"), index=True)
    product_line: Mapped[str] = mapped_column(String(60), default="")
    expected_revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    probability: Mapped[int | None]
    expected_close: Mapped[dt.date | None] = mapped_column(Date)
    lost_reason: Mapped[str] = mapped_column(String(120), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"))


class AssignmentPointer(Base):
    """Whom a round-robin rule gave its last lead to. Read and moved in the transaction
    that creates the lead (locked on PostgreSQL), so many leads created in one transaction,
    or at once by several workers, still go round in turn."""

    __tablename__ = "leads_assignment_pointer"
    __access__ = False  # the plugin's bookkeeping, moved on everybody's behalf

    rule: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
