"""The duplicate keys: the fast readings give exactly what the slow, general ones give."""

from __future__ import annotations

import random
import unicodedata

from accord.plugins.leads.normalise import name_key, parsed_phone_key, phone_key


def test_international_numbers_get_the_key_libphonenumbers_parser_gives() -> None:
    rng = random.Random(7)
    numbers = [
        "+39 02 1234 5678",
        "+39 333 123 4567",
        "+44 20 7946 0958",
        "+44 020 7946 0958",
        "+49 30 123456",
        "+49 030 123456",
        "+1 212-555-0100",
        "+1 1 212 555 0100",
        "+33 1 23 45 67 89",
        "+7 8 495 123 45 67",
        "+46 8 123 456 78",
        "+358 9 1234567",
        "+99 123",
        "+39 0",
        "+",
        "0039 02 1234 5678",
        "02 1234 5678",
    ]
    for code in (1, 7, 33, 39, 44, 46, 49, 54, 55, 61, 81, 86, 91, 352, 358, 380, 971):
        for _ in range(40):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 13)))
            numbers.append(f"+{code} {digits[:3]} {digits[3:]}")
    for number in numbers:
        assert phone_key(number, "IT") == parsed_phone_key(number, "IT"), number


def reference_name_key(company: str, first_name: str, last_name: str) -> str:
    """The name key as defined: case folded, decomposed, accents dropped, split into words,
    legal forms dropped from the company."""

    def words(text: str) -> list[str]:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(char for char in decomposed if not unicodedata.combining(char))
        return [
            word for word in "".join(c if c.isalnum() or c == "_" else " " for c in plain).split()
        ]

    from accord.plugins.leads.normalise import LEGAL_FORMS

    firm = " ".join(word for word in words(company.replace(".", "")) if word not in LEGAL_FORMS)
    person = " ".join(words(f"{first_name} {last_name}"))
    return f"{firm}|{person}"[:300] if firm and person else ""


def test_names_in_any_script_and_spacing_get_their_key() -> None:
    samples = [
        ("Caffè Neri S.r.l.", "Anna", "Müller"),
        ("CASTELLO srl", "José", "García"),
        ("Straße\u00a0GmbH", "Ærøskøbing", "Ørsted"),
        ("ﬁne Foods Ltd", "Zoë", "Brontë"),
        ("Bar ½ Luna", "Łukasz", "Wałęsa"),
        ("Кофе Инк", "Иван", "Петров"),
        ("喫茶 Tokyo", "Ángel", "Nuñez"),
        # Full-width letters and a figure space.
        ("\uff21\uff43\uff4d\uff45\u2007Corp", "\uff2a\uff4f\uff48\uff4e", "O'Brien-Smith"),
    ]
    for company, first, last in samples:
        assert name_key(company, first, last) == reference_name_key(company, first, last)
