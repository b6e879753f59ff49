"""The tables of workflows: the history of transitions, and the columns a workflow model
takes from ``WorkflowMixin``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

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


class WorkflowMixin:
    """The columns of a workflow model: its ``state`` (indexed, lists filter on it) and a
    ``version`` counter that SQLAlchemy checks and bumps on every UPDATE, so that of two
    users moving the same record at once, only the first succeeds."""

    state: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 (declared_attr gets the class)
        # Declarative swaps the mixin's column for the model's own copy.
        return {"version_id_col": cls.version}
