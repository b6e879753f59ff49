"""Numbers as the company writes them (``[company] locale``): what a user types in a form or
a file read strictly in that locale, so a grouping separator is never taken for a decimal
one ("12,500" is twelve thousand five hundred in English and refused in Italian), and a
stored value shown so that it can be typed back unchanged. Babel knows each locale's
symbols and patterns."""

from __future__ import annotations

import copy
import decimal
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberFormatError,
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
    parse_decimal,
    parse_pattern,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEFAULT_LOCALE = "en"
EXAMPLE = decimal.Decimal("1234.50")
APOSTROPHES = "'’"  # noqa: RUF001 - Swiss German groups with U+2019; people type U+0027


class NumberError(ValueError):
    """Text that is no number as the locale writes it. Its message is for a form
    (``Enter a number such as 1,234.50; did you mean 125 or 12.5?``); ``example`` and
    ``suggestions`` (Babel's readings of an ambiguous text) let others word their own."""

    def __init__(self, example: str, suggestions: Sequence[str] = (), whole: bool = False) -> None:
        self.example = example
        self.suggestions = tuple(suggestions)
        what = "a whole number" if whole else "a number"
        message = f"Enter {what} such as {example}"
        if self.suggestions:
            message += f"; did you mean {' or '.join(self.suggestions)}?"
        super().__init__(message if self.suggestions else f"{message}.")


def known_locale(name: str) -> str:
    """``name`` (``it_IT``, ``it-IT``, ``en``) as Babel's identifier; ``ValueError`` saying
    what to write instead when Babel knows no such locale."""
    try:
        return str(Locale.parse(name.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            "not a locale Babel knows; write a language and, optionally, a country code, "
            'such as "en", "en_GB", "it_IT" or "de_CH"'
        ) from None


@dataclass(frozen=True)
class Numbers:
    """How one locale writes numbers: ``parse`` what was typed, ``show`` a stored value."""

    locale: str = DEFAULT_LOCALE

    @cached_property
    def _locale(self) -> Locale:
        return Locale.parse(self.locale)

    @cached_property
    def decimal_symbol(self) -> str:
        return get_decimal_symbol(self._locale)

    @cached_property
    def group_symbol(self) -> str:
        return get_group_symbol(self._locale)

    @cached_property
    def example(self) -> str:
        """1234.5 as this locale writes it: ``1,234.50``, ``1.234,50``, ``1 234,50``."""
        return self.show(EXAMPLE)

    def parse(self, text: str) -> decimal.Decimal:
        """The number ``text`` writes in this locale. A grouping separator is accepted only
        where the locale puts one, so ``12,5`` in English is refused (is it 125 or 12.5?)
        rather than read as either; ``NumberError`` says how to write it."""
        written = text.strip()
        sign, body = "", written
        if written.startswith(("-", "+", self._minus)) and len(written) > 1:
            sign = "+" if written[0] == "+" else "-"
            body = written[1:] if written[0] in "-+" else written[len(self._minus) :]
        if self.group_symbol.isspace():  # French groups with a narrow no-break space
            body = "".join(self.group_symbol if char.isspace() else char for char in body)
        elif self.group_symbol in APOSTROPHES:
            body = "".join(self.group_symbol if char in APOSTROPHES else char for char in body)
        try:
            number = parse_decimal(body, self._locale, strict=True)
        except NumberFormatError as error:
            # Babel's readings of a text with both separators ("12,500.00" in Italian:
            # 12,5 or 12.500?) mislead more than they help; the example says it all.
            mixed = self.group_symbol in body and self.decimal_symbol in body
            raise NumberError(self.example, () if mixed else error.suggestions or ()) from None
        starts_right = body[:1].isdigit() or body.startswith(self.decimal_symbol)
        if not number.is_finite() or not starts_right:  # "NaN", "--5", "- 5"
            raise NumberError(self.example)
        return -number if sign == "-" else number

    def parse_whole(self, text: str) -> int:
        """A whole number written in this locale (``12,500``); ``NumberError`` otherwise."""
        try:
            number = self.parse(text)
        except NumberError as error:
            raise NumberError(self.show(1234), error.suggestions, whole=True) from None
        if number != number.to_integral_value():
            raise NumberError(self.show(1234), whole=True)
        return int(number)

    def show(self, value: decimal.Decimal | int | float, places: int | None = None) -> str:
        """``value`` in this locale with ``places`` digits after the decimal separator
        (rounded half even); by default a Decimal keeps its own (``12500.00`` is shown
        ``12,500.00``, never ``12,500``) and an integer has none."""
        if places is None:
            if isinstance(value, decimal.Decimal) and value.is_finite():
                exponent = value.as_tuple().exponent
                places = max(0, -exponent) if isinstance(exponent, int) else 0
            elif isinstance(value, float):
                places = 2
            else:
                places = 0
        pattern = copy.copy(parse_pattern(self._locale.decimal_formats[None]))
        pattern.frac_prec = (places, places)
        return format_decimal(value, format=pattern, locale=self._locale)

    @cached_property
    def _minus(self) -> str:
        # Some locales write U+2212 (sometimes behind a direction mark) rather than "-".
        return get_minus_sign_symbol(self._locale).strip("\u200e\u200f\u061c") or "-"


@functools.cache
def numbers_in(locale: str) -> Numbers:
    """The one ``Numbers`` of ``locale`` (a known one, see ``known_locale``), so that its
    symbols and patterns are looked up once."""
    return Numbers(locale)


def numbers_of(session: Session) -> Numbers:
    """The company's ``Numbers`` (``[company] locale``) for the runtime that opened
    ``session``, as a plugin's panel or message shows an amount."""
    from accord.core.runtime import runtime_of

    return runtime_of(session).settings.company.numbers


def company_numbers(session: Session) -> Numbers:
    """``numbers_of(session)``, or the default locale's for a session that no runtime
    opened (a script's own engine)."""
    from accord.core.runtime import RUNTIME_KEY, Runtime

    runtime = session.info.get(RUNTIME_KEY)
    if isinstance(runtime, Runtime):
        return runtime.settings.company.numbers
    return numbers_in(DEFAULT_LOCALE)
