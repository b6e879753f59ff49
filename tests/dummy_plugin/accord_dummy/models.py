"""The dummy add-on's one table: notes about a customer, with a small publish workflow."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from accord.api import Base, TimestampMixin, WorkflowMixin, intpk


class DummyNote(WorkflowMixin, TimestampMixin, Base):
    """A free-text note about a partner, drafted by its author, published by another note
    taker (four eyes), withdrawn by a reviewer. ``WorkflowMixin`` gives it ``state`` and
    the ``version`` that keeps two concurrent transitions from both winning."""

    __tablename__ = "dummy_note"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(String(500))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True
    )
