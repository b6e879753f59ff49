"""The dashboard's filter bar: period, team and product line, carried in the URL (so a view
of the dashboard can be shared) and handed to every widget as ``context.filters``, a
checked ``DashboardFilters``. A value that cannot be honoured falls back to its default,
and the bar says what was wrong with which filter."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.core.contributions import DashboardFilters, PeriodKind, ProductLines
from accord.core.security import Team

log = logging.getLogger("accord.ui")

PERIODS: tuple[tuple[PeriodKind, str], ...] = (
    ("month", "This month"),
    ("quarter", "This quarter"),
    ("year", "This year"),
    ("last_12_months", "Last 12 months"),
    ("custom", "Custom dates"),
)
LONGEST_CUSTOM_DAYS = 5 * 366
"""A custom period spans at most five years: charts by month stay readable."""
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)


@dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str
    depth: int
    path: str


@dataclass(frozen=True)
class FilterBar:
    """What the bar shows: the filters in force, the choices, and each problem by field."""

    filters: DashboardFilters
    teams: tuple[TeamChoice, ...] = ()
    product_lines: tuple[tuple[str, str], ...] = ()
    problems: Mapping[str, str] = field(default_factory=dict)
    typed: Mapping[str, str] = field(default_factory=dict)
    """What the user typed in the custom period's fields when it could not be used, so
    the bar shows it back beside its message (the tiles show the default meanwhile)."""

    @property
    def shown_period(self) -> str:
        return "custom" if self.typed else self.filters.period

    @property
    def shown_from(self) -> str:
        return self.typed.get("from", self.filters.start.isoformat())

    @property
    def shown_to(self) -> str:
        return self.typed.get("to", self.filters.end.isoformat())

    def query(self) -> list[tuple[str, str]]:
        """The URL's query pairs of the filters in force."""
        pairs: list[tuple[str, str]] = [("period", self.filters.period)]
        if self.filters.period == "custom":
            pairs += [
                ("from", self.filters.start.isoformat()),
                ("to", self.filters.end.isoformat()),
            ]
        if self.filters.team_id is not None:
            pairs.append(("team", str(self.filters.team_id)))
        if self.filters.product_line is not None:
            pairs.append(("product_line", self.filters.product_line))
        return pairs


def add_months(first: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after (or before) ``first``'s month."""
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_range(period: PeriodKind, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of a named period around ``today`` (not for ``custom``):
    the last 12 months are this month and the eleven before it."""
    month = today.replace(day=1)
    day = dt.timedelta(days=1)
    if period == "quarter":
        start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return start, add_months(start, 3) - day
    if period == "year":
        return dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)
    if period == "last_12_months":
        return add_months(month, -11), add_months(month, 1) - day
    return month, add_months(month, 1) - day


def team_choices(session: Session) -> tuple[TeamChoice, ...]:
    """The teams the user may read, in tree order, through the user's session."""
    teams = session.scalars(select(Team).order_by(Team.path, Team.id))
    return tuple(
        TeamChoice(team.id, team.name, max(team.path.count("/") - 2, 0), team.path)
        for team in teams
    )


def product_line_choices(
    session: Session, sources: Sequence[ProductLines]
) -> tuple[tuple[str, str], ...]:
    """Every plugin's product lines, each source asked in a savepoint (one that fails is
    logged and left out), by label, each value once."""
    found: dict[str, str] = {}
    for source in sources:
        try:
            with session.begin_nested():
                pairs = list(source.choices(session))
        except Exception:
            log.exception("product lines %r failed", source.name)
            continue
        for value, label in pairs:
            found.setdefault(str(value), str(label))
    return tuple(sorted(found.items(), key=lambda pair: (pair[1].casefold(), pair[0])))


def _date(text: str, label: str, problems: dict[str, str], key: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        problems[key] = f"{label}: write the date as YYYY-MM-DD, e.g. 2026-03-01 (got {text!r})."
        return None
    if not EARLIEST <= day <= LATEST:
        problems[key] = (
            f"{label}: {day.isoformat()} is out of range ({EARLIEST.year} to {LATEST.year})."
        )
        return None
    return day


def parse_filters(
    params: Mapping[str, str],
    *,
    today: dt.date,
    teams: Sequence[TeamChoice],
    product_lines: Sequence[tuple[str, str]],
) -> FilterBar:
    """The filters that ``params`` ask for, checked against today's date, the teams the user
    may read and the offered product lines; each bad value falls back to its default
    (this month, all teams, all product lines) with a message naming the filter."""
    problems: dict[str, str] = {}
    names = dict(PERIODS)
    raw_period = (params.get("period") or "month").strip()
    period: PeriodKind = "month"
    if raw_period in names:
        period = raw_period
    else:
        choices = ", ".join(repr(value) for value, _ in PERIODS)
        problems["period"] = f"Period: unknown period {raw_period!r}; choose one of {choices}."

    start = end = None
    typed: dict[str, str] = {}
    if period == "custom":
        raw_from, raw_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
        if not raw_from:
            problems["from"] = "From: choose the first day of the period."
        if not raw_to:
            problems["to"] = "To: choose the last day of the period."
        start = _date(raw_from, "From", problems, "from") if raw_from else None
        end = _date(raw_to, "To", problems, "to") if raw_to else None
        if start and end and start > end:
            problems["to"] = (
                f"To: the last day ({end.isoformat()}) comes before the first "
                f"({start.isoformat()})."
            )
        elif start and end and (end - start).days >= LONGEST_CUSTOM_DAYS:
            problems["to"] = "To: a custom period spans at most five years."
        if {"from", "to"} & problems.keys():
            period, start, end = "month", None, None
            typed = {"from": raw_from, "to": raw_to}
    if start is None or end is None:
        start, end = period_range(period, today)

    team_id: int | None = None
    team_ids: frozenset[int] = frozenset()
    raw_team = (params.get("team") or "").strip()
    if raw_team:
        chosen = next((team for team in teams if str(team.id) == raw_team), None)
        if chosen is None:
            problems["team"] = f"Team: no team {raw_team!r} that you may see; showing all teams."
        else:
            team_id = chosen.id
            team_ids = frozenset(team.id for team in teams if team.path.startswith(chosen.path))

    product_line: str | None = None
    raw_line = (params.get("product_line") or "").strip()
    if raw_line:
        if raw_line in dict(product_lines):
            product_line = raw_line
        else:
            problems["product_line"] = (
                f"Product line: no product line {raw_line!r}; showing all product lines."
            )

    filters = DashboardFilters(period, start, end, team_id, team_ids, product_line)
    return FilterBar(filters, tuple(teams), tuple(product_lines), problems, typed)
