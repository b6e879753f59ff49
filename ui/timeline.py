"""A customer's timeline as the 360 page shows it: entries with their kind, who and when
(exact and relative), tasks with their due date and whether the user may mark them done,
and the keyset cursor of the next page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import humanize
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.activities import Activity, ActivityKind, TimelineCursor, timeline
from accord.core.security import User

PAGE_SIZE = 25
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CURSOR = re.compile(r"^(-?\d{1,20})\.(\d{1,18})$")

KINDS: dict[ActivityKind, tuple[str, str]] = {
    ActivityKind.CALL: ("Call", "☎"),
    ActivityKind.EMAIL: ("E-mail", "✉"),
    ActivityKind.MEETING: ("Meeting", "👥"),
    ActivityKind.NOTE: ("Note", "✎"),
    ActivityKind.TASK: ("Task", "☑"),
    ActivityKind.SYSTEM: ("Event", "⚙"),
}


class CursorError(ValueError):
    """A ``before`` value that is not a cursor this page wrote."""


def encode_cursor(activity: Activity) -> str:
    """``<microseconds since 1970>.<id>``: exact (no float rounding), and plain in a URL."""
    micros = (activity.occurred_at - EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros}.{activity.id}"


def decode_cursor(text: str) -> TimelineCursor:
    match = CURSOR.match(text)
    if match is None:
        raise CursorError(
            f"'before' must be a timeline cursor such as '1763900000000000.42', got {text!r}"
        )
    try:
        moment = EPOCH + dt.timedelta(microseconds=int(match[1]))
    except OverflowError:
        raise CursorError(f"'before' is out of range: {text!r}") from None
    return moment, int(match[2])


@dataclass(frozen=True)
class TimelineEntry:
    """One activity, ready to show."""

    id: int
    kind: str
    label: str
    icon: str
    subject: str
    body: str
    who: str
    at: dt.datetime
    exact: str
    relative: str
    due: dt.date | None = None
    due_relative: str = ""
    done: bool = True
    overdue: bool = False
    source: str = "core"
    may_complete: bool = False
    """An open task that the user may change (the access table's rows for core_activity)."""


@dataclass(frozen=True)
class TimelinePage:
    entries: tuple[TimelineEntry, ...]
    next_cursor: str | None


def exact(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%d %b %Y, %H:%M UTC")


def load_page(
    session: Session,
    partner_id: int,
    *,
    before: TimelineCursor | None = None,
    now: dt.datetime | None = None,
    size: int | None = None,
    principal: Principal | None = None,
) -> TimelinePage:
    """A page of the partner's timeline read through ``session`` (so only the activities the
    user may read), newest first, with the cursor of the next page when there is one; the
    open tasks that ``principal`` may change can be marked done."""
    now = now or dt.datetime.now(dt.UTC)
    size = size or PAGE_SIZE
    rows = list(timeline(session, partner_id, before=before, limit=size + 1))
    more = len(rows) > size
    rows = rows[:size]
    user_ids = {row.user_id for row in rows if row.user_id is not None}
    names: dict[int, str] = {}
    if user_ids:
        rows_of_users = session.execute(
            select(User.id, User.name).where(User.id.in_(sorted(user_ids)))
        )
        names = {int(row.id): str(row.name) for row in rows_of_users}
    open_tasks = [row.id for row in rows if row.due_at is not None and not row.done]
    completable = changeable(session, principal, open_tasks) if principal else set()
    entries = tuple(entry(row, names, now, row.id in completable) for row in rows)
    return TimelinePage(entries, encode_cursor(rows[-1]) if more and rows else None)


def changeable(session: Session, principal: Principal, ids: Sequence[int]) -> set[int]:
    """Which of the activities ``ids`` the access table lets ``principal`` change, asked
    of its rules in one query (not re-implemented here)."""
    if not ids:
        return set()
    if principal.is_system:
        return set(ids)
    policy = principal.policy
    if policy is None or not policy.decide(principal.roles, "core_activity", "write").allowed:
        return set()
    query = select(Activity.id).where(Activity.id.in_(ids))
    condition = policy.criteria(principal, Activity, "write")
    if condition is not None:
        query = query.where(condition)
    return {int(found) for found in session.connection().execute(query).scalars()}


def entry(
    activity: Activity, names: dict[int, str], now: dt.datetime, may_complete: bool = False
) -> TimelineEntry:
    label, icon = KINDS.get(activity.kind, (str(activity.kind).title(), "•"))
    if activity.user_id is None:
        who = "Accord" if activity.source == "core" else activity.source.replace("_", " ").title()
    else:
        who = names.get(activity.user_id, "a former user")
    due = activity.due_at.astimezone(dt.UTC).date() if activity.due_at else None
    today = now.astimezone(dt.UTC).date()
    due_relative = ""
    if due is not None:
        due_relative = (
            "today"
            if due == today
            else "tomorrow"
            if due == today + dt.timedelta(days=1)
            else "yesterday"
            if due == today - dt.timedelta(days=1)
            else humanize.naturaltime(
                dt.datetime.combine(due, dt.time()), when=dt.datetime.combine(today, dt.time())
            )
        )
    return TimelineEntry(
        id=activity.id,
        kind=str(activity.kind),
        label=label,
        icon=icon,
        subject=activity.subject,
        body=activity.body,
        who=who,
        at=activity.occurred_at,
        exact=exact(activity.occurred_at),
        relative=humanize.naturaltime(activity.occurred_at, when=now),
        due=due,
        due_relative=due_relative,
        done=activity.done,
        overdue=due is not None and not activity.done and due < today,
        source=activity.source,
        may_complete=may_complete,
    )


def kinds_to_log() -> Sequence[tuple[str, str]]:
    """What a user may log by hand: a note, a call, a meeting or a task."""
    return [
        (str(kind), KINDS[kind][0])
        for kind in (ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.TASK)
    ]
