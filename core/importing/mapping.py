"""Which column of a file fills which field of an importer: found by header name, label or
alias, changed by the user's choices, and every problem reported at once, before any row
is read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from accord.core.errors import AccordError
from accord.core.importing.fields import Importer
from accord.core.importing.sheets import Sheet

IGNORE = "-"
"""As a column's field in the user's choices: leave that column out."""


class MappingError(AccordError):
    """The file's columns cannot be mapped to the importer's fields; ``problems`` lists
    each problem on its own."""

    def __init__(self, name: str, problems: list[str]) -> None:
        super().__init__(f"{name}: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ColumnMap:
    """Field name -> index of the column that fills it; and the columns left out."""

    fields: Mapping[str, int]
    headers: tuple[str, ...]
    ignored: tuple[str, ...]

    def column_of(self, field: str) -> str:
        return self.headers[self.fields[field]]

    def field_of(self, column: str) -> str | None:
        for name, index in self.fields.items():
            if self.headers[index] == column:
                return name
        return None


def comparable(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name).casefold()


def guess(importer: Importer, header: str) -> str | None:
    """The field a column of this name fills by itself, if any."""
    wanted = comparable(header)
    if not wanted:
        return None
    for item in importer.fields:
        if wanted in {comparable(name) for name in (item.name, item.label, *item.aliases)}:
            return item.name
    return None


def map_columns(
    importer: Importer, sheet: Sheet, choices: Mapping[str, str] | None = None
) -> ColumnMap:
    """Map the sheet's columns: ``choices`` (column header -> field name, or ``"-"`` to
    leave a column out) first, then each remaining column by its header. Raises
    ``MappingError`` naming every column or field in trouble."""
    problems = list(sheet.problems)
    headers = sheet.headers
    by_header = {comparable(header): index for index, header in enumerate(headers) if header}
    known = {item.name for item in importer.fields}
    fields: dict[str, int] = {}
    decided: set[int] = set()
    for column, field in (choices or {}).items():
        index = by_header.get(comparable(column))
        if index is None:
            problems.append(
                f"column {column!r} is not in the file; its columns: "
                + ", ".join(repr(header) for header in headers if header)
            )
            continue
        decided.add(index)
        if field in ("", IGNORE):
            continue
        if field not in known:
            problems.append(
                f"column {column!r}: unknown field {field!r}; fields: {', '.join(sorted(known))}"
            )
            continue
        if field in fields:
            problems.append(
                f"columns {headers[fields[field]]!r} and {headers[index]!r} both fill "
                f"field {field!r}; choose one"
            )
            continue
        fields[field] = index
    for index, header in enumerate(headers):
        if index in decided:
            continue
        guessed = guess(importer, header)
        if guessed is None:
            continue
        if guessed in fields and comparable(headers[fields[guessed]]) == comparable(header):
            continue  # a header twice is reported as such
        if guessed in fields:
            if fields[guessed] not in decided:
                problems.append(
                    f"columns {headers[fields[guessed]]!r} and {header!r} both fill field "
                    f"{guessed!r}; map one of them to another field or to '-'"
                )
            continue
        fields[guessed] = index
    for item in importer.fields:
        if item.required and item.name not in fields:
            problems.append(
                f"no column fills the required field {item.name!r} ({item.label}): "
                f"name a column {item.label!r} or map one to {item.name!r}"
            )
    if problems:
        raise MappingError(sheet.name, problems)
    used = set(fields.values())
    ignored = tuple(
        header or f"(column {index + 1})"
        for index, header in enumerate(headers)
        if index not in used
    )
    return ColumnMap(fields=fields, headers=tuple(headers), ignored=ignored)
