"""The keys duplicates are found by: an e-mail address in one spelling, a phone number in
E.164 (phonenumbers, Google's libphonenumber rules), a company and a person's name without
case, accents, punctuation or legal form."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

LEGAL_FORMS = frozenset(
    {
        "ab",
        "ag",
        "as",
        "bv",
        "co",
        "corp",
        "gmbh",
        "inc",
        "kg",
        "llc",
        "ltd",
        "nv",
        "oy",
        "plc",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
        "snc",
    }
)
_WORDS = re.compile(r"[^\w]+")


def email_key(email: str) -> str:
    """``"  Anna.Rossi@Example.COM "`` → ``"anna.rossi@example.com"``; not an address: ``""``."""
    text = email.strip().lower()
    if text.count("@") != 1:
        return ""
    local, domain = text.split("@")
    if not local or "." not in domain:
        return ""
    return f"{local}@{domain}"


def is_email(email: str) -> bool:
    return bool(email_key(email))


def phone_key(phone: str, country: str) -> str:
    """The number in E.164 (``+390212345678``), read as a number of ``country`` when it has
    no ``+`` prefix; ``""`` when it is not a possible phone number.

    A number written in the international format (``+39 02 1234 5678``), the way CRM
    exports and web forms write them, is read without libphonenumber's parser, which
    costs about 0.1 ms a number (a tenth of a second per thousand leads imported): the
    digits after the country code are the national number unless they could start with
    a national prefix, and whether it is possible depends on its length alone. Anything
    else goes through the parser (``parsed_phone_key``); both give the same key."""
    text = phone.strip()
    if _INTERNATIONAL.match(text):
        digits = _NOT_DIGITS.sub("", text)
        for length in (1, 2, 3):
            code = int(digits[:length])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                significant = digits[length:]
                prefix = _national_prefix(code)
                if prefix is None or not significant or len(significant) > 17:
                    break
                if prefix and re.match(prefix, significant):
                    break
                if not significant.startswith("0") or code == 39:
                    return f"+{code}{significant}" if _possible(code, len(significant)) else ""
                break
    return parsed_phone_key(phone, country)


@lru_cache(maxsize=16384)
def parsed_phone_key(phone: str, country: str) -> str:
    """``phone_key`` by libphonenumber's parser, whatever the number's format. A number is
    parsed once per country (a file repeats a company's switchboard on many rows)."""
    text = phone.strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_INTERNATIONAL = re.compile(r"^\+[0-9][0-9 ./-]*$")
_NOT_DIGITS = re.compile(r"\D")


@lru_cache(maxsize=4096)
def _possible(country_code: int, length: int) -> bool:
    """Whether a number of this country code and national significant number length is
    possible: libphonenumber decides by the length alone."""
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int("5" * length))
    return bool(phonenumbers.is_possible_number(number))


@lru_cache(maxsize=512)
def _national_prefix(country_code: int) -> str | None:
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    return metadata.national_prefix_for_parsing or metadata.national_prefix or ""


def _plain(text: str) -> list[str]:
    """The words of ``text`` without case or accents. Plain ASCII is only lowercased;
    other text word by word (a word's result is kept: names repeat)."""
    if text.isascii():
        return [word for word in _WORDS.split(text.lower()) if word]
    words: list[str] = []
    for token in text.split():
        words.extend(_plain_token(token))
    return words


@lru_cache(maxsize=65536)
def _plain_token(token: str) -> tuple[str, ...]:
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    ascii_only = "".join(char for char in decomposed if not unicodedata.combining(char))
    return tuple(word for word in _WORDS.split(ascii_only) if word)


def company_key(company: str) -> str:
    """``"Castello S.r.l."`` and ``"castello srl"`` → ``"castello"``."""
    words = _plain(company.replace(".", ""))
    return " ".join(word for word in words if word not in LEGAL_FORMS)


def name_key(company: str, first_name: str, last_name: str) -> str:
    """Company and person together (``"castello|anna rossi"``); ``""`` unless both are
    known: a common name alone, or a company alone, says too little."""
    firm = company_key(company)
    person = " ".join(_plain(f"{first_name} {last_name}"))
    if not firm or not person:
        return ""
    return f"{firm}|{person}"[:300]
