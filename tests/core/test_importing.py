"""The import framework, seen through a small importer of customers: files in the dialects
and encodings spreadsheets write, column mapping and its errors, rows checked and reported
by row and column, all-or-nothing against skipping bad rows, dry runs that change nothing,
and re-imports that change nothing."""

from __future__ import annotations

import codecs
import gc
import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.api import (
    AccessDeniedError,
    Importer,
    ImportField,
    ImportRow,
    MappingError,
    Partner,
    PartnerKind,
    Refused,
    UnreadableFileError,
    Written,
    import_parsers,
    insert_records,
    principal_of,
    read_sheet,
    read_sheet_file,
    run_import,
)
from accord.core.audit import AuditEntry, history
from accord.core.importing import ImportKey

BLOCKED = "Blocked Ltd"


def write_customers(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    """Creates customers in one multi-row insert, updates those imported before, refuses
    the one name a business rule forbids."""
    principal = principal_of(session)
    owner = principal.user_id if principal is not None else None
    outcomes: list[Written | Refused | None] = []
    new: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        values = row.values
        if values["name"] == BLOCKED:
            outcomes.append(Refused("this customer may not be imported", field="name"))
            continue
        fields = {
            "name": values["name"],
            "email": values.get("email") or "",
            "phone": values.get("phone") or "",
            "kind": values.get("kind") or PartnerKind.COMPANY,
        }
        if row.record_id is not None:
            partner = session.get(Partner, int(row.record_id))
            if partner is None:
                outcomes.append(Refused("the customer imported before is gone"))
                continue
            for key, value in fields.items():
                setattr(partner, key, value)
            outcomes.append(Written("merged", partner.id, "updated from the file"))
            continue
        new.append((len(outcomes), {**fields, "owner_id": owner}))
        outcomes.append(None)
    ids = insert_records(session, Partner, [values for _, values in new])
    for (position, _), record_id in zip(new, ids, strict=True):
        outcomes[position] = Written("created", record_id)
    return [outcome for outcome in outcomes if outcome is not None]


CUSTOMERS = Importer(
    "test.customers",
    title="Customers",
    model="core_partner",
    fields=(
        ImportField("ref", "Customer number", aliases=("number", "cust no")),
        ImportField("name", "Name", required=True, parse=import_parsers.text(200)),
        ImportField("email", "E-mail", parse=import_parsers.email, aliases=("mail",)),
        ImportField("phone", "Phone", aliases=("telephone", "tel")),
        ImportField("kind", "Kind", parse=import_parsers.choice("company", "person")),
    ),
    write=write_customers,
    external_id="ref",
    batch_size=2,
)

GOOD = b"""Customer number,Name,E-mail,Phone
C1,Acme Ltd,info@acme.example,+39 02 1234
C2,Bolt SpA,sales@bolt.example,
C3,Cargo GmbH,,+49 30 998
"""

BAD = b"""Customer number,Name,E-mail,Phone
C1,Acme Ltd,info@acme.example,+39 02 1234
C2,,sales@bolt.example,
C3,Cargo GmbH,not-an-address,+49 30 998
C4,Delta Srl,delta@delta.example,
"""


def count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def names(session: Session) -> list[str]:
    return list(session.scalars(select(Partner.name).order_by(Partner.name)))


# --- reading files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        (b"Name,E-mail\nAcme,a@acme.example\n", ","),
        (b"Name;E-mail\nAcme;a@acme.example\n", ";"),
        (b"Name\tE-mail\nAcme\ta@acme.example\n", "\t"),
        (b"Name|E-mail\r\nAcme|a@acme.example\r\n", "|"),
    ],
)
def test_the_delimiter_is_found(content: bytes, delimiter: str) -> None:
    sheet = read_sheet(content, "customers.csv")

    assert sheet.delimiter == delimiter
    assert sheet.headers == ["Name", "E-mail"]
    assert sheet.rows == [(2, ["Acme", "a@acme.example"])]


def test_quoted_cells_keep_delimiters_and_line_breaks_and_rows_keep_their_number() -> None:
    content = (
        b'Name;Street;Note\n"Acme; Ltd";"Via Roma 1";"first line\nsecond line"\n'
        b"\n"  # a blank row is left out but keeps its number
        b'Bolt;"Hauptstr. 2";"says ""hello"""\n'
    )
    sheet = read_sheet(content, "customers.csv")

    assert sheet.rows == [
        (2, ["Acme; Ltd", "Via Roma 1", "first line\nsecond line"]),
        (4, ["Bolt", "Hauptstr. 2", 'says "hello"']),
    ]


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        (codecs.BOM_UTF8 + "Name\nCafé Müller\n".encode(), "utf-8"),
        ("Name\nCafé Müller\n".encode(), "utf-8"),
        ("Name\nCafé Müller\n".encode("cp1252"), "windows-1252"),
        ("Name\nCafé Müller\n".encode("utf-16"), "utf-16"),
    ],
)
def test_encodings_spreadsheets_write_are_read(content: bytes, encoding: str) -> None:
    sheet = read_sheet(content, "customers.csv")

    assert sheet.headers == ["Name"]
    assert sheet.rows == [(2, ["Café Müller"])]
    assert sheet.encoding == encoding


def test_an_encoding_can_be_named() -> None:
    content = "Name\nŁódź Sp. z o.o.\n".encode("cp1250")

    assert read_sheet(content, "pl.csv", encoding="cp1250").rows == [(2, ["Łódź Sp. z o.o."])]
    with pytest.raises(UnreadableFileError, match="unknown encoding 'klingon'"):
        read_sheet(content, "pl.csv", encoding="klingon")


def test_xlsx_is_read_with_numbers_and_dates_as_a_user_sees_them() -> None:
    import datetime as dt

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Employees", "Since"])
    sheet.append(["Acme", 120, dt.datetime(2021, 3, 31)])
    sheet.append([None, None, None])
    sheet.append(["Bolt", 7.5, None])
    buffer = io.BytesIO()
    book.save(buffer)

    found = read_sheet(buffer.getvalue(), "customers.xlsx")

    assert found.kind == "xlsx"
    assert found.headers == ["Name", "Employees", "Since"]
    assert found.rows == [(2, ["Acme", "120", "2021-03-31"]), (4, ["Bolt", "7.5", ""])]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "empty.csv: the file is empty"),
        (b"\n\n  \n", "blank.csv", "blank.csv: the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "logo.csv", "not a text file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(50), "old.xls", "old Excel"),
        (b"PK\x03\x04" + bytes(50), "archive.csv", "zip archive, not a CSV file"),
        (b"PK\x03\x04" + bytes(50), "broken.xlsx", "broken.xlsx: not a readable XLSX"),
    ],
)
def test_an_unreadable_file_is_refused_with_a_clear_message(
    content: bytes, name: str, message: str
) -> None:
    with pytest.raises(UnreadableFileError, match=message):
        read_sheet(content, name)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"nowhere\.csv: no such file"):
        read_sheet_file(tmp_path / "nowhere.csv")


# --- mapping ------------------------------------------------------------------------------


def test_columns_map_by_name_label_or_alias_and_others_are_ignored() -> None:
    sheet = read_sheet(b"Cust-No;MAIL;Name;Tel;Colour\nC1;a@b.example;Acme;1;red\n", "c.csv")

    from accord.api import import_parsers  # noqa: F401  (the parsers come with the api)
    from accord.core.importing import map_columns

    columns = map_columns(CUSTOMERS, sheet)

    assert {name: columns.column_of(name) for name in columns.fields} == {
        "ref": "Cust-No",
        "email": "MAIL",
        "name": "Name",
        "phone": "Tel",
    }
    assert columns.ignored == ("Colour",)


def test_explicit_choices_override_and_leave_out_columns() -> None:
    from accord.core.importing import map_columns

    sheet = read_sheet(b"Company,Contact mail,Name\nAcme,a@b.example,Ann\n", "c.csv")

    columns = map_columns(
        CUSTOMERS, sheet, {"Company": "name", "Name": "-", "contact mail": "email"}
    )

    assert columns.column_of("name") == "Company"
    assert columns.column_of("email") == "Contact mail"
    assert "Name" in columns.ignored


def test_every_mapping_problem_is_reported_before_any_row_is_read(
    accord_session: Session,
) -> None:
    sheet = read_sheet(b"Mail,E-mail,Phone,Phone\nx,y,1,2\n", "c.csv")

    with pytest.raises(MappingError) as caught:
        run_import(accord_session, CUSTOMERS, sheet, choices={"Fax": "phone", "Mail": "colour"})

    assert caught.value.problems == [
        "column 'Phone' appears twice (columns 3 and 4)",
        "column 'Fax' is not in the file; its columns: 'Mail', 'E-mail', 'Phone', 'Phone'",
        "column 'Mail': unknown field 'colour'; fields: email, kind, name, phone, ref",
        "no column fills the required field 'name' (Name): name a column 'Name' or map one "
        "to 'name'",
    ]
    assert count(accord_session, Partner) == 0


# --- rows, modes, dry runs ----------------------------------------------------------------


def test_a_good_file_is_imported(accord_session: Session) -> None:
    report = run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"))

    assert report.written
    assert (report.rows, report.created, report.merged, report.rejected) == (3, 3, 0, 0)
    assert names(accord_session) == ["Acme Ltd", "Bolt SpA", "Cargo GmbH"]
    acme = accord_session.scalar(select(Partner).where(Partner.name == "Acme Ltd"))
    assert acme is not None
    assert (acme.email, acme.phone) == ("info@acme.example", "+39 02 1234")
    assert report.summary() == "imported; 3 rows: created 3, merged 0, unchanged 0, rejected 0"


def test_bad_rows_are_named_by_row_and_column_and_by_default_nothing_is_written(
    accord_session: Session,
) -> None:
    report = run_import(accord_session, CUSTOMERS, read_sheet(BAD, "bad.csv"))

    assert not report.written
    assert [str(error) for error in report.errors] == [
        "row 3, column 'Name': Name is required",
        "row 4, column 'E-mail': 'not-an-address' is not an e-mail address",
    ]
    assert count(accord_session, Partner) == 0
    assert report.summary() == (
        "nothing was imported: 2 of 4 rows are bad; fix them, or skip bad rows to import "
        "the 2 good ones"
    )


def test_with_skip_bad_rows_the_good_rows_are_imported_and_the_bad_reported(
    accord_session: Session,
) -> None:
    report = run_import(accord_session, CUSTOMERS, read_sheet(BAD, "bad.csv"), skip_bad_rows=True)

    assert report.written
    assert (report.created, report.rejected) == (2, 2)
    assert names(accord_session) == ["Acme Ltd", "Delta Srl"]
    assert [error.line for error in report.errors] == [3, 4]


def test_a_row_the_importer_refuses_undoes_the_earlier_batches_in_all_or_nothing_mode(
    accord_session: Session,
) -> None:
    content = GOOD + f"C9,{BLOCKED},,\n".encode()

    report = run_import(accord_session, CUSTOMERS, read_sheet(content, "c.csv"))

    assert not report.written
    assert [str(error) for error in report.errors] == [
        "row 5, column 'Name': this customer may not be imported"
    ]
    assert count(accord_session, Partner) == 0  # rows 2-4 were written in earlier batches
    assert count(accord_session, ImportKey) == 0

    report = run_import(accord_session, CUSTOMERS, read_sheet(content, "c.csv"), skip_bad_rows=True)

    assert report.written
    assert names(accord_session) == ["Acme Ltd", "Bolt SpA", "Cargo GmbH"]


def test_a_dry_run_reports_and_changes_nothing(accord_session: Session) -> None:
    run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
    accord_session.commit()
    audit_before = count(accord_session, AuditEntry)
    changed = GOOD.replace(b"Bolt SpA", b"Bolt S.p.A.") + b"C4,Delta Srl,,\nC5,,x@y.example,\n"

    report = run_import(accord_session, CUSTOMERS, read_sheet(changed, "c.csv"), dry_run=True)

    assert not report.written
    assert (report.created, report.merged, report.unchanged, report.rejected) == (1, 1, 2, 1)
    assert [str(error) for error in report.errors] == ["row 6, column 'Name': Name is required"]
    assert report.summary() == (
        "dry run: nothing was written; 5 rows: would create 1, would merge 1, unchanged 2, "
        "rejected 1; with bad rows nothing is imported unless bad rows are skipped"
    )
    accord_session.commit()
    assert names(accord_session) == ["Acme Ltd", "Bolt SpA", "Cargo GmbH"]
    assert count(accord_session, AuditEntry) == audit_before
    keys = accord_session.scalars(select(ImportKey.external_id).order_by(ImportKey.external_id))
    assert list(keys) == ["C1", "C2", "C3"]


def test_reimporting_the_same_file_changes_nothing(accord_session: Session) -> None:
    run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
    accord_session.commit()
    audit_before = count(accord_session, AuditEntry)

    again = run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
    accord_session.commit()

    assert (again.created, again.merged, again.unchanged) == (0, 0, 3)
    assert count(accord_session, Partner) == 3
    assert count(accord_session, AuditEntry) == audit_before


def test_the_planner_settings_an_import_needs_are_put_back_for_the_rest_of_the_transaction(
    accord_session: Session,
) -> None:
    """On PostgreSQL the batches' lookups run with index scans preferred and planned for
    their own keys; the caller's transaction gets its own settings back afterwards."""
    connection = accord_session.connection()
    if connection.dialect.name != "postgresql":
        pytest.skip("planner settings are PostgreSQL's")
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    shown = "SELECT current_setting('enable_seqscan'), current_setting('plan_cache_mode')"
    seen: list[tuple[str, str]] = []

    def progress(done: int, total: int) -> None:
        seen.append(tuple(accord_session.connection().exec_driver_sql(shown).one()))

    report = run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"), progress=progress)

    assert report.created == 3
    assert set(seen) == {("off", "force_custom_plan")}
    after = tuple(accord_session.connection().exec_driver_sql(shown).one())
    assert after == ("on", "force_generic_plan")


def test_the_cycle_collector_runs_again_after_an_import_even_a_failed_one(
    accord_session: Session,
) -> None:
    """An import pauses Python's cycle collector while it works (see run.py), and only
    while it works."""

    def broken(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
        assert not gc.isenabled()
        raise RuntimeError("the importer broke")

    with pytest.raises(RuntimeError, match="the importer broke"):
        run_import(accord_session, replace(CUSTOMERS, write=broken), read_sheet(GOOD, "g.csv"))
    assert gc.isenabled()

    report = run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
    assert report.created == 3
    assert gc.isenabled()


def test_a_changed_row_updates_the_record_its_external_id_made(accord_session: Session) -> None:
    run_import(accord_session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
    accord_session.commit()
    changed = GOOD.replace(b"sales@bolt.example", b"orders@bolt.example")

    report = run_import(accord_session, CUSTOMERS, read_sheet(changed, "c.csv"))
    accord_session.commit()

    assert (report.created, report.merged, report.unchanged) == (0, 1, 2)
    assert [(merge.line, merge.note) for merge in report.merges] == [(3, "updated from the file")]
    bolt = accord_session.scalar(select(Partner).where(Partner.name == "Bolt SpA"))
    assert bolt is not None
    assert bolt.email == "orders@bolt.example"
    assert count(accord_session, Partner) == 3


def test_an_external_id_twice_in_one_file_is_a_bad_row(accord_session: Session) -> None:
    content = GOOD + b"C1,Acme again,,\n"

    report = run_import(accord_session, CUSTOMERS, read_sheet(content, "c.csv"))

    assert [str(error) for error in report.errors] == [
        "row 5, column 'Customer number': 'C1' is already on row 2; an external id names one record"
    ]


def test_progress_is_reported_batch_by_batch(accord_session: Session) -> None:
    seen: list[tuple[int, int]] = []

    run_import(
        accord_session,
        CUSTOMERS,
        read_sheet(BAD, "bad.csv"),
        skip_bad_rows=True,
        progress=lambda done, total: seen.append((done, total)),
    )
    run_import(
        accord_session,
        CUSTOMERS,
        read_sheet(GOOD, "good.csv"),
        dry_run=True,
        progress=lambda done, total: seen.append((done, total)),
    )

    # The bad rows count as done at once; the others come in batches of two.
    assert seen == [(4, 4), (2, 3), (3, 3)]


# --- through the access layer and the audit log -------------------------------------------


def test_records_are_written_as_the_importing_user_and_audited(
    accord_as: Any, accord_make_user: Any, accord_session: Session
) -> None:
    back_office = accord_make_user("bea", "back_office")
    with accord_as(back_office) as session:
        report = run_import(session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
        assert report.written

    acme = accord_session.scalar(select(Partner).where(Partner.name == "Acme Ltd"))
    assert acme is not None
    entries = history(accord_session, "core_partner", str(acme.id))
    assert {entry.field for entry in entries} >= {"name", "email", "phone", "kind"}
    assert {entry.actor for entry in entries} == {f"user:{back_office.id}:bea"}


def test_a_salesperson_imports_customers_of_their_own_only(
    accord_as: Any, accord_make_user: Any, accord_session: Session
) -> None:
    sam = accord_make_user("sam", "salesperson")
    with accord_as(sam) as session:
        report = run_import(session, CUSTOMERS, read_sheet(GOOD, "good.csv"))
        assert report.created == 3

    owners = set(accord_session.scalars(select(Partner.owner_id)))
    assert owners == {sam.id}


def test_a_user_who_may_not_create_the_records_is_refused_and_nothing_is_written(
    accord_as: Any, accord_make_user: Any, accord_session: Session
) -> None:
    tess = accord_make_user("tess", "technical_office")

    with (
        pytest.raises(AccessDeniedError, match="may not create core_partner"),
        accord_as(tess) as session,
    ):
        run_import(session, CUSTOMERS, read_sheet(GOOD, "good.csv"))

    assert count(accord_session, Partner) == 0


# --- the documented example ---------------------------------------------------------------


def documented_importer() -> Importer:
    """The importer that docs/plugin-development.md shows, run as written."""
    import re

    guide = (Path(__file__).parents[2] / "docs" / "plugin-development.md").read_text()
    section = guide.split("## Importing files", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/plugin-development.md", "exec"), namespace)
    [importer] = namespace["accord_importers"]()
    assert isinstance(importer, Importer)
    return importer


def test_the_importer_of_the_plugin_guide_works_as_documented(accord_session: Session) -> None:
    importer = documented_importer()
    content = b"Kunnr;Name;Mail\n1001;Acme Ltd;info@acme.example\n1002;Bolt SpA;\n"

    first = run_import(accord_session, importer, read_sheet(content, "erp.csv"))
    again = run_import(accord_session, importer, read_sheet(content, "erp.csv"))
    renamed = run_import(
        accord_session, importer, read_sheet(content.replace(b"Bolt SpA", b"Bolt"), "erp.csv")
    )

    assert (first.created, again.unchanged, renamed.merged) == (2, 2, 1)
    assert names(accord_session) == ["Acme Ltd", "Bolt"]


def test_insert_records_refuses_a_row_outside_the_users_rules_and_writes_nothing(
    accord_as: Any, accord_make_user: Any, accord_session: Session
) -> None:
    sam = accord_make_user("sam", "salesperson")
    sue = accord_make_user("sue", "salesperson")
    rows = [
        {"kind": PartnerKind.COMPANY, "name": "Mine", "owner_id": sam.id},
        {"kind": PartnerKind.COMPANY, "name": "Sue's", "owner_id": sue.id},
    ]

    with (
        pytest.raises(AccessDeniedError, match=r"user 'sam' \(salesperson\) may not create"),
        accord_as(sam) as session,
    ):
        insert_records(session, Partner, rows)

    assert count(accord_session, Partner) == 0
    with accord_as(sam) as session:
        [mine] = insert_records(session, Partner, rows[:1])
    assert names(accord_session) == ["Mine"]
    assert mine is not None


# --- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("accord_backend", ["sqlite"])
@pytest.mark.parametrize("accord_plugins", [["dummy"]])
@pytest.mark.usefixtures("dummy_plugin_installed")
def test_accord_import_runs_any_importer_from_the_command_line(
    accord_cli: Any, accord_session: Session, tmp_path: Path
) -> None:
    accord_session.add(Partner(kind=PartnerKind.COMPANY, name="Acme", email="info@acme.example"))
    accord_session.commit()
    notes = tmp_path / "notes.csv"
    notes.write_text("Reference,Client,Note\nN1,info@acme.example,Call in May\nN2,x@y,Hi\n")

    listed = accord_cli("import", "list")
    unmapped = accord_cli("import", "dummy.notes", str(notes))
    refused = accord_cli("import", "dummy.notes", str(notes), "--map", "Client=customer")
    imported = accord_cli(
        "import", "dummy.notes", str(notes), "--map", "Client=customer", "--skip-bad-rows"
    )

    assert listed.output == "dummy.notes: Notes (ref, customer*, body*)\n"
    assert unmapped.exit_code == 1
    assert "no column fills the required field 'customer'" in unmapped.output
    assert refused.exit_code == 1
    assert "row 3, column 'Client': 'x@y' is not an e-mail address" in refused.output
    assert "nothing was imported: 1 of 2 rows are bad" in refused.output
    assert imported.exit_code == 0, imported.output
    assert "imported; 2 rows: created 1, merged 0, unchanged 0, rejected 1" in imported.output


def test_records_inserted_in_bulk_read_back_as_records_added_one_by_one(
    accord_session: Session,
) -> None:
    given = {"kind": PartnerKind.PERSON, "name": "Ada Rossi", "email": "ada@rossi.example"}
    by_orm = Partner(**given)
    accord_session.add(by_orm)
    accord_session.flush()
    before = count(accord_session, Partner)

    ids = insert_records(accord_session, Partner, [given, {**given, "name": "Bea Rossi"}])

    accord_session.expire_all()
    assert count(accord_session, Partner) == before + 2
    assert by_orm.id < ids[0] < ids[1]
    first, second = (accord_session.get_one(Partner, record_id) for record_id in ids)
    assert (second.name, second.kind) == ("Bea Rossi", PartnerKind.PERSON)
    for column in ("kind", "email", "phone", "website", "active", "owner_id"):
        assert getattr(first, column) == getattr(by_orm, column), column
    assert first.created_at is not None
    assert first.created_at.tzinfo is not None
    assert history(accord_session, "core_partner", str(ids[0]))[0].field == "id"
