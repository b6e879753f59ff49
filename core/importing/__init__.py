"""Importing files into records (CSV and XLSX): a plugin declares an ``Importer`` (its
fields and a write function) through ``accord_importers``; the kernel reads the file, maps
its columns, checks every row, and writes the good ones through the importing user's
session, all or nothing unless bad rows are to be skipped, with a dry run and a report
naming each bad row and column."""

from accord.core.importing import parsers
from accord.core.importing.fields import (
    Importer,
    ImportField,
    ImportRow,
    Parser,
    Refused,
    Written,
)
from accord.core.importing.mapping import IGNORE, ColumnMap, MappingError, guess, map_columns
from accord.core.importing.records import insert_records
from accord.core.importing.run import (
    ImportKey,
    ImportReport,
    Progress,
    RowError,
    RowNote,
    run_import,
)
from accord.core.importing.sheets import Sheet, UnreadableFileError, read_sheet, read_sheet_file

__all__ = [
    "IGNORE",
    "ColumnMap",
    "ImportField",
    "ImportKey",
    "ImportReport",
    "ImportRow",
    "Importer",
    "MappingError",
    "Parser",
    "Progress",
    "Refused",
    "RowError",
    "RowNote",
    "Sheet",
    "UnreadableFileError",
    "Written",
    "guess",
    "insert_records",
    "map_columns",
    "parsers",
    "read_sheet",
    "read_sheet_file",
    "run_import",
]
