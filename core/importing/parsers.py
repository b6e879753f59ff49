"""Parsers for the cells of common fields, for ``ImportField(parse=...)``: each reads a
non-blank, stripped cell and raises ``ValueError`` saying what is wrong with it."""

from __future__ import annotations

import datetime as dt
import decimal
import re

from accord.core.importing.fields import Parser

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def text(max_length: int) -> Parser:
    """A text of at most ``max_length`` characters."""

    def parse(cell: str) -> str:
        if len(cell) > max_length:
            raise ValueError(f"too long: {len(cell)} characters, at most {max_length}")
        return cell

    return parse


def email(cell: str) -> str:
    """An e-mail address, lower-cased."""
    if not _EMAIL.match(cell):
        raise ValueError(f"{cell!r} is not an e-mail address")
    return cell.lower()


def integer(cell: str) -> int:
    try:
        return int(cell.replace(" ", ""))
    except ValueError:
        raise ValueError(f"{cell!r} is not a whole number") from None


def amount(cell: str) -> decimal.Decimal:
    """A decimal number; a comma as the decimal separator is accepted (``12,50``)."""
    shown = cell.replace(" ", "")
    if "," in shown and "." not in shown:
        shown = shown.replace(",", ".")
    try:
        return decimal.Decimal(shown)
    except decimal.InvalidOperation:
        raise ValueError(f"{cell!r} is not a number") from None


def date(cell: str) -> dt.date:
    """A date written 2024-03-31 (ISO, as spreadsheets export it) or 31/03/2024."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(cell[:10], pattern).date()
        except ValueError:
            continue
    raise ValueError(f"{cell!r} is not a date; write it as 2024-03-31")


_TRUE = frozenset({"1", "true", "yes", "y", "x", "oui", "ja", "si", "sì"})
_FALSE = frozenset({"0", "false", "no", "n", "non", "nein"})


def boolean(cell: str) -> bool:
    lowered = cell.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{cell!r} is not yes or no")


def choice(*values: str) -> Parser:
    """One of ``values``, matched without case; the value as declared."""
    known = {value.lower(): value for value in values}

    def parse(cell: str) -> str:
        found = known.get(cell.lower())
        if found is None:
            raise ValueError(f"{cell!r} is not one of {', '.join(values)}")
        return found

    return parse
