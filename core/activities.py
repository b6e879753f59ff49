"""The timeline: calls, e-mails, meetings, notes and system events about a partner."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

from sqlalchemy import ForeignKey, Index, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from accord.core.db import Base, intpk, str_enum, utcnow
from accord.core.errors import AccordError


class ActivityKind(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"
    TASK = "task"
    SYSTEM = "system"


class Activity(Base):
    """One thing that happened with a partner, or is due (a task: ``due_at`` set, ``done``
    false until it is done); ``source`` names the plugin and ``source_ref`` the record
    (``leads_lead:42``) it came from."""

    __tablename__ = "core_activity"
    __table_args__ = (Index("ix_core_activity_timeline", "partner_id", "occurred_at", "id"),)

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(ForeignKey("core_partner.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime | None]
    done: Mapped[bool] = mapped_column(default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"), index=True)
    source: Mapped[str] = mapped_column(String(40), default="core")
    source_ref: Mapped[str] = mapped_column(String(80), default="")


def log_activity(
    session: Session,
    partner_id: int,
    kind: ActivityKind,
    subject: str,
    *,
    body: str = "",
    user_id: int | None = None,
    source: str = "core",
    source_ref: str = "",
    occurred_at: dt.datetime | None = None,
    due_at: dt.datetime | None = None,
) -> Activity:
    """Put an activity on the partner's timeline, in the caller's transaction; with
    ``due_at`` it is an open task (``done`` false) until someone marks it done."""
    activity = Activity(
        partner_id=partner_id,
        kind=ActivityKind(kind),
        subject=subject,
        body=body,
        user_id=user_id,
        source=source,
        source_ref=source_ref,
        occurred_at=occurred_at or utcnow(),
        due_at=due_at,
        done=due_at is None,
    )
    session.add(activity)
    session.flush()
    return activity


class TaskError(AccordError, ValueError):
    """Something that is not a task was to be marked done."""


def complete_task(session: Session, activity: Activity) -> bool:
    """Mark the task ``activity`` done, in the caller's transaction (written through its
    session, so the access table decides who may); False when it already was. Raises
    ``TaskError`` for an entry that is no task."""
    if activity.kind != ActivityKind.TASK or activity.due_at is None:
        raise TaskError(f"activity #{activity.id} is a {activity.kind}, not a task with a due date")
    if activity.done:
        return False
    activity.done = True
    session.flush()
    return True


TimelineCursor = tuple[dt.datetime, int]
"""Where a timeline page ends: the ``occurred_at`` and ``id`` of its last row."""


def timeline(
    session: Session,
    partner_id: int,
    *,
    before: Activity | TimelineCursor | None = None,
    limit: int = 50,
) -> Sequence[Activity]:
    """A page of a partner's timeline, newest first; pass the last row (or its cursor,
    ``(occurred_at, id)``) to get the next page (keyset pagination on the timeline index,
    whatever the length of the history; rows of equal time are ordered by id)."""
    query = select(Activity).where(Activity.partner_id == partner_id)
    if before is not None:
        moment, last_id = (
            (before.occurred_at, before.id) if isinstance(before, Activity) else before
        )
        query = query.where(
            or_(
                Activity.occurred_at < moment,
                (Activity.occurred_at == moment) & (Activity.id < last_id),
            )
        )
    query = query.order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)
    return session.scalars(query).all()
