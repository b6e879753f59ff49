"""Parsers for the cells of common fields, for ``ImportField(parse=...)``: each reads a
non-blank, stripped cell and raises ``ValueError`` saying what is wrong with it. Numbers
are read as the company writes them (``[company] locale``): ``run_import`` gives
``integer`` and ``amount`` the company's ``Numbers``."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accord.core.importing.fields import Parser
from accord.core.importing.sheets import PlainNumber
from accord.core.numbers import DEFAULT_LOCALE, NumberError, Numbers, numbers_in

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


@dataclass(frozen=True)
class NumberCell:
    """A parser of cells written as numbers in a locale: ``in_locale(numbers)`` is the
    parser for the company's (what ``run_import`` uses); called as it is, it reads the
    default locale's (``en``: ``1,234.50``)."""

    read: Callable[[Numbers, str], Any]

    def __call__(self, cell: str) -> Any:
        return self.read(numbers_in(DEFAULT_LOCALE), cell)

    def in_locale(self, numbers: Numbers) -> Parser:
        return functools.partial(self.read, numbers)


def _refusal(cell: str, what: str, error: NumberError) -> ValueError:
    message = f"{cell!r} is not {what} as this company writes it, such as {error.example}"
    if error.suggestions:
        message += f"; did you mean {' or '.join(error.suggestions)}?"
    return ValueError(message)


def _integer(numbers: Numbers, cell: str) -> int:
    if isinstance(cell, PlainNumber):
        number = decimal.Decimal(cell)
        if number != number.to_integral_value():
            raise ValueError(f"{cell} is not a whole number")
        return int(number)
    try:
        return numbers.parse_whole(cell)
    except NumberError as error:
        raise _refusal(cell, "a whole number", error) from None


def _amount(numbers: Numbers, cell: str) -> decimal.Decimal:
    if isinstance(cell, PlainNumber):
        return decimal.Decimal(cell)
    try:
        return numbers.parse(cell)
    except NumberError as error:
        raise _refusal(cell, "a number", error) from None


integer = NumberCell(_integer)
"""A whole number, grouped or not as the company writes it (``12,500`` in English)."""
amount = NumberCell(_amount)
"""A decimal number as the company writes it: ``1,234.50`` in English, ``1.234,50`` in
Italian. A separator in the wrong place (``12,5`` in English) is refused, not guessed."""


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
