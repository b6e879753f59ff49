"""Reading the file a user brings: CSV in whatever dialect and encoding a spreadsheet wrote
it (delimiter found by ``csv.Sniffer``, a byte-order mark honoured, UTF-8 then Windows-1252
tried), XLSX through openpyxl in read-only mode, or a JSON array of records (``records_json``).
Each becomes a ``Sheet``: the header and the rows, each numbered as a spreadsheet shows it
(the header is row 1), a JSON record by its index in the array."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from accord.core.errors import AccordError

_SAMPLE = 64 * 1024
_DELIMITERS = ",;\t|"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class PlainNumber(str):
    """A cell the file holds as a number rather than as text (an XLSX number cell, a JSON
    number), in Python's digits (``1200.5``): nobody typed its separators, so it is read
    as it is, whatever the company's locale."""

    __slots__ = ()


class UnreadableFileError(AccordError):
    """The file is no CSV or XLSX we can read; the message says why and what to do."""


@dataclass
class Sheet:
    """A file's header and rows, cells as text (stripped), rows numbered as shown in a
    spreadsheet. Blank rows are left out but keep their number."""

    name: str
    headers: list[str]
    rows: list[tuple[int, list[str]]]
    kind: str = "csv"
    encoding: str = ""
    delimiter: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def row_noun(self) -> str:
        """What the file calls a row in messages: a JSON file's are records."""
        return "record" if self.kind == "json" else "row"

    def describe(self) -> str:
        if self.kind == "json":
            return f"{self.name}: JSON, {len(self.rows)} records"
        if self.kind == "xlsx":
            return f"{self.name}: XLSX, {len(self.rows)} rows"
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}.get(
            self.delimiter, repr(self.delimiter)
        )
        return f"{self.name}: CSV, {self.encoding}, {shown}-separated, {len(self.rows)} rows"


def read_sheet(data: bytes, name: str, *, encoding: str | None = None) -> Sheet:
    """The sheet of a file's content ``data``; ``name`` (the file's name) is used in
    messages and to tell XLSX from CSV along with the content itself."""
    if not data.strip():
        raise UnreadableFileError(f"{name}: the file is empty")
    if data[:4] == b"PK\x03\x04":
        if not name.lower().endswith((".xlsx", ".xlsm")):
            raise UnreadableFileError(
                f"{name}: this is a zip archive, not a CSV file; save the sheet as CSV or XLSX"
            )
        return _read_xlsx(data, name)
    from accord.core.importing.records_json import looks_like_json, read_json

    if looks_like_json(data, name):
        return read_json(data, name)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnreadableFileError(
            f"{name}: an old Excel (.xls) file cannot be read; save it as XLSX or CSV"
        )
    text, used = _decode(data, name, encoding)
    return _read_csv(text, name, used)


def read_sheet_file(path: Path | str, *, encoding: str | None = None) -> Sheet:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableFileError(f"{path}: is a folder, not a file") from None
    except OSError as error:
        raise UnreadableFileError(f"{path}: cannot be read: {error.strerror}") from None
    return read_sheet(data, path.name, encoding=encoding)


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise UnreadableFileError(f"{name}: unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as error:
            raise UnreadableFileError(
                f"{name}: not {encoding} (byte {error.start + 1} cannot be read as it); "
                "leave the encoding out to let it be found"
            ) from None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec), codec.removesuffix("-sig")
    if b"\x00" in data[:_SAMPLE]:
        raise UnreadableFileError(
            f"{name}: this is not a text file (it holds binary data); save it as CSV or XLSX"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # What Excel on Windows writes for "CSV" in western Europe and the Americas.
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    # Sniff whole lines only: a row cut in the middle misleads the sniffer.
    cut = sample.rfind("\n")
    if cut > 0 and len(sample) >= _SAMPLE:
        sample = sample[:cut]
    header = sample.split("\n", 1)[0]
    try:
        found = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
        if found.delimiter in header:
            found.doublequote = True
            return found
    except csv.Error:
        pass
    # A file of one row, or rows the sniffer found inconsistent: the delimiter the
    # header uses most, quoting as spreadsheets do.
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])

    class Found(csv.excel):
        delimiter = best if counts[best] else ","

    return Found


def _read_csv(text: str, name: str, encoding: str) -> Sheet:
    dialect = _dialect(text[:_SAMPLE])
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        records = list(reader)
    except csv.Error as error:
        raise UnreadableFileError(
            f"{name}, row {reader.line_num}: {error}; check the quotes on that row"
        ) from None
    sheet = _sheet(name, iter(records), kind="csv")
    sheet.encoding = encoding
    sheet.delimiter = str(dialect.delimiter)
    return sheet


def _read_xlsx(data: bytes, name: str) -> Sheet:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UnreadableFileError(f"{name}: not a readable XLSX workbook ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = ([_cell(value) for value in row] for row in sheet.iter_rows(values_only=True))
        return _sheet(name, rows, kind="xlsx")
    finally:
        workbook.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return PlainNumber(int(value))
    if isinstance(value, int | float):
        return PlainNumber(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _sheet(name: str, records: Iterator[list[str]], kind: str) -> Sheet:
    line = 0
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for record in records:
        line += 1
        cells = [cell if isinstance(cell, PlainNumber) else cell.strip() for cell in record]
        if not any(cells):
            continue
        if headers is None:
            headers = cells
            continue
        rows.append((line, cells))
    if headers is None:
        raise UnreadableFileError(f"{name}: the file has no rows")
    while headers and not headers[-1]:
        headers.pop()
    problems = []
    seen: dict[str, int] = {}
    for number, header in enumerate(headers, 1):
        if not header:
            continue  # a column without a name is never mapped
        key = header.casefold()
        if key in seen:
            problems.append(f"column {header!r} appears twice (columns {seen[key]} and {number})")
        seen.setdefault(key, number)
    return Sheet(name=name, headers=headers, rows=rows, kind=kind, problems=problems)
