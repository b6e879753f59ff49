"""A qualified lead becomes a customer (a company and its contact person, or a link to a
customer that exists) and an opportunity in the pipeline, in the caller's transaction: all
of it is written, or none."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import (
    ActivityKind,
    Address,
    InvalidTransitionError,
    Partner,
    PartnerKind,
    emit,
    log_activity,
    principal_of,
    runtime_of,
    utcnow,
)

from .models import Lead, LeadActivity, Opportunity
from .service import LeadInputError, log_lead_activity
from .workflows import OPEN_STAGES


@dataclass(frozen=True)
class Conversion:
    """What ``convert_lead`` made: the customer, the contact person (None when the lead
    named only a company) and the opportunity."""

    partner: Partner
    contact: Partner | None
    opportunity: Opportunity


def parse_revenue(text: str | Decimal | int | float) -> Decimal:
    try:
        value = Decimal(str(text).strip().replace(",", "") or "0")
    except InvalidOperation:
        raise LeadInputError("expected_revenue", f"{text!r} is not an amount") from None
    if value < 0 or value >= Decimal("1e12"):
        raise LeadInputError("expected_revenue", "must be between 0 and 999,999,999,999")
    return value.quantize(Decimal("0.01"))


def convert_lead(
    session: Session,
    lead: Lead,
    *,
    partner_id: int | None = None,
    opportunity_name: str = "",
    expected_revenue: Decimal | str | int = Decimal("0"),
    probability: int | None = None,
    expected_close: dt.date | None = None,
    stage: str = "qualification",
    currency: str = "EUR",
) -> Conversion:
    """Convert the qualified ``lead``: link it to the customer ``partner_id`` (one the user
    may see) or create the company and its contact from the lead, open an opportunity in
    ``stage`` owned like the lead, move the lead to ``converted``, and put it all on the
    customer's timeline. Raises ``LeadInputError`` or a ``TransitionError`` (not qualified,
    not allowed) before anything is kept; the caller's transaction holds the rest."""
    revenue = parse_revenue(expected_revenue)
    if probability is not None and not 0 <= probability <= 100:
        raise LeadInputError("probability", "must be between 0 and 100")
    if stage not in OPEN_STAGES:
        raise LeadInputError("stage", f"an opportunity starts in one of {', '.join(OPEN_STAGES)}")
    if lead.state != "qualified":
        raise InvalidTransitionError(
            f"leads_lead #{lead.id}",
            "convert",
            f"only a qualified lead converts; it is {lead.state!r}",
        )
    runtime = runtime_of(session)
    contact: Partner | None = None
    if partner_id is not None:
        partner = session.scalar(select(Partner).where(Partner.id == partner_id))
        if partner is None:
            raise LeadInputError("partner_id", f"there is no customer #{partner_id} you may see")
        if lead.person:
            contact = _contact(lead, partner)
            session.add(contact)
    else:
        partner = _customer(lead)
        session.add(partner)
        session.flush()
        if lead.company and lead.person:
            contact = _contact(lead, partner)
            session.add(contact)
    session.flush()
    opportunity = Opportunity(
        name=(opportunity_name.strip() or _default_name(lead))[:200],
        partner_id=partner.id,
        contact_id=contact.id if contact is not None else None,
        lead_id=lead.id,
        product_line=lead.product_line,
        expected_revenue=revenue,
        currency=currency.upper()[:3],
        probability=probability,
        expected_close=expected_close,
        owner_id=lead.owner_id,
        team_id=lead.team_id,
        state=stage,
    )
    runtime.workflows.start(session, opportunity)
    lead.partner_id = partner.id
    lead.contact_id = contact.id if contact is not None else None
    lead.converted_at = utcnow()
    session.flush()
    runtime.workflows.transition(session, lead, "convert")
    log_lead_activity(session, lead, f"Converted: customer {partner.name}, {opportunity.name}")
    _timeline(session, lead, partner, opportunity)
    emit(
        session,
        "leads.lead_converted",
        {
            "lead_id": lead.id,
            "partner_id": partner.id,
            "contact_id": lead.contact_id,
            "opportunity_id": opportunity.id,
            "channel": lead.channel,
            "product_line": lead.product_line,
            "expected_revenue": str(revenue),
        },
    )
    return Conversion(partner, contact, opportunity)


def _default_name(lead: Lead) -> str:
    what = lead.product_line.replace("_", " ") if lead.product_line else "New business"
    return f"{lead.company or lead.person}: {what}"


def _customer(lead: Lead) -> Partner:
    kind = PartnerKind.COMPANY if lead.company else PartnerKind.PERSON
    addresses = []
    if lead.street or lead.city or lead.postcode or lead.country:
        addresses.append(
            Address(
                street=lead.street,
                city=lead.city,
                postcode=lead.postcode,
                region=lead.region,
                country=lead.country,
            )
        )
    return Partner(
        kind=kind,
        name=(lead.company or lead.person)[:200],
        email="" if lead.company and lead.person else lead.email,
        phone="" if lead.company and lead.person else lead.phone,
        website=lead.website,
        owner_id=lead.owner_id,
        team_id=lead.team_id,
        addresses=addresses,
    )


def _contact(lead: Lead, company: Partner) -> Partner:
    return Partner(
        kind=PartnerKind.PERSON,
        name=lead.person[:200],
        company_id=company.id,
        email=lead.email,
        phone=lead.phone,
        owner_id=company.owner_id,
        team_id=company.team_id,
    )


def _timeline(session: Session, lead: Lead, partner: Partner, opportunity: Opportunity) -> None:
    """The lead's story on the customer's 360 page: each thing that happened with the lead,
    then the conversion itself."""
    principal = principal_of(session)
    user_id = principal.user_id if principal is not None else None
    ref = f"leads_lead:{lead.id}"
    activities = session.scalars(
        select(LeadActivity)
        .where(LeadActivity.lead_id == lead.id)
        .order_by(LeadActivity.occurred_at, LeadActivity.id)
    )
    for activity in activities:
        kind = (
            ActivityKind(activity.kind) if activity.kind in set(ActivityKind) else ActivityKind.NOTE
        )
        log_activity(
            session,
            partner.id,
            kind,
            activity.subject,
            body=activity.body,
            user_id=activity.user_id,
            source="leads",
            source_ref=ref,
            occurred_at=activity.occurred_at,
        )
    log_activity(
        session,
        partner.id,
        ActivityKind.SYSTEM,
        f"Lead converted: opportunity {opportunity.name}",
        body=(
            f"From {lead.channel.replace('_', ' ')}; expected revenue "
            f"{opportunity.expected_revenue} {opportunity.currency}."
        ),
        user_id=user_id,
        source="leads",
        source_ref=ref,
    )
