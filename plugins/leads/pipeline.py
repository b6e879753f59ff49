"""The weighted forecast: the open pipeline per stage, each opportunity's expected revenue
times its probability (its own, else its stage's default), read through the user's session
so each hat forecasts its own part of the network."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .models import Opportunity
from .workflows import OPEN_STAGES, leads_settings


@dataclass(frozen=True)
class StageForecast:
    stage: str
    count: int
    revenue: Decimal
    weighted: Decimal


@dataclass(frozen=True)
class Forecast:
    stages: tuple[StageForecast, ...]

    @property
    def revenue(self) -> Decimal:
        return sum((stage.revenue for stage in self.stages), Decimal("0"))

    @property
    def weighted(self) -> Decimal:
        return sum((stage.weighted for stage in self.stages), Decimal("0"))

    @property
    def count(self) -> int:
        return sum(stage.count for stage in self.stages)


def forecast(
    session: Session,
    *,
    closing_from: dt.date | None = None,
    closing_until: dt.date | None = None,
    team_ids: tuple[int, ...] = (),
    product_line: str = "",
) -> Forecast:
    """The open pipeline the session's user may see, per stage in pipeline order, optionally
    for opportunities expected to close in a period, of some teams, or of a product line."""
    settings = leads_settings(session)
    probability = func.coalesce(
        Opportunity.probability,
        case(
            *(
                (Opportunity.state == stage, settings.stage_probability(stage))
                for stage in OPEN_STAGES
            ),
            else_=0,
        ),
    )
    query = (
        select(
            Opportunity.state,
            func.count(Opportunity.id),
            func.coalesce(func.sum(Opportunity.expected_revenue), 0),
            func.coalesce(func.sum(Opportunity.expected_revenue * probability), 0),
        )
        .where(Opportunity.state.in_(OPEN_STAGES))
        .group_by(Opportunity.state)
    )
    if closing_from is not None:
        query = query.where(Opportunity.expected_close >= closing_from)
    if closing_until is not None:
        query = query.where(Opportunity.expected_close <= closing_until)
    if team_ids:
        query = query.where(Opportunity.team_id.in_(team_ids))
    if product_line:
        query = query.where(Opportunity.product_line == product_line)
    rows = {row[0]: row for row in session.execute(query)}
    cent = Decimal("0.01")
    stages = []
    for stage in OPEN_STAGES:
        row = rows.get(stage)
        if row is None:
            stages.append(StageForecast(stage, 0, Decimal("0.00"), Decimal("0.00")))
            continue
        revenue = Decimal(str(row[2])).quantize(cent)
        weighted = (Decimal(str(row[3])) / 100).quantize(cent)
        stages.append(StageForecast(stage, int(row[1]), revenue, weighted))
    return Forecast(tuple(stages))
