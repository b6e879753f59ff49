# mypy: disable-error-code="empty-body"
"""Hooks the leads plugin offers to the plugins that depend on it (campaigns, imports...):
they keep their own rows about leads right without leads knowing them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .models import Lead

hookspec = pluggy.HookspecMarker("accord")


@hookspec
def leads_lead_merged(session: Session, survivor: Lead, merged: Lead) -> None:
    """``merged`` is being merged into ``survivor``, in the caller's transaction: re-point
    this plugin's own rows (campaign touches, import records) from ``merged.id`` to
    ``survivor.id``, so that nothing of either lead's history is lost. Raise to refuse
    the merge; nothing is then written.

    Example::

        @hookimpl
        def leads_lead_merged(session, survivor, merged):
            session.execute(update(Touch).where(Touch.lead_id == merged.id)
                            .values(lead_id=survivor.id))
    """


@hookspec
def leads_engagement(session: Session, lead: Lead) -> int:
    """How many engagement touches (campaign impressions, clicks, replies, visits) this
    plugin knows for ``lead``; they count toward its score through the scoring rules on
    ``touches``. Called whenever the score is recomputed (``recompute_score``); call that
    after recording a touch.

    Example::

        @hookimpl
        def leads_engagement(session, lead):
            return session.scalar(select(func.count()).where(Touch.lead_id == lead.id))
    """
