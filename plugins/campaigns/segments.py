"""Segments: saved filters over leads or customers, and who a segment holds right now.
The filter runs through the caller's session, so a user only ever targets rows they may
read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from accord.api import AccordError, Partner, PartnerKind
from accord.plugins.leads.api import Lead

from .models import Segment

TARGETS = ("leads", "partners")
LEAD_LISTS = {
    "channels": Lead.channel,
    "countries": Lead.country,
    "product_lines": Lead.product_line,
    "states": Lead.state,
}
PARTNER_LISTS = {"kinds": Partner.kind}
SCORES = ("min_score", "max_score")


class SegmentError(AccordError):
    pass


@dataclass(frozen=True)
class Recipient:
    """One person of a segment with an address to write to."""

    email: str
    greeting: str
    lead_id: int | None = None
    partner_id: int | None = None


def check_criteria(target: str, criteria: dict[str, Any]) -> dict[str, Any]:
    """``criteria`` as stored, or a :class:`SegmentError` naming the key that is wrong."""
    if target not in TARGETS:
        raise SegmentError(f"segment target {target!r}: use one of {', '.join(TARGETS)}")
    known = set(LEAD_LISTS if target == "leads" else PARTNER_LISTS)
    if target == "leads":
        known.update(SCORES)
    checked: dict[str, Any] = {}
    for key, value in criteria.items():
        if key not in known:
            raise SegmentError(
                f"segment criterion {key!r} does not apply to {target}; "
                f"known: {', '.join(sorted(known))}"
            )
        if key in SCORES:
            if not isinstance(value, int) or not 0 <= value <= 100:
                raise SegmentError(f"segment criterion {key}: a number 0 to 100, got {value!r}")
            checked[key] = value
            continue
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SegmentError(f"segment criterion {key!r}: a list of values, got {value!r}")
        if key == "kinds":
            for kind in value:
                if kind not in set(PartnerKind):
                    raise SegmentError(f"segment criterion kinds: {kind!r} is not a partner kind")
        if value:
            checked[key] = value
    if checked.get("min_score", 0) > checked.get("max_score", 100):
        raise SegmentError("segment criteria: min_score is above max_score")
    return checked


def lead_query(criteria: dict[str, Any]) -> Select[Lead]:
    query = select(Lead).where(Lead.email != "", Lead.state.not_in(("merged",)))
    for key, column in LEAD_LISTS.items():
        if criteria.get(key):
            query = query.where(column.in_(criteria[key]))
    if criteria.get("min_score") is not None:
        query = query.where(Lead.score >= int(criteria["min_score"]))
    if criteria.get("max_score") is not None:
        query = query.where(Lead.score <= int(criteria["max_score"]))
    return query.order_by(Lead.id)


def partner_query(criteria: dict[str, Any]) -> Select[Partner]:
    query = select(Partner).where(Partner.email != "", Partner.active.is_(True))
    if criteria.get("kinds"):
        query = query.where(Partner.kind.in_(criteria["kinds"]))
    return query.order_by(Partner.id)


def recipients(session: Session, segment: Segment) -> list[Recipient]:
    """The people of ``segment`` with an e-mail address, one per address."""
    criteria = check_criteria(segment.target, dict(segment.criteria or {}))
    found: dict[str, Recipient] = {}
    if segment.target == "leads":
        for lead in session.scalars(lead_query(criteria)):
            address = lead.email.strip().lower()
            greeting = lead.person or lead.company or address
            found.setdefault(
                address, Recipient(address, greeting, lead_id=lead.id, partner_id=lead.partner_id)
            )
    else:
        for partner in session.scalars(partner_query(criteria)):
            address = partner.email.strip().lower()
            found.setdefault(address, Recipient(address, partner.name, partner_id=partner.id))
    return list(found.values())
