"""A lead's score: points from its fields and from its engagement (the touches other plugins
report through the ``leads_engagement`` hook), by the rules of ``[[leads.scoring]]``.

The score follows the lead: whenever a lead is written, its score is worked out again from
its fields and its last known number of touches; ``recompute_score`` also asks the other
plugins for the touches (campaigns calls it after recording one)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, Session, object_session

from accord.api import AccordError, runtime_of

from .models import Lead
from .settings import LeadsSettings, ScoreRule


def engagement(session: Session, lead: Lead) -> int:
    """Touches other plugins report for ``lead`` (0 when none answers)."""
    if lead.id is None:
        return 0
    hook = getattr(runtime_of(session).pm.hook, "leads_engagement", None)
    if hook is None:
        return 0
    return sum(int(count or 0) for count in hook(session=session, lead=lead))


def _points(rule: ScoreRule, lead: Lead) -> int:
    if rule.field == "touches":
        earned = rule.points * (lead.touches or 0)
        return min(earned, rule.max_points) if rule.max_points is not None else earned
    value = str(getattr(lead, rule.field, "") or "").strip()
    if not value:
        return 0
    if rule.values and value not in rule.values:
        return 0
    return rule.points


def score_of(settings: LeadsSettings, lead: Lead) -> int:
    """The score ``lead`` earns with its fields and touches as they are, from 0 to 100."""
    total = 0
    for rule in settings.scoring:
        total += _points(rule, lead)
    return max(0, min(100, total))


def recompute_score(session: Session, lead: Lead) -> int:
    """Ask the plugins for ``lead``'s touches and set its score now; returns the score."""
    from .workflows import leads_settings

    touches = engagement(session, lead)
    if lead.touches != touches:
        lead.touches = touches
    score = score_of(leads_settings(session), lead)
    if lead.score != score:
        lead.score = score
    return score


def _before_write(mapper: Mapper[Any], connection: Any, lead: Lead) -> None:
    """Whatever wrote the lead (a form, an import, the service), its duplicate keys and its
    score follow its fields."""
    from .service import keys

    session = object_session(lead)
    if session is None:
        return
    try:
        settings = runtime_of(session).settings.section("leads")
    except AccordError:  # a session of no runtime (a bare script): keep the score given
        return
    assert isinstance(settings, LeadsSettings)
    keys(settings, lead)
    lead.score = score_of(settings, lead)


event.listen(Lead, "before_insert", _before_write)
event.listen(Lead, "before_update", _before_write)
