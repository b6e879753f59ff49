"""A lead merged into another takes its campaign history along: every touch and
conversion of the merged lead is re-pointed at the survivor (leads' ``leads_lead_merged``)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from accord.plugins.leads.api import Lead

from .models import Conversion, Touch


def follow_merge(session: Session, survivor: Lead, merged: Lead) -> None:
    for model in (Touch, Conversion):
        session.execute(
            update(model)
            .where(model.lead_id == merged.id)
            .values(lead_id=survivor.id)
            .execution_options(synchronize_session=False)
        )
