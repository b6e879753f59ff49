"""Reading a JSON export as a sheet: an array of records (objects), or an object holding
one such array (``{"invoices": [...]}``), as ERPs and web services write them. Each key is
a column, each record a row numbered by its index in the array (``record [0]`` is the
first); a number keeps the digits it was written with. What is not such an array is named
with the record's index and the field."""

from __future__ import annotations

import json
from typing import Any

from accord.core.importing.sheets import PlainNumber, Sheet, UnreadableFileError

JSON_KIND = "json"


def looks_like_json(data: bytes, name: str) -> bool:
    """A ``.json`` file, or content that opens an array or an object in a file not named
    as CSV (a CSV header may start with a bracket)."""
    lowered = name.lower()
    if lowered.endswith(".json"):
        return True
    if lowered.endswith((".csv", ".tsv", ".txt")):
        return False
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{")


def _constant(value: str) -> Any:
    raise ValueError(f"{value} is not a number JSON allows")


def _cell(value: Any, name: str, index: int, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, PlainNumber):
        return value  # a number, as its digits were written (parse_float/parse_int)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict | list):
        shown = "an object" if isinstance(value, dict) else "a list"
        raise UnreadableFileError(
            f"{name}, record [{index}], field {key!r}: {shown}; a field holds one value "
            "(text, a number, true or false, or null)"
        )
    return str(value)


def read_json(data: bytes, name: str) -> Sheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFileError(
            f"{name}: JSON must be UTF-8 (byte {error.start + 1} is not)"
        ) from None
    try:
        document = json.loads(
            text, parse_float=PlainNumber, parse_int=PlainNumber, parse_constant=_constant
        )
    except json.JSONDecodeError as error:
        raise UnreadableFileError(
            f"{name}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except ValueError as error:
        raise UnreadableFileError(f"{name}: {error}") from None
    if isinstance(document, dict):
        arrays = [value for value in document.values() if isinstance(value, list)]
        if len(arrays) != 1:
            raise UnreadableFileError(
                f"{name}: an object holding {len(arrays)} arrays; give an array of records "
                '([{"number": ...}, ...]) or an object holding exactly one'
            )
        document = arrays[0]
    if not isinstance(document, list):
        raise UnreadableFileError(
            f'{name}: an array of records is expected ([{{"number": ...}}, ...]), got '
            f"{type(document).__name__}"
        )
    if not document:
        raise UnreadableFileError(f"{name}: the array holds no records")
    headers: dict[str, None] = {}
    for index, record in enumerate(document):
        if not isinstance(record, dict):
            raise UnreadableFileError(
                f"{name}, record [{index}]: a record is an object "
                f'({{"field": value, ...}}), got {type(record).__name__}'
            )
        headers.update(dict.fromkeys(record))
    columns = list(headers)
    rows = [
        (index, [_cell(record.get(key), name, index, key) for key in columns])
        for index, record in enumerate(document)
    ]
    return Sheet(name=name, headers=columns, rows=rows, kind=JSON_KIND)
