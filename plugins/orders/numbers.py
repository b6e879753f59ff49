"""Document numbers (``SO-2026-00042``): the row's id under the year and the company's
prefix, so two clerks or two web-store orders at once never draw the same number."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy.orm import Session


def next_number(session: Session, model: type[Any], prefix: str) -> str:
    """A provisional unique number; :func:`assign_number` gives the final one once the row
    has its id."""
    return f"{prefix}-new-{secrets.token_hex(8)}"


def assign_number(session: Session, record: Any, prefix: str) -> str:
    session.flush()
    record.number = f"{prefix}-{dt.date.today().year}-{record.id:05d}"
    return str(record.number)
