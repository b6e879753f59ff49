"""State machines that plugins declare on their models; every state change goes through
``transition`` (DESIGN rule 4)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.core.db import Base, intpk, utcnow


class TransitionRecord(Base):
    """One transition a record went through: who moved it from which state to which, when,
    and with what inputs (a loss reason, an approval note). Append-only."""

    __tablename__ = "core_workflow_history"
    __table_args__ = (Index("ix_core_workflow_history_record", "model", "record_id", "at", "id"),)
    __audited__ = False  # the history is itself the record of the change

    id: Mapped[intpk]
    model: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))
    workflow: Mapped[str] = mapped_column(String(120))
    transition: Mapped[str] = mapped_column(String(80))
    from_state: Mapped[str] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    context: Mapped[str] = mapped_column(String(120), default="")
