"""The dummy add-on's one table: notes about a customer, with a small publish workflow."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from accord.api import Base, TimestampMixin, intpk


class DummyNote(TimestampMixin, Base):
    """A free-text note about a partner, drafted then published."""

    __tablename__ = "dummy_note"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("core_partner.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
