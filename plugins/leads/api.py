"""What other plugins may use of the leads area (DESIGN rule 1): the models, and the
service that creates, dedupes, assigns, merges, qualifies and converts leads the same way
the screens do. Every function works in the caller's session and transaction and commits
nothing; reads and writes go through that session's access rules.

Events emitted (``accord.api.emit``, delivered after commit):

- ``leads.lead_created``: ``{lead_id, channel, product_line, owner_id, team_id, email}``
- ``leads.lead_resubmitted``: the same, plus ``via``: an open lead got in touch again
- ``leads.lead_merged``: ``{lead_id, merged_id}``
- ``leads.lead_converted``: ``{lead_id, partner_id, contact_id, opportunity_id, channel,
  product_line, expected_revenue}``
- the workflow steps: ``leads.lead.<step>`` and ``leads.opportunity.<step>`` (kernel
  payload ``{model, id, from, to, actor, inputs}``)

Hooks offered (``hookspecs.py``): ``leads_lead_merged`` and ``leads_engagement``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from .assignment import Assignment, AssignmentError
from .conversion import Conversion, convert_lead
from .merge import MergeError, merge_leads
from .models import Lead, LeadActivity, Opportunity
from .pipeline import Forecast, StageForecast, forecast
from .scoring import recompute_score
from .service import (
    Duplicate,
    LeadData,
    LeadInputError,
    LeadResult,
    assign_lead,
    create_lead,
    find_duplicates,
    log_lead_activity,
)
from .settings import LeadsSettings
from .workflows import LEAD, LEAD_STATES, OPPORTUNITY, leads_settings


def qualify_lead(session: Session, lead: Lead) -> None:
    """Mark ``lead`` qualified (by a role of ``[leads] qualifying_roles``)."""
    from accord.api import runtime_of

    runtime_of(session).workflows.transition(session, lead, "qualify")


def disqualify_lead(session: Session, lead: Lead, reason: str) -> None:
    """Disqualify ``lead`` with one of ``[leads] disqualify_reasons``; the reason is kept on
    the lead and in its history."""
    from accord.api import runtime_of

    runtime_of(session).workflows.transition(session, lead, "disqualify", reason=reason)
    lead.disqualify_reason = reason.strip()
    session.flush()


__all__ = [
    "LEAD",
    "LEAD_STATES",
    "OPPORTUNITY",
    "Assignment",
    "AssignmentError",
    "Conversion",
    "Duplicate",
    "Forecast",
    "Lead",
    "LeadActivity",
    "LeadData",
    "LeadInputError",
    "LeadResult",
    "LeadsSettings",
    "MergeError",
    "Opportunity",
    "StageForecast",
    "assign_lead",
    "convert_lead",
    "create_lead",
    "disqualify_lead",
    "find_duplicates",
    "forecast",
    "leads_settings",
    "log_lead_activity",
    "merge_leads",
    "qualify_lead",
    "recompute_score",
]
