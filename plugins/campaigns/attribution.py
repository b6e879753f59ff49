"""Attribution: which campaigns earned a conversion. When a lead converts or revenue comes
in (an event; campaigns never imports orders), the touches that reached that person before
it, within ``[campaigns] attribution_window_days``, share the conversion by three models:
``first_touch`` (all to the first), ``last_touch`` (all to the last) and ``linear`` (an
equal share to every touch). The shares are stored, so ROI reports only add them up."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from accord.api import Event, utcnow
from accord.plugins.leads.api import Lead

from .models import MODELS, Conversion, Credit, Touch
from .settings import settings_of

CENT = Decimal("0.01")
SHARE = Decimal("0.000001")


@dataclass(frozen=True)
class Share:
    campaign_id: int
    share: Decimal
    revenue: Decimal


def attribute(campaign_ids: Sequence[int], revenue: Decimal) -> dict[str, list[Share]]:
    """Split one conversion of ``revenue`` over its touches, given as the campaign of each
    touch, oldest first: per model, each campaign's share and revenue. The revenue shares
    add up to ``revenue`` exactly (the last campaign takes the rounding cent)."""
    if not campaign_ids:
        return {model: [] for model in MODELS}
    first, last = campaign_ids[0], campaign_ids[-1]
    counts: dict[int, int] = defaultdict(int)
    for campaign_id in campaign_ids:
        counts[campaign_id] += 1
    total = len(campaign_ids)
    linear: list[Share] = []
    given = Decimal("0")
    for position, (campaign_id, count) in enumerate(counts.items()):
        if position == len(counts) - 1:
            amount = revenue - given
        else:
            amount = (revenue * count / total).quantize(CENT, ROUND_HALF_EVEN)
        given += amount
        share = (Decimal(count) / total).quantize(SHARE, ROUND_HALF_EVEN)
        linear.append(Share(campaign_id, share, amount))
    return {
        "first_touch": [Share(first, Decimal(1), revenue)],
        "last_touch": [Share(last, Decimal(1), revenue)],
        "linear": linear,
    }


def touches_before(
    session: Session,
    *,
    lead_id: int | None,
    partner_id: int | None,
    until: dt.datetime,
    window_days: int,
) -> list[Touch]:
    """The touches that reached the person (the lead, the customer, or the leads that
    became that customer) in the window before ``until``, oldest first."""
    person = []
    if lead_id is not None:
        person.append(Touch.lead_id == lead_id)
    if partner_id is not None:
        person.append(Touch.partner_id == partner_id)
        person.append(Touch.lead_id.in_(select(Lead.id).where(Lead.partner_id == partner_id)))
    if not person:
        return []
    query = (
        select(Touch)
        .where(or_(*person))
        .where(Touch.occurred_at <= until)
        .where(Touch.occurred_at >= until - dt.timedelta(days=window_days))
        .order_by(Touch.occurred_at, Touch.id)
    )
    return list(session.scalars(query))


def record_conversion(
    session: Session,
    key: str,
    kind: str,
    *,
    lead_id: int | None = None,
    partner_id: int | None = None,
    revenue: Decimal = Decimal("0"),
    currency: str = "EUR",
    occurred_at: dt.datetime | None = None,
) -> Conversion:
    """Record a conversion once per ``key`` and credit the campaigns that led to it."""
    existing = session.scalar(select(Conversion).where(Conversion.key == key))
    if existing is not None:
        return existing
    when = occurred_at or utcnow()
    settings = settings_of(session)
    touches = touches_before(
        session,
        lead_id=lead_id,
        partner_id=partner_id,
        until=when,
        window_days=settings.attribution_window_days,
    )
    conversion = Conversion(
        key=key,
        kind=kind,
        lead_id=lead_id,
        partner_id=partner_id,
        revenue=revenue,
        currency=currency,
        touches=len(touches),
        occurred_at=when,
    )
    session.add(conversion)
    session.flush()
    for model, shares in attribute([touch.campaign_id for touch in touches], revenue).items():
        for share in shares:
            session.add(
                Credit(
                    conversion_id=conversion.id,
                    campaign_id=share.campaign_id,
                    model=model,
                    share=share.share,
                    revenue=share.revenue,
                )
            )
    session.flush()
    return conversion


def withdraw_conversion(session: Session, key: str) -> None:
    """Take back a conversion (an order cancelled): its revenue no longer counts."""
    conversion = session.scalar(select(Conversion).where(Conversion.key == key))
    if conversion is None:
        return
    session.execute(delete(Credit).where(Credit.conversion_id == conversion.id))
    session.delete(conversion)
    session.flush()


def on_lead_converted(session: Session, event: Event) -> None:
    """A converted lead responded: a conversion without revenue (orders bring that)."""
    payload = event.payload
    record_conversion(
        session,
        f"lead:{payload['lead_id']}",
        "lead",
        lead_id=int(payload["lead_id"]),
        partner_id=int(payload["partner_id"]) if payload.get("partner_id") else None,
        occurred_at=event.occurred_at,
    )


def on_order_confirmed(session: Session, event: Event) -> None:
    """A confirmed order's amount is revenue of the customer that placed it."""
    payload = event.payload
    record_conversion(
        session,
        f"order:{payload['order_id']}",
        "order",
        partner_id=int(payload["partner_id"]),
        revenue=Decimal(str(payload["amount"])),
        currency=str(payload.get("currency") or settings_of(session).currency),
        occurred_at=event.occurred_at,
    )


def on_order_cancelled(session: Session, event: Event) -> None:
    withdraw_conversion(session, f"order:{event.payload['order_id']}")
