"""The keys duplicates are found by: an e-mail address in one spelling, a phone number in
E.164 (phonenumbers, Google's libphonenumber rules), a company and a person's name without
case, accents, punctuation or legal form."""

from __future__ import annotations

import re
import unicodedata

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
    no ``+`` prefix; ``""`` when it is not a possible phone number."""
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


def _plain(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = "".join(char for char in decomposed if not unicodedata.combining(char))
    return [word for word in _WORDS.split(ascii_only) if word]


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
