"""What an importer declares: the fields a file's columns map to, how each cell is read,
and the function that writes a batch of checked rows through the caller's session."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Parser = Callable[[str], Any]
"""Reads one non-blank cell (already stripped); raises ``ValueError`` with a message the
user understands (``"not a date; write it as 2024-03-31"``) when the cell is wrong."""


@dataclass(frozen=True)
class ImportField:
    """A field of the records an importer makes, that a column of the file may fill.

    ``aliases`` are other header names that map to it by themselves (compared without
    case, spaces, ``_`` or ``-``: ``"E-mail"``, ``"email_address"``). A blank cell is
    ``None``; a blank cell of a ``required`` field rejects the row."""

    name: str
    label: str
    required: bool = False
    parse: Parser = str
    aliases: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class ImportRow:
    """A row of the file that passed every field's check, as the write function gets it.

    ``line`` is the row number the user sees in a spreadsheet (the header is row 1);
    ``values`` holds the mapped fields, parsed (``None`` for a blank cell, absent for a
    field no column maps to); ``record_id`` is the record an earlier import of the same
    external id made, when this row brings changes to it."""

    line: int
    values: Mapping[str, Any]
    external_id: str | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class Written:
    """What the write function did with a row: ``created`` a record, or ``merged`` it into
    an existing one (an update of an earlier import, or a duplicate found by the plugin's
    own rules); ``note`` says which, for the report (``"same e-mail as lead #12"``)."""

    action: Literal["created", "merged"]
    record_id: int | str
    note: str = ""


@dataclass(frozen=True)
class Refused:
    """A row the write function refused by a business rule, with the reason and the field
    it is about; it wrote nothing for that row."""

    message: str
    field: str | None = None


WriteRows = Callable[["Session", Sequence[ImportRow]], Sequence[Written | Refused]]


@dataclass(frozen=True)
class Importer:
    """A kind of file a plugin can import (contributed through ``accord_importers``).

    ``write(session, rows)`` gets the checked rows batch by batch, in file order, and
    returns one ``Written`` or ``Refused`` per row, in the same order. It writes through
    ``session``, the importing user's: the access rules, the audit log and the outbox
    apply to it as to any other change. ``model`` is the table of the records it makes
    (the UI offers the importer to users who may create them); ``permission``, when set,
    is needed too. ``external_id`` names the field whose value identifies a row across
    imports: a row already imported with the same values is left alone, one with other
    values reaches ``write`` with its ``record_id``."""

    name: str
    title: str
    model: str
    fields: tuple[ImportField, ...]
    write: WriteRows
    external_id: str | None = None
    permission: str | None = None
    batch_size: int = 1000
    summary: str = ""

    def __post_init__(self) -> None:
        names = [item.name for item in self.fields]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"importer {self.name!r}: field {twice[0]!r} is declared twice")
        if self.external_id is not None and self.external_id not in names:
            raise ValueError(
                f"importer {self.name!r}: external_id {self.external_id!r} is none of its "
                f"fields ({', '.join(names)})"
            )

    def field(self, name: str) -> ImportField:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)
