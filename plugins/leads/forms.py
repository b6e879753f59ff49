"""The forms of leads and opportunities: what they ask, and how they save through the
service (``create_lead`` normalises, checks, assigns and scores a new lead as the web form
and the import do), so a lead typed in by hand is worth the same as one that came in.

A new lead that looks like an open one the user can see is not saved: the form names the
fields that match and links the existing lead. Someone typing a lead in has just spoken to
that person; quietly folding what they typed into another lead (perhaps a colleague's)
would hide that it was already being worked and land them on a record they did not
create. The web form and the import merge because nobody is there to ask."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import FormField, FormSection, Principal, RecordInputError, User

from .models import Lead, Opportunity
from .security import SELLERS
from .service import Duplicate, LeadData, LeadInputError, check_choices, create_lead
from .service import find_duplicates as duplicates_of
from .workflows import leads_settings

DUPLICATE_SHOWN = 3
"""How many of the matching open leads the form links."""


def words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def channel_choices(session: Session) -> list[tuple[str, str]]:
    """The channels of this company's ``[leads] channels``."""
    return [(name, words(name)) for name in leads_settings(session).channels]


def product_line_choices(session: Session) -> list[tuple[str, str]]:
    return [(name, words(name)) for name in leads_settings(session).product_lines]


LEAD_FORM = (
    FormSection(
        "Person",
        (
            FormField("first_name", "First name"),
            FormField("last_name", "Last name"),
            FormField("job_title", "Job title"),
            FormField("email", "E-mail"),
            FormField("phone", "Phone"),
        ),
    ),
    FormSection(
        "Company",
        (
            FormField("company", "Company"),
            FormField("website", "Web site"),
            FormField("street", "Street"),
            FormField("postcode", "Postcode"),
            FormField("city", "City"),
            FormField("region", "Region"),
            FormField("country", "Country", help="The two-letter ISO code, e.g. IT."),
        ),
    ),
    FormSection(
        "Interest",
        (
            FormField(
                "channel",
                "Channel",
                help="Where the lead came from.",
                kind="choice",
                required=True,
                choices=channel_choices,
            ),
            FormField("product_line", "Product line", kind="choice", choices=product_line_choices),
            FormField(
                "owner_id",
                "Owner",
                help="Leave empty on a new lead to let the assignment rules choose.",
            ),
            FormField("notes", "Notes"),
        ),
    ),
)
LEAD_FIELDS = tuple(LeadData.model_fields)


def new_lead(session: Session, principal: Principal) -> Mapping[str, Any]:
    """A seller's new lead is their own; one typed in by telemarketing or the back office
    has no owner until the assignment rules choose one."""
    if principal.roles & set(SELLERS):
        return {"owner_id": principal.user_id, "team_id": principal.team_id}
    return {"owner_id": None, "team_id": None}


def lead_data(values: Mapping[str, Any]) -> LeadData:
    """The lead fields of a form's values, checked as every lead's are."""
    fields = {name: values[name] or "" for name in LEAD_FIELDS if name in values}
    try:
        return LeadData.parse(fields)
    except LeadInputError as error:
        raise refusal(error) from None


def refusal(error: LeadInputError) -> RecordInputError:
    name = error.field if error.field in LEAD_FIELDS else ""
    message = error.reason[:1].upper() + error.reason[1:]
    return RecordInputError({name: message if message.endswith(".") else f"{message}."})


def matching_fields(duplicate: Duplicate, data: LeadData) -> list[str]:
    """The form's fields holding what matched: the e-mail, the phone, the name."""
    fields = []
    for reason in duplicate.reasons:
        if reason == "name":
            fields.append("company" if data.company else "last_name")
        elif reason in ("email", "phone"):
            fields.append(reason)
    return fields


def create_lead_from_form(
    session: Session, principal: Principal, values: Mapping[str, Any]
) -> Lead:
    """A new lead through ``create_lead``: its owner when the form names one (its team
    follows), else the assignment rules' choice. An open lead that looks the same refuses
    it, naming the matching fields and linking that lead."""
    data = lead_data(values)
    duplicates = duplicates_of(session, data, open_only=True, limit=DUPLICATE_SHOWN)
    if duplicates:
        first = duplicates[0].lead
        problems = {
            name: f"An open lead already has this: {first.name}."
            for name in matching_fields(duplicates[0], data)
        }
        problems[""] = (
            "This looks like a lead that is already open. Open it to add what you learned, "
            "or change the entries if it is someone else."
        )
        links = [
            (f"{d.lead.name} ({words(d.lead.state)})", f"/views/leads/{d.lead.id}")
            for d in duplicates
        ]
        raise RecordInputError(problems, links=links)
    owner_id = values.get("owner_id")
    try:
        result = create_lead(
            session, data, owner_id=owner_id, assign=owner_id is None, dedupe=False
        )
    except LeadInputError as error:
        raise refusal(error) from None
    return result.lead


def update_lead(
    session: Session, principal: Principal, lead: Lead, values: Mapping[str, Any]
) -> Lead:
    """The lead's fields as the edit form asks, checked as a new lead's are; a new owner
    brings the lead into their team."""
    current = {name: getattr(lead, name) for name in LEAD_FIELDS}
    data = lead_data({**current, **{k: v for k, v in values.items() if k in LEAD_FIELDS}})
    try:
        check_choices(leads_settings(session), data)
    except LeadInputError as error:
        raise refusal(error) from None
    for name, value in data.model_dump().items():
        setattr(lead, name, value)
    hand_over(session, lead, values.get("owner_id", lead.owner_id))
    return lead


def hand_over(session: Session, record: Lead | Opportunity, owner_id: int | None) -> None:
    """A new owner takes the record into their team, so the team's lists and totals hold it."""
    if owner_id == record.owner_id:
        return
    record.owner_id = owner_id
    if owner_id is not None:
        record.team_id = session.scalar(select(User.team_id).where(User.id == owner_id))


# --- opportunities --------------------------------------------------------------------------


OPPORTUNITY_FORM = (
    FormSection(
        "",
        (
            FormField("expected_revenue", "Expected revenue", required=True),
            FormField(
                "probability",
                "Probability %",
                help="Empty: the stage's usual probability ([leads] stage_probabilities).",
            ),
            FormField("expected_close", "Expected close"),
            FormField("owner_id", "Owner"),
        ),
    ),
)


def check_opportunity(
    session: Session, values: Mapping[str, Any], deal: Opportunity | None
) -> Mapping[str, str]:
    problems = {}
    revenue = values.get("expected_revenue")
    if isinstance(revenue, Decimal) and revenue < 0:
        problems["expected_revenue"] = "An expected revenue cannot be negative."
    probability = values.get("probability")
    if probability is not None and not 0 <= probability <= 100:
        problems["probability"] = f"Between 0 and 100 (this is {probability})."
    return problems


def update_opportunity(
    session: Session, principal: Principal, deal: Opportunity, values: Mapping[str, Any]
) -> Opportunity:
    """Revenue, probability and close date as asked; a new owner brings the deal into
    their team. The stage moves only through the pipeline's steps."""
    for name in ("expected_revenue", "probability", "expected_close"):
        if name in values:
            setattr(deal, name, values[name])
    hand_over(session, deal, values.get("owner_id", deal.owner_id))
    return deal
