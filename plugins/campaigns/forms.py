"""The forms of campaigns, cost lines, tracked links and segments (the generic record
pages), with the checks beyond the values' types: a known channel, a period that ends
after it starts, no negative money, a link that leads to a full web address, a segment's
criteria that apply to what it targets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import FormField, FormSection, PartnerKind, Principal, RecordInputError
from accord.plugins.leads.api import LEAD_STATES, leads_settings

from .models import LinkError, Segment, check_destination
from .segments import SegmentError, check_criteria
from .settings import settings_of


def check_campaign(session: Session, values: Mapping[str, Any], record: Any) -> dict[str, str]:
    problems: dict[str, str] = {}
    settings = settings_of(session)
    channel = values.get("channel")
    if channel is not None and channel not in settings.channels:
        problems["channel"] = f"{channel!r} is not a campaign channel; use one of " + ", ".join(
            settings.channels
        )
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        problems["ends_on"] = "the campaign ends before it starts"
    budget = values.get("budget")
    if budget is not None and budget < 0:
        problems["budget"] = "a budget cannot be negative"
    return problems


def check_cost(session: Session, values: Mapping[str, Any], record: Any) -> dict[str, str]:
    amount = values.get("amount")
    if amount is not None and amount < 0:
        return {"amount": "a cost cannot be negative; write what was spent"}
    return {}


def check_link(session: Session, values: Mapping[str, Any], record: Any) -> dict[str, str]:
    destination = values.get("destination")
    if destination is None:
        return {}
    try:
        check_destination(str(destination))
    except LinkError as error:
        return {"destination": str(error)}
    return {}


def new_campaign(session: Session, principal: Principal) -> dict[str, Any]:
    return {
        "owner_id": principal.user_id,
        "team_id": principal.team_id,
        "currency": settings_of(session).currency,
    }


def campaign_form() -> tuple[FormSection, ...]:
    return (
        FormSection(
            "Campaign",
            (
                FormField("name", "Name"),
                FormField("channel", "Channel", kind="choice", choices=campaign_channels),
                FormField("starts_on", "Starts"),
                FormField("ends_on", "Ends"),
                FormField("budget", "Budget", help="Planned spend; ROI counts the cost lines."),
                FormField("segment_id", "Segment", help="Who the mass e-mail goes to."),
            ),
        ),
        FormSection(
            "Mass e-mail",
            (
                FormField("mail_subject", "Subject"),
                FormField("mail_body", "Message", kind="textarea"),
            ),
        ),
    )


COST_FORM = (
    FormSection(
        "",
        (
            FormField("campaign_id", "Campaign"),
            FormField("description", "What"),
            FormField("amount", "Amount"),
            FormField("incurred_on", "Date"),
        ),
    ),
)
LINK_FORM = (
    FormSection(
        "",
        (
            FormField("campaign_id", "Campaign"),
            FormField("name", "Name", help="Shown in the mail, e.g. 'See the offer'."),
            FormField("destination", "Leads to", help="The full address, https://..."),
            FormField("utm_source", "utm_source"),
            FormField("utm_medium", "utm_medium"),
            FormField("utm_campaign", "utm_campaign"),
            FormField("utm_content", "utm_content"),
        ),
    ),
)


# --- segments -------------------------------------------------------------------------------
# A segment's filter is JSON (``Segment.criteria``, read by segments.py); its form asks for
# each criterion as a field of its own and stores them in that same shape.

LEAD_CRITERIA = ("channels", "states", "product_lines", "countries", "min_score", "max_score")
PARTNER_CRITERIA = ("kinds",)
TARGET_NAMES = {"leads": "leads", "partners": "customers"}


def words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def lead_channels(session: Session) -> list[tuple[str, str]]:
    return [(name, words(name)) for name in leads_settings(session).channels]


def lead_product_lines(session: Session) -> list[tuple[str, str]]:
    return [(name, words(name)) for name in leads_settings(session).product_lines]


def campaign_channels(session: Session) -> list[tuple[str, str]]:
    return [(name, words(name)) for name in settings_of(session).channels]


SEGMENT_FORM = (
    FormSection(
        "Segment",
        (
            FormField("name", "Name"),
            FormField(
                "target",
                "Of",
                kind="choice",
                required=True,
                choices=(("leads", "Leads"), ("partners", "Customers")),
            ),
        ),
    ),
    FormSection(
        "Leads that",
        (
            FormField("channels", "Came from", kind="multiple", choices=lead_channels),
            FormField(
                "states",
                "Are",
                kind="multiple",
                choices=tuple((state, words(state)) for state in LEAD_STATES if state != "merged"),
            ),
            FormField(
                "product_lines", "Are interested in", kind="multiple", choices=lead_product_lines
            ),
            FormField(
                "countries",
                "Are in",
                kind="text",
                help="Two-letter country codes separated by commas, e.g. IT, FR.",
            ),
            FormField("min_score", "Score at least", kind="integer", help="0 to 100."),
            FormField("max_score", "Score at most", kind="integer", help="0 to 100."),
        ),
    ),
    FormSection(
        "Customers that are",
        (
            FormField(
                "kinds",
                "Kind",
                kind="multiple",
                choices=tuple((kind.value, words(kind.value)) for kind in PartnerKind),
            ),
        ),
    ),
)
"""Nothing ticked in a list means "any"."""


def segment_criteria(values: Mapping[str, Any]) -> dict[str, Any]:
    """``Segment.criteria`` from the form's values, or a ``RecordInputError`` naming each
    field that is wrong: a criterion of the other target, a country that is no two-letter
    code, a score out of 0-100 or a range upside down."""
    target = values.get("target") or "leads"
    other = PARTNER_CRITERIA if target == "leads" else LEAD_CRITERIA
    problems = {
        name: f"Applies to {TARGET_NAMES['partners' if target == 'leads' else 'leads']} "
        f"only; clear it, or make this a segment of them."
        for name in other
        if values.get(name) not in (None, "", ())
    }
    criteria: dict[str, Any] = {}
    for name in (*LEAD_CRITERIA, *PARTNER_CRITERIA):
        if name in problems or name in other or values.get(name) in (None, "", ()):
            continue
        if name == "countries":
            codes = [part.strip().upper() for part in str(values[name]).split(",")]
            wrong = [code for code in codes if not re.fullmatch(r"[A-Z]{2}", code)]
            if wrong:
                problems[name] = f"{wrong[0]!r} is not a two-letter country code, e.g. IT."
                continue
            criteria[name] = list(dict.fromkeys(codes))
        elif name in ("min_score", "max_score"):
            if not 0 <= values[name] <= 100:
                problems[name] = f"Between 0 and 100 (this is {values[name]})."
                continue
            criteria[name] = values[name]
        else:
            criteria[name] = list(values[name])
    if criteria.get("min_score", 0) > criteria.get("max_score", 100):
        problems["max_score"] = "The range is upside down: this is below the lowest score."
    if problems:
        raise RecordInputError(problems)
    try:
        return check_criteria(target, criteria)
    except SegmentError as error:
        raise RecordInputError({"": str(error)}) from None


def check_segment(session: Session, values: Mapping[str, Any], segment: Any) -> dict[str, str]:
    name = values.get("name")
    taken = select(Segment.id).where(Segment.name == name)
    if segment is not None:
        taken = taken.where(Segment.id != segment.id)
    if name and session.scalar(taken.limit(1)) is not None:
        return {"name": "Another segment has this name."}
    return {}


def create_segment(session: Session, principal: Principal, values: Mapping[str, Any]) -> Segment:
    segment = Segment(
        name=values["name"],
        target=values["target"],
        criteria=segment_criteria(values),
        owner_id=principal.user_id,
    )
    session.add(segment)
    return segment


def update_segment(
    session: Session, principal: Principal, segment: Segment, values: Mapping[str, Any]
) -> Segment:
    segment.criteria = segment_criteria(values)
    segment.name, segment.target = values["name"], values["target"]
    return segment
