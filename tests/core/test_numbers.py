"""Numbers as a locale writes them (accord.core.numbers): read strictly, so a grouping
separator is never taken for a decimal one, and shown so that they read back the same."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accord.core.numbers import NumberError, Numbers, known_locale


@pytest.mark.parametrize(
    ("locale", "typed", "value"),
    [
        ("en", "12,500", Decimal("12500")),
        ("en", "-1,234.50", Decimal("-1234.50")),
        ("en", "+5", Decimal("5")),
        ("en", ".5", Decimal("0.5")),
        ("it", "12.500,00", Decimal("12500.00")),
        ("it", "-0,75", Decimal("-0.75")),
        ("fr", "12 500,5", Decimal("12500.5")),  # a plain space for the narrow no-break one
        ("de_CH", "1'234.50", Decimal("1234.50")),  # an apostrophe for U+2019
        ("sv", "\N{MINUS SIGN}1 234,5", Decimal("-1234.5")),
        ("en_IN", "12,34,567.5", Decimal("1234567.5")),
    ],
)
def test_a_number_is_read_as_the_locale_writes_it(locale, typed, value) -> None:
    read = Numbers(locale).parse(typed)

    assert (read, str(read)) == (value, str(value))


@pytest.mark.parametrize(
    ("locale", "typed", "message"),
    [
        ("en", "12,5", "Enter a number such as 1,234.50; did you mean 125 or 12.5?"),
        ("en", "--5", "Enter a number such as 1,234.50."),
        ("en", "NaN", "Enter a number such as 1,234.50."),
        ("en", "- 5", "Enter a number such as 1,234.50."),
        ("it", "1234.5", "Enter a number such as 1.234,50; did you mean 12.345 or 1.234,5?"),
        ("it", "12,500.00", "Enter a number such as 1.234,50."),
    ],
)
def test_a_number_the_locale_does_not_write_is_refused(locale, typed, message) -> None:
    with pytest.raises(NumberError) as refused:
        Numbers(locale).parse(typed)

    assert str(refused.value) == message


@pytest.mark.parametrize("locale", ["en", "it", "fr", "de_CH", "sv", "en_IN"])
@pytest.mark.parametrize("value", [Decimal("12500.00"), Decimal("-1234567.891"), Decimal("0.05")])
def test_what_is_shown_reads_back_the_same(locale, value) -> None:
    numbers = Numbers(locale)

    back = numbers.parse(numbers.show(value))

    assert (back, str(back)) == (value, str(value))


def test_a_decimal_keeps_its_places_when_shown() -> None:
    assert Numbers("en").show(Decimal("12500.00")) == "12,500.00"
    assert Numbers("it").show(Decimal("12500.00")) == "12.500,00"
    assert Numbers("it").show(Decimal("1234.5"), 2) == "1.234,50"
    assert Numbers("en").show(1234) == "1,234"


def test_a_whole_number_is_refused_with_a_whole_example() -> None:
    assert Numbers("it").parse_whole("12.500") == 12500
    with pytest.raises(NumberError, match=r"^Enter a whole number such as 1\.234\.$"):
        Numbers("it").parse_whole("12,5")


@pytest.mark.parametrize(("given", "known"), [("it-IT", "it_IT"), (" en_GB ", "en_GB")])
def test_a_locale_is_written_as_babel_knows_it(given, known) -> None:
    assert known_locale(given) == known


@pytest.mark.parametrize("given", ["xx_YY", "en_XX", "italian", ""])
def test_an_unknown_locale_says_what_to_write(given) -> None:
    with pytest.raises(ValueError, match=r'^not a locale Babel knows; .* such as "en", "en_GB"'):
        known_locale(given)
