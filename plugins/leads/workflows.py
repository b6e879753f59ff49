"""The two state machines of the area: a lead's qualification and an opportunity's way
through the pipeline. Which roles qualify, and which reasons a disqualification or a loss
may give, are settings of ``[leads]``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from accord.api import Guard, Transition, Workflow, principal_of, runtime_of

from .settings import LeadsSettings

LEAD = "leads.lead"
OPPORTUNITY = "leads.opportunity"
LEAD_STATES = ("new", "contacted", "qualified", "converted", "disqualified", "merged")
OPEN_LEAD_STATES = ("new", "contacted", "qualified")
STAGES = ("qualification", "proposal", "negotiation", "won", "lost")
OPEN_STAGES = ("qualification", "proposal", "negotiation")


def leads_settings(session: Session) -> LeadsSettings:
    section = runtime_of(session).settings.section("leads")
    assert isinstance(section, LeadsSettings)
    return section


def qualifying_role(session: Session, record: Any, inputs: Mapping[str, Any]) -> str | None:
    """Only the roles of ``[leads] qualifying_roles`` (telemarketing, the back office...)
    qualify or disqualify a lead."""
    principal = principal_of(session)
    if principal is None or principal.is_system:
        return None
    roles = leads_settings(session).qualifying_roles
    if principal.roles & set(roles) or "admin" in principal.roles:
        return None
    return f"leads are qualified by {' or '.join(role.replace('_', ' ') for role in roles)}"


def known_disqualify_reason(session: Session, record: Any, inputs: Mapping[str, Any]) -> str | None:
    reason = inputs.get("reason")
    if reason is None:
        return None
    reasons = leads_settings(session).disqualify_reasons
    if str(reason).strip() not in reasons:
        return f"choose one of the reasons: {', '.join(reasons)}"
    return None


def known_lost_reason(session: Session, record: Any, inputs: Mapping[str, Any]) -> str | None:
    reason = inputs.get("reason")
    if reason is None:
        return None
    reasons = leads_settings(session).lost_reasons
    if str(reason).strip() not in reasons:
        return f"choose one of the reasons: {', '.join(reasons)}"
    return None


def converted_by_the_service(
    session: Session, record: Any, inputs: Mapping[str, Any]
) -> str | None:
    # The step itself only records the conversion; the customer and the opportunity are made
    # by convert_lead, which links them first.
    if getattr(record, "partner_id", None) is None:
        return "fill in the conversion form: it creates the customer and the opportunity"
    return None


def merged_by_the_service(session: Session, record: Any, inputs: Mapping[str, Any]) -> str | None:
    if getattr(record, "merged_into_id", None) is None:
        return "merge it from the duplicates panel of the lead it goes into"
    return None


def workflows() -> list[Workflow]:
    qualifier = Guard("leads.qualifying_role", qualifying_role)
    return [
        Workflow(
            name=LEAD,
            model="leads_lead",
            initial="new",
            states=LEAD_STATES,
            transitions=(
                Transition("contact", ("new",), "contacted"),
                Transition(
                    "qualify",
                    ("new", "contacted"),
                    "qualified",
                    guards=(qualifier,),
                ),
                Transition(
                    "disqualify",
                    OPEN_LEAD_STATES,
                    "disqualified",
                    required_inputs=("reason",),
                    guards=(qualifier, Guard("leads.disqualify_reason", known_disqualify_reason)),
                ),
                Transition("reopen", ("disqualified",), "new"),
                Transition(
                    "convert",
                    ("qualified",),
                    "converted",
                    permission="leads.convert",
                    guards=(Guard("leads.converted_by_service", converted_by_the_service),),
                ),
                Transition(
                    "merge",
                    (*OPEN_LEAD_STATES, "disqualified"),
                    "merged",
                    permission="leads.merge",
                    guards=(Guard("leads.merged_by_service", merged_by_the_service),),
                ),
            ),
        ),
        Workflow(
            name=OPPORTUNITY,
            model="leads_opportunity",
            initial="qualification",
            states=STAGES,
            transitions=(
                Transition("propose", ("qualification",), "proposal"),
                Transition("negotiate", ("proposal",), "negotiation"),
                Transition("win", ("proposal", "negotiation"), "won"),
                Transition(
                    "lose",
                    OPEN_STAGES,
                    "lost",
                    required_inputs=("reason",),
                    guards=(Guard("leads.lost_reason", known_lost_reason),),
                ),
                Transition("reopen", ("lost",), "qualification"),
            ),
        ),
    ]
