"""The forms of campaigns, cost lines and tracked links (the generic record pages), with
the checks beyond the values' types: a known channel, a period that ends after it starts,
no negative money, a link that leads to a full web address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from accord.api import FormField, FormSection, Principal

from .models import LinkError, check_destination
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


def campaign_form(channels: tuple[str, ...]) -> tuple[FormSection, ...]:
    choices = tuple((name, name.replace("_", " ").capitalize()) for name in channels)
    return (
        FormSection(
            "Campaign",
            (
                FormField("name", "Name"),
                FormField("channel", "Channel", kind="choice", choices=choices),
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
