"""The fields of generated forms and record pages: what a plugin declares (``FormField``)
completed from its SQLAlchemy column, a submitted string turned into a typed value (or a
message saying what is wrong with it), and a stored value shown in words. Decimal numbers
are typed and shown as the company writes them (``[company] locale``), so what a page
shows can be typed back unchanged."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Enum, Integer, Numeric, String, Text
from sqlalchemy.orm import InstrumentedAttribute

from accord.core.contributions import ChoicesOf, FieldKind, FormField
from accord.core.numbers import Numbers

LABEL_COLUMNS = ("name", "title", "number", "subject", "login", "body")
"""A record is named by the first of these columns its model has, or else ``#<id>``."""
LABEL_LENGTH = 80
TEXTAREA_FROM = 500
"""Strings at least this long (or without a length) get a text area."""
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def humanize(name: str) -> str:
    """``vat_number`` → ``Vat number``, ``company_id`` → ``Company``."""
    return name.removesuffix("_id").replace(".", " ").replace("_", " ").strip().capitalize()


def record_label(record: Any, record_id: Any = None) -> str:
    """How a record is named to a user: its name (or title, number...), else ``#<id>``."""
    for name in LABEL_COLUMNS:
        value = getattr(record, name, None)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1] + "…"
    return f"#{record_id if record_id is not None else getattr(record, 'id', '?')}"


def label_column(model: type[Any]) -> InstrumentedAttribute[Any] | None:
    for name in LABEL_COLUMNS:
        attribute = getattr(model, name, None)
        if isinstance(attribute, InstrumentedAttribute):
            return attribute
    return None


@dataclass(frozen=True)
class Field:
    """A form field with everything inferred: what the template and the parser need."""

    name: str
    label: str
    help: str
    kind: FieldKind
    required: bool
    nullable: bool
    choices: tuple[tuple[str, str], ...]
    max_length: int | None
    enum_type: type[enum.Enum] | None
    target: type[Any] | None
    """The referenced model of a ``reference``."""
    scale: int | None = None
    choices_of: ChoicesOf | None = None
    """The plugin's function giving ``choices`` per request (see ``ui.forms.bound``)."""

    @property
    def input_type(self) -> str:
        return {
            "email": "email",
            "tel": "tel",
            "url": "url",
            "integer": "number",
            "decimal": "text",
            "date": "date",
            "datetime": "datetime-local",
        }.get(self.kind, "text")


class FieldError(ValueError):
    """A declared field that its column cannot serve; the message names the problem."""


def resolve(
    declared: FormField, column: Column[Any], target: type[Any] | None, extra_choices: bool = True
) -> Field:
    """``declared`` completed from ``column``; ``target`` is the model a foreign key points
    to (``None`` when the column has none)."""
    kind = declared.kind or infer_kind(declared.field, column, target)
    column_type = column.type
    enum_type = getattr(column_type, "enum_class", None) if isinstance(column_type, Enum) else None
    choices_of = None if isinstance(declared.choices, tuple) else declared.choices
    choices = declared.choices if isinstance(declared.choices, tuple) else ()
    if kind == "choice" and not choices and choices_of is None:
        if enum_type is None:
            raise FieldError("a choice needs choices=((value, label), ...) or an enum column")
        choices = tuple((str(member.value), humanize(str(member.value))) for member in enum_type)
    if kind == "reference" and (target is None or label_column(target) is None):
        raise FieldError(
            "a reference needs a foreign key to a model with a name, title or number column"
        )
    has_default = column.default is not None or column.server_default is not None
    inferred_required = not column.nullable and not has_default and kind != "boolean"
    required = inferred_required if declared.required is None else declared.required
    length = getattr(column_type, "length", None) if isinstance(column_type, String) else None
    scale = getattr(column_type, "scale", None) if isinstance(column_type, Numeric) else None
    return Field(
        name=declared.field,
        label=declared.label or humanize(declared.field),
        help=declared.help,
        kind=kind,
        required=required,
        nullable=bool(column.nullable),
        choices=choices,
        max_length=length,
        enum_type=enum_type,
        target=target if kind == "reference" else None,
        scale=scale,
        choices_of=choices_of,
    )


def resolve_attribute(declared: FormField) -> Field:
    """A field that is an attribute of the model but no column: only what is declared."""
    if declared.kind is None:
        raise FieldError("a field that is no column needs kind=...")
    if declared.kind in ("choice", "multiple") and not declared.choices:
        raise FieldError(f"a {declared.kind} field needs choices=((value, label), ...)")
    if declared.kind == "reference":
        raise FieldError("a reference must be a foreign key column")
    return Field(
        name=declared.field,
        label=declared.label or humanize(declared.field),
        help=declared.help,
        kind=declared.kind,
        required=bool(declared.required),
        nullable=True,
        choices=declared.choices if isinstance(declared.choices, tuple) else (),
        max_length=None,
        enum_type=None,
        target=None,
        choices_of=None if isinstance(declared.choices, tuple) else declared.choices,
    )


def infer_kind(name: str, column: Column[Any], target: type[Any] | None) -> FieldKind:
    column_type = column.type
    if column.foreign_keys and target is not None:
        return "reference"
    if isinstance(column_type, Enum):
        return "choice"
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, Numeric):
        return "decimal"
    if isinstance(column_type, String):
        if "email" in name:
            return "email"
        if "phone" in name or name in ("mobile", "fax"):
            return "tel"
        if name in ("website", "url") or name.endswith("_url"):
            return "url"
        length = column_type.length
        if isinstance(column_type, Text) or length is None or length >= TEXTAREA_FROM:
            return "textarea"
        return "text"
    # A type of a plugin's own (a UTCDateTime is a TypeDecorator over DateTime).
    implementation = getattr(column_type, "impl", None)
    if isinstance(implementation, DateTime):
        return "datetime"
    return "text"


# --- from the form's strings to typed values --------------------------------------------------


def parse(field: Field, raw: Sequence[str], numbers: Numbers) -> tuple[Any, str | None]:
    """The value of the submitted strings ``raw`` (empty when the field was not sent),
    and the message to show next to the field when it is not valid; a decimal number is
    read as ``numbers`` (the company's locale) writes it."""
    if field.kind == "multiple":
        picked = tuple(dict.fromkeys(value.strip() for value in raw if value.strip()))
        if field.required and not picked:
            return picked, "Pick at least one."
        known = dict(field.choices)
        if any(value not in known for value in picked):
            return picked, "Pick among the choices."
        return picked, None
    text = raw[-1].strip() if raw else ""
    if field.kind == "boolean":
        return text in ("on", "true", "yes", "1"), None
    if not text:
        if field.required:
            return None, "This field is required."
        if field.kind in ("text", "textarea", "email", "tel", "url") and not field.nullable:
            return "", None
        return None, None
    if field.max_length is not None and len(text) > field.max_length:
        return text, f"At most {field.max_length:,} characters (this has {len(text):,})."
    try:
        return _typed(field, text, numbers), None
    except ValueError as error:
        return text, str(error)


def _typed(field: Field, text: str, numbers: Numbers) -> Any:
    kind = field.kind
    if kind == "email":
        if not EMAIL.match(text):
            raise ValueError("Enter an e-mail address such as name@example.com.")
        return text
    if kind == "url":
        if not URL.match(text):
            if URL.match(f"https://{text}") and "." in text:
                return f"https://{text}"
            raise ValueError("Enter a web address such as https://example.com.")
        return text
    if kind in ("integer", "reference"):
        try:
            return int(text)
        except ValueError:
            what = (
                "Pick one of the suggestions." if kind == "reference" else "Enter a whole number."
            )
            raise ValueError(what) from None
    if kind == "decimal":
        return _decimal(field, text, numbers)
    if kind == "date":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError("Enter a date as YYYY-MM-DD.") from None
    if kind == "datetime":
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("Enter a date and time as YYYY-MM-DD HH:MM.") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if kind == "choice":
        if text not in dict(field.choices):
            raise ValueError("Pick one of the choices.")
        return field.enum_type(text) if field.enum_type is not None else text
    return text


def _decimal(field: Field, text: str, numbers: Numbers) -> decimal.Decimal:
    number = numbers.parse(text)
    exponent = number.as_tuple().exponent
    if field.scale is not None and isinstance(exponent, int) and -exponent > field.scale:
        raise ValueError(f"At most {field.scale} digits after the decimal point.")
    return number


def form_text(field: Field, value: Any, numbers: Numbers) -> str:
    """A stored value as the form's input shows it: a decimal number as ``numbers`` writes
    it, so that saving the form unchanged stores the same value."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, decimal.Decimal) and field.kind == "decimal":
        return numbers.show(value)
    return str(value)


# --- shown on a record page ---------------------------------------------------------------------


def shown(value: Any, numbers: Numbers, choices: Mapping[str, str] | None = None) -> str:
    """A stored value in words: an enum as its label, a boolean as yes or no, a decimal
    number as ``numbers`` writes it (as its form takes it back)."""
    if value is None or value == "" or value == () or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join((choices or {}).get(str(item), str(item)) for item in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, enum.Enum):
        text = str(value.value)
        return (choices or {}).get(text, humanize(text))
    if choices and str(value) in choices:
        return choices[str(value)]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, decimal.Decimal):
        return numbers.show(value)
    return str(value)
