"""The kernel's own dashboard tiles, so that a dashboard has something to say before any
plugin adds its own: new customers over the chosen period, customers by team, and the
user's open tasks. Each reads through the user's session, so it counts only the customers
the user may see, and follows the filter bar's period and team."""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from accord.core.activities import Activity
from accord.core.contributions import DashboardFilters, DashboardWidget, RenderContext
from accord.core.partners import Partner
from accord.core.security import Team
from accord.ui.charts import chart

DAILY_UP_TO = 31
"""A period of at most this many days is drawn day by day, a longer one month by month."""
TASKS_SHOWN = 6


def bucket(session: Session, column: Any, daily: bool) -> ColumnElement[str]:
    """The day (``YYYY-MM-DD``) or month (``YYYY-MM``) of a UTC timestamp, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        pattern = "YYYY-MM-DD" if daily else "YYYY-MM"
        return func.to_char(func.timezone("UTC", column), pattern)
    return func.strftime("%Y-%m-%d" if daily else "%Y-%m", column)


def in_team(filters: DashboardFilters) -> list[ColumnElement[bool]]:
    return [Partner.team_id.in_(sorted(filters.team_ids))] if filters.team_id is not None else []


def new_customers(context: RenderContext) -> str:
    filters = context.filters
    days = (filters.end - filters.start).days + 1
    daily = days <= DAILY_UP_TO
    if daily:
        keys = [filters.start + dt.timedelta(days=n) for n in range(days)]
        labels = [day.strftime("%d %b") for day in keys]
        wanted = [day.isoformat() for day in keys]
    else:
        months = filters.months()
        labels = [month.strftime("%b %Y") for month in months]
        wanted = [month.strftime("%Y-%m") for month in months]
    when = bucket(context.session, Partner.created_at, daily).label("bucket")
    counts = {
        str(row.bucket): int(row.total)
        for row in context.session.execute(
            select(when, func.count(Partner.id).label("total"))
            .where(Partner.created_at >= filters.start_at, Partner.created_at < filters.end_at)
            .where(*in_team(filters))
            .group_by(when)
        )
    }
    total = sum(counts.values())
    drawing = chart(
        "bar",
        labels,
        {"New customers": [counts.get(key, 0) for key in wanted]},
        title=f"New customers {'per day' if daily else 'per month'}, "
        f"{filters.start:%d %b %Y} to {filters.end:%d %b %Y}",
        empty="No new customers in this period.",
    )
    return Markup('<p class="widget__figure"><strong>{}</strong> new customers</p>{}').format(
        total, drawing
    )


def customers_by_team(context: RenderContext) -> str:
    filters = context.filters
    rows = context.session.execute(
        select(Partner.team_id, func.count(Partner.id).label("total"))
        .where(Partner.active.is_(True))
        .where(*in_team(filters))
        .group_by(Partner.team_id)
    ).all()
    names = {row.id: row.name for row in context.session.execute(select(Team.id, Team.name))}
    counted = sorted(
        (
            (names.get(row.team_id, "No team") if row.team_id else "No team", int(row.total))
            for row in rows
        ),
        key=lambda pair: (-pair[1], pair[0]),
    )
    return chart(
        "doughnut",
        [name for name, _ in counted],
        {"Active customers": [count for _, count in counted]},
        title="Active customers by team",
        empty="No active customers to show.",
    )


def my_tasks(context: RenderContext) -> str:
    if context.user is None:
        return ""
    today = dt.datetime.now(dt.UTC).date()
    start_of_today = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    mine = and_(
        Activity.user_id == context.user.id,
        Activity.done.is_(False),
        Activity.due_at.is_not(None),
    )
    overdue = context.session.scalar(
        select(func.count(Activity.id)).where(mine, Activity.due_at < start_of_today)
    )
    upcoming = context.session.execute(
        select(Activity.id, Activity.subject, Activity.due_at, Partner.id, Partner.name)
        .join(Partner, Partner.id == Activity.partner_id)
        .where(mine)
        .order_by(Activity.due_at, Activity.id)
        .limit(TASKS_SHOWN)
    ).all()
    if not upcoming:
        return '<p class="chart__empty">No open tasks. Tasks you log on a customer show here.</p>'
    lines = []
    for activity_id, subject, due_at, partner_id, name in upcoming:
        due = due_at or start_of_today  # only tasks with a due date are selected
        late = due < start_of_today
        lines.append(
            Markup(
                '<li{cls}><a href="/partners/{partner}#activity-{id}">{subject}</a> '
                "<small>{name} · due {due}{late}</small></li>"
            ).format(
                cls=Markup(' class="task--overdue"') if late else "",
                partner=partner_id,
                id=activity_id,
                subject=subject,
                name=name,
                due=due.strftime("%d %b %Y"),
                late=" (overdue)" if late else "",
            )
        )
    items = Markup("").join(lines)
    return Markup(
        '<p class="widget__figure"><strong>{}</strong> overdue</p><ul class="task-list">{}</ul>'
    ).format(overdue or 0, items)


KERNEL_WIDGETS: tuple[DashboardWidget, ...] = (
    DashboardWidget(
        "core.new_customers",
        "New customers",
        render=new_customers,
        permission="core.partners.read",
        order=10,
    ),
    DashboardWidget(
        "core.my_tasks",
        "Your open tasks",
        render=my_tasks,
        permission="core.partners.read",
        order=11,
    ),
    DashboardWidget(
        "core.customers_by_team",
        "Customers by team",
        render=customers_by_team,
        permission="core.partners.read",
        order=12,
    ),
)
