"""ROI per campaign and per channel: what the cost lines say was spent against the revenue
attributed to it by the chosen model. Campaigns are read through the user's session, so
each person sees the figures of the campaigns they may read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Campaign, Conversion, CostLine, Credit

ZERO = Decimal("0")


@dataclass(frozen=True)
class Roi:
    """The figures of one campaign or one channel; ``roi`` is (revenue - cost) / cost, or
    ``None`` while nothing was spent."""

    key: str
    label: str
    cost: Decimal
    revenue: Decimal
    conversions: Decimal
    channel: str = ""

    @property
    def roi(self) -> Decimal | None:
        if not self.cost:
            return None
        return ((self.revenue - self.cost) / self.cost).quantize(Decimal("0.0001"))


def roi_by_campaign(
    session: Session,
    model: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    campaign_ids: list[int] | None = None,
) -> list[Roi]:
    """Every campaign the user may read, costliest first; ``start``/``end`` (both included)
    limit the cost lines and the conversions counted to a period."""
    campaigns = select(Campaign.id, Campaign.name, Campaign.channel)
    if campaign_ids is not None:
        campaigns = campaigns.where(Campaign.id.in_(campaign_ids))
    rows = session.execute(campaigns).all()
    ids = [row.id for row in rows]
    if not ids:
        return []
    costs = select(CostLine.campaign_id, func.sum(CostLine.amount)).where(
        CostLine.campaign_id.in_(ids)
    )
    credits = (
        select(Credit.campaign_id, func.sum(Credit.revenue), func.sum(Credit.share))
        .join(Conversion, Conversion.id == Credit.conversion_id)
        .where(Credit.campaign_id.in_(ids), Credit.model == model)
    )
    if start is not None:
        costs = costs.where(CostLine.incurred_on >= start)
        credits = credits.where(
            Conversion.occurred_at >= dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        )
    if end is not None:
        costs = costs.where(CostLine.incurred_on <= end)
        after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        credits = credits.where(Conversion.occurred_at < after)
    spent: dict[int, Decimal] = {
        campaign_id: amount
        for campaign_id, amount in session.execute(costs.group_by(CostLine.campaign_id))
    }
    earned = {
        campaign_id: (revenue, shares)
        for campaign_id, revenue, shares in session.execute(credits.group_by(Credit.campaign_id))
    }
    figures = [
        Roi(
            key=str(row.id),
            label=row.name,
            cost=Decimal(spent.get(row.id) or ZERO),
            revenue=Decimal(earned.get(row.id, (ZERO, ZERO))[0] or ZERO),
            conversions=Decimal(earned.get(row.id, (ZERO, ZERO))[1] or ZERO),
            channel=row.channel,
        )
        for row in rows
    ]
    figures.sort(key=lambda roi: (-roi.cost, roi.label))
    return figures


def roi_by_channel(
    session: Session, model: str, *, start: dt.date | None = None, end: dt.date | None = None
) -> list[Roi]:
    """The campaigns' figures added up per channel, costliest first."""
    totals: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for roi in roi_by_campaign(session, model, start=start, end=end):
        channel = roi.channel
        cost, revenue, conversions = totals.get(channel, (ZERO, ZERO, ZERO))
        totals[channel] = (cost + roi.cost, revenue + roi.revenue, conversions + roi.conversions)
    figures = [
        Roi(channel, channel.replace("_", " ").capitalize(), c, r, n, channel)
        for channel, (c, r, n) in totals.items()
    ]
    figures.sort(key=lambda roi: (-roi.cost, roi.label))
    return figures
