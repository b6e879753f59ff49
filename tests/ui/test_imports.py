"""Importing a file from the browser, with the dummy add-on's importer of notes: upload,
map the columns, check (a dry run naming rows and columns), run in the background with its
progress polled by htmx, and the final report; who may import, and what is refused."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from accord.api import Partner, PartnerKind

from .conftest import csrf_token

NOTES = (
    b"Note id;Client e-mail;Note;Colour\n"
    b"N1;info@acme.example;Wants a visit in May;red\n"
    b"N2;nobody@else.example;Lost in the mail;blue\n"
    b"N3;info@acme.example;Asked for the price list;green\n"
)


@pytest.fixture
def acme(accord_session: Session) -> Partner:
    partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd", email="info@acme.example")
    accord_session.add(partner)
    accord_session.commit()
    return partner


def note_bodies(accord_session: Session) -> list[str]:
    from accord_dummy.models import DummyNote

    accord_session.expire_all()
    return sorted(accord_session.scalars(select(DummyNote.body)))


def upload(client: TestClient, content: bytes, name: str = "notes.csv") -> Any:
    # As htmx sends the boosted form: the token in the header the layout declares.
    return client.post(
        "/imports/dummy.notes",
        headers={"x-csrftoken": csrf_token(client), "HX-Request": "true", "HX-Boosted": "true"},
        files={"file": (name, content, "text/csv")},
    )


def mapping_form(page: str, **changes: str) -> dict[str, str]:
    """The mapping form as the page shows it (each select's selected option), changed."""
    form = {}
    for select_id, options in re.findall(r'<select id="(col-\d+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option value="([^"]*)" selected>', options)
        form[select_id] = selected.group(1) if selected else "-"
    form.update(changes)
    return form


def test_upload_map_check_and_import_with_progress(
    logged_in: Any, acme: Partner, accord_session: Session
) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")

    index = client.get("/imports")
    form = client.get("/imports/dummy.notes")
    sent = upload(client, NOTES)
    mapping_url = sent.headers["location"]
    mapping = client.get(mapping_url)

    assert 'href="/imports/dummy.notes">Notes</a>' in index.text
    assert form.status_code == 200, form.text
    assert '<input id="field-file" name="file" type="file"' in form.text
    assert sent.status_code == 303
    assert "notes.csv: CSV, utf-8, semicolon-separated, 3 rows" in mapping.text
    form = mapping_form(mapping.text)
    # "Note id" and "Note" are recognised; the client's e-mail column is not, "Colour" is no field.
    assert form == {"col-0": "ref", "col-1": "-", "col-2": "body", "col-3": "-"}
    assert "info@acme.example · nobody@else.example · info@acme.example" in mapping.text

    unmapped = client.post(mapping_url, data={**form, "csrftoken": csrf_token(client)})
    assert unmapped.status_code == 400
    assert "no column fills the required field &#39;customer&#39;" in unmapped.text

    checked = client.post(
        mapping_url, data={**form, "col-1": "customer", "csrftoken": csrf_token(client)}
    )
    assert checked.status_code == 200
    assert "What the import would do" in checked.text
    assert re.search(
        r"<td>3</td><td>Client e-mail</td><td>no customer you can see has this e-mail</td>",
        checked.text,
    )
    assert "Correct the file and upload it again" in checked.text
    assert note_bodies(accord_session) == []  # the check wrote nothing

    skipping = client.post(
        mapping_url,
        data={**form, "col-1": "customer", "skip_bad_rows": "on", "csrftoken": csrf_token(client)},
    )
    assert "Import 2 rows" in skipping.text

    started = client.post(
        f"{mapping_url}/run", data={"skip_bad_rows": "on", "csrftoken": csrf_token(client)}
    )
    assert started.status_code == 303
    progress_url = started.headers["location"]
    for _ in range(100):
        poll = client.get(progress_url, headers={"HX-Request": "true"})
        if "hx-trigger" not in poll.text:
            break
        assert "<progress" in poll.text
        time.sleep(0.05)
    assert poll.text.lstrip().startswith('<div id="import-progress"')  # htmx gets the block
    assert "Result" in poll.text
    assert "imported; 3 rows: created 2, merged 0, unchanged 0, rejected 1" in poll.text
    assert note_bodies(accord_session) == ["Asked for the price list", "Wants a visit in May"]
    # The import ran as nora: the audit log names her.
    from accord.core.audit import AuditEntry

    actors = set(
        accord_session.scalars(select(AuditEntry.actor).where(AuditEntry.model == "dummy_note"))
    )
    assert len(actors) == 1
    assert actors.pop().endswith(":nora")


def test_the_same_file_again_changes_nothing(
    logged_in: Any, acme: Partner, accord_session: Session
) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")
    good = NOTES.replace(b"nobody@else.example", b"info@acme.example")
    for attempt in range(2):
        mapping_url = upload(client, good).headers["location"]
        form = mapping_form(client.get(mapping_url).text, **{"col-1": "customer"})
        checked = client.post(mapping_url, data={**form, "csrftoken": csrf_token(client)})
        if attempt == 1:
            assert "unchanged 3" in checked.text
            assert "The file changes nothing" in checked.text
            break
        client.post(f"{mapping_url}/run", data={"csrftoken": csrf_token(client)})
        for _ in range(100):
            if (
                "hx-trigger"
                not in client.get(f"{mapping_url}/progress", headers={"HX-Request": "true"}).text
            ):
                break
            time.sleep(0.05)
    assert len(note_bodies(accord_session)) == 3


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "empty.csv: the file is empty"),
        (b"\x00\x01\x02binary", "photo.csv", "this is not a text file"),
    ],
)
def test_an_unreadable_file_is_refused_next_to_the_field(
    logged_in: Any, content: bytes, name: str, message: str
) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")

    refused = upload(client, content, name)

    assert refused.status_code == 400
    assert re.search(
        r'<small id="field-file-error" class="field-error"[^>]*>[^<]*' + re.escape(message),
        refused.text,
    )


@pytest.fixture
def small_uploads(accord_config: Path) -> None:
    accord_config.write_text(accord_config.read_text() + "\n[web]\nimport_max_megabytes = 1\n")


def test_a_file_over_the_size_limit_is_refused_with_the_limit(
    small_uploads: None, logged_in: Any
) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")

    refused = upload(client, b"Note\n" + b"x" * 1_100_000 + b"\n", "big.csv")

    assert refused.status_code == 400
    assert "big.csv is larger than 1.0 MB, the largest file this site accepts" in refused.text


def test_who_may_not_import_gets_a_403_and_others_uploads_are_not_found(
    logged_in: Any, acme: Partner
) -> None:
    nora = logged_in("nora", "dummy_note_taker", "back_office")
    mapping_url = upload(nora, NOTES).headers["location"]
    reviewer = logged_in("rita", "dummy_reviewer", "back_office")
    colleague = logged_in("nick", "dummy_note_taker", "back_office")

    assert reviewer.get("/imports/dummy.notes").status_code == 403
    assert "Notes" not in reviewer.get("/imports").text
    assert reviewer.get("/imports/unknown.thing").status_code == 404
    assert colleague.get(mapping_url).status_code == 404
    assert nora.get(mapping_url).status_code == 200


def test_an_upload_without_the_csrf_token_is_refused(logged_in: Any) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")

    refused = client.post("/imports/dummy.notes", files={"file": ("notes.csv", NOTES, "text/csv")})

    assert refused.status_code == 403


def count_notes(accord_session: Session) -> int:
    from accord_dummy.models import DummyNote

    return int(accord_session.scalar(select(func.count()).select_from(DummyNote)) or 0)
