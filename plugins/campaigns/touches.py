"""Recording touches: every impression that reaches a lead or a customer is one row, and a
response to a mass e-mail (an open, a click) one row per mail (and link). The
lead's score follows after commit (the event ``campaigns.touch_recorded``, handled by the
system): whoever records a touch (marketing importing ad impressions, a visitor clicking a
link) need not be allowed to change the lead."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from accord.api import AccordError, Event, emit, utcnow
from accord.plugins.leads.api import Lead, recompute_score

from .models import TOUCH_KINDS, Campaign, Touch, TrackedLink

TOUCH_RECORDED = "campaigns.touch_recorded"


class TouchError(AccordError):
    pass


def record_touch(
    session: Session,
    campaign: Campaign,
    kind: str,
    *,
    lead_id: int | None = None,
    partner_id: int | None = None,
    email: str = "",
    link: TrackedLink | None = None,
    utm: dict[str, str] | None = None,
    detail: str = "",
    occurred_at: dt.datetime | None = None,
    sent_touch_id: int | None = None,
) -> Touch:
    """Store one impression of ``campaign`` on a lead and/or a partner (in the caller's
    transaction) and bring the lead's score up to date. ``sent_touch_id`` is the mail an
    open or a click answers (see ``respond``)."""
    if kind not in TOUCH_KINDS:
        raise TouchError(f"touch kind {kind!r} is unknown; use one of {', '.join(TOUCH_KINDS)}")
    utm = utm or {}
    if link is not None:
        utm = link_utm(link, campaign, utm)
    if partner_id is None and lead_id is not None:
        lead = session.get(Lead, lead_id)
        partner_id = lead.partner_id if lead is not None else None
    touch = Touch(
        campaign_id=campaign.id,
        kind=kind,
        lead_id=lead_id,
        partner_id=partner_id,
        email=email[:254],
        link_id=link.id if link is not None else None,
        utm_source=utm.get("utm_source", "")[:100],
        utm_medium=utm.get("utm_medium", "")[:100],
        utm_campaign=utm.get("utm_campaign", "")[:100],
        utm_content=utm.get("utm_content", "")[:100],
        detail=detail[:200],
        occurred_at=occurred_at or utcnow(),
        sent_touch_id=sent_touch_id,
    )
    session.add(touch)
    session.flush()
    emit(
        session,
        TOUCH_RECORDED,
        {"touch_id": touch.id, "campaign_id": campaign.id, "kind": kind, "lead_id": lead_id,
         "partner_id": partner_id},
    )  # fmt: skip
    return touch


def link_utm(link: TrackedLink, campaign: Campaign, utm: dict[str, str]) -> dict[str, str]:
    """The UTM parameters a click of ``link`` is recorded with: the link's, the campaign's
    name where the link names no campaign, and what the request adds."""
    return {
        "utm_source": link.utm_source,
        "utm_medium": link.utm_medium,
        "utm_campaign": link.utm_campaign or campaign.name[:100],
        "utm_content": link.utm_content,
        **{key: value for key, value in utm.items() if value},
    }


def respond(
    session: Session,
    sent_touch_id: int,
    kind: str,
    *,
    link: TrackedLink | None = None,
    utm: dict[str, str] | None = None,
) -> Touch | None:
    """Record the response ``kind`` (``email_opened``, or ``email_clicked`` of ``link``) to
    the mail of ``sent_touch_id`` as a touch on its recipient; ``None`` when that mail is
    unknown or this response is recorded already. Run it in a unit of work opened with
    ``writes=True``.

    Once per mail (an open) or per mail and link (a click), however often the image is
    loaded or the link followed: reading a mail again is no new impression, and a
    forwarded mail or a prefetching proxy cannot inflate the figures or the score."""
    # The mail's row is locked first (on SQLite the unit of work holds the write lock), so
    # two requests at once (a mail client and its image proxy) record one response.
    sent = session.get(Touch, sent_touch_id, with_for_update=True)
    if sent is None or sent.kind != "email_sent":
        return None
    if link is not None and link.campaign_id != sent.campaign_id:
        return None
    known = select(Touch.id).where(
        Touch.sent_touch_id == sent.id,
        Touch.kind == kind,
        Touch.link_id.is_(None) if link is None else Touch.link_id == link.id,
    )
    campaign = session.get(Campaign, sent.campaign_id)
    if campaign is None or session.scalar(known.limit(1)) is not None:
        return None
    return record_touch(
        session,
        campaign,
        kind,
        lead_id=sent.lead_id,
        partner_id=sent.partner_id,
        email=sent.email,
        link=link,
        utm=utm,
        detail=link.name if link is not None else sent.detail,
        sent_touch_id=sent.id,
    )


def rescore(session: Session, event: Event) -> None:
    """A touch reached a lead: its score counts the touches again."""
    lead_id = event.payload.get("lead_id")
    lead = session.get(Lead, lead_id) if lead_id is not None else None
    if lead is not None:
        recompute_score(session, lead)


def touch_count(session: Session, lead_id: int) -> int:
    """Every touch a lead has had (its merged leads' included, as they follow it)."""
    return int(session.scalar(select(func.count(Touch.id)).where(Touch.lead_id == lead_id)) or 0)


def touches_before_response(session: Session, lead: Lead) -> tuple[int, bool]:
    """How many impressions reached ``lead`` (or the customer it became) before it
    responded, i.e. was converted; and whether it has responded. An open lead counts
    every touch so far."""
    person = [Touch.lead_id == lead.id]
    if lead.partner_id is not None:
        person.append(Touch.partner_id == lead.partner_id)
    query = select(func.count(Touch.id)).where(or_(*person))
    if lead.converted_at is not None:
        query = query.where(Touch.occurred_at <= lead.converted_at)
    return int(session.scalar(query) or 0), lead.converted_at is not None
