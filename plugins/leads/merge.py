"""Two leads that are one person: everything of the second goes into the first. The
activities and opportunities move over, other plugins re-point their rows (the
``leads_lead_merged`` hook), and the merged lead stays as a ``merged`` row pointing at the
survivor, so its workflow history and audit trail keep their record."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from accord.api import AccordError, emit, runtime_of

from .models import Lead, LeadActivity, Opportunity
from .scoring import recompute_score
from .service import keys, log_lead_activity
from .workflows import leads_settings

MERGED_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "job_title",
    "email",
    "phone",
    "website",
    "street",
    "city",
    "postcode",
    "region",
    "country",
    "product_line",
)


class MergeError(AccordError):
    pass


def merge_leads(session: Session, survivor: Lead, merged: Lead) -> Lead:
    """Merge ``merged`` into ``survivor`` in the caller's transaction; returns the survivor.

    The survivor keeps its values and takes the merged lead's where its own are blank; the
    notes of both are kept; every activity and opportunity of the merged lead moves to the
    survivor; each plugin's ``leads_lead_merged`` re-points its own rows; the merged lead
    goes to state ``merged`` (a workflow step, so it has its history row) with
    ``merged_into_id`` set. Emits ``leads.lead_merged``."""
    if survivor.id == merged.id:
        raise MergeError(f"leads_lead #{survivor.id}: a lead cannot be merged into itself")
    for lead in (survivor, merged):
        if lead.state == "merged":
            raise MergeError(
                f"leads_lead #{lead.id} was merged into #{lead.merged_into_id} already; "
                "merge into that one"
            )
    if merged.state == "converted":
        raise MergeError(
            f"leads_lead #{merged.id} is converted; merge the other lead into it instead"
        )
    runtime = runtime_of(session)
    filled = []
    for field in MERGED_FIELDS:
        value = getattr(merged, field)
        if value and not getattr(survivor, field):
            setattr(survivor, field, value)
            filled.append(field)
    if merged.notes.strip():
        survivor.notes = f"{survivor.notes}\n\n{merged.notes}".strip()
    if survivor.owner_id is None and merged.owner_id is not None:
        survivor.owner_id, survivor.team_id = merged.owner_id, merged.team_id
    keys(leads_settings(session), survivor)
    session.flush()
    session.execute(
        update(LeadActivity)
        .where(LeadActivity.lead_id == merged.id)
        .values(lead_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Opportunity)
        .where(Opportunity.lead_id == merged.id)
        .values(lead_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    hook = getattr(runtime.pm.hook, "leads_lead_merged", None)
    if hook is not None:
        hook(session=session, survivor=survivor, merged=merged)
    merged.merged_into_id = survivor.id
    session.flush()
    runtime.workflows.transition(session, merged, "merge", into=survivor.id)
    body = f"Filled in: {', '.join(filled)}." if filled else ""
    log_lead_activity(
        session, survivor, f"Merged lead #{merged.id} ({merged.name}) into this one", body=body
    )
    log_lead_activity(session, merged, f"Merged into lead #{survivor.id}")
    recompute_score(session, survivor)
    session.flush()
    session.expire(survivor)
    emit(session, "leads.lead_merged", {"lead_id": survivor.id, "merged_id": merged.id})
    return survivor
