"""CSRF protection of an upload form (multipart): the token may come in the form's hidden
field, as a browser without JavaScript sends it, or in htmx's header; without it, or with
a wrong one, nothing is uploaded."""

from __future__ import annotations

from typing import Any

from .conftest import csrf_token

NOTES = b"Note id;Note\nN1;Wants a visit in May\n"


def upload(client: Any, **options: Any) -> Any:
    return client.post(
        "/imports/dummy.notes", files={"file": ("notes.csv", NOTES, "text/csv")}, **options
    )


def test_an_upload_with_the_token_in_the_form_field_is_accepted(logged_in: Any) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")

    sent = upload(client, data={"csrftoken": csrf_token(client)})  # fields go before files

    assert sent.status_code == 303, sent.text
    mapping = client.get(sent.headers["location"])
    assert "notes.csv: CSV" in mapping.text


def test_an_upload_with_the_token_in_the_htmx_header_is_accepted(logged_in: Any) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")

    sent = upload(client, headers={"x-csrftoken": csrf_token(client)})

    assert sent.status_code == 303, sent.text


def test_a_file_sent_before_the_token_is_refused(logged_in: Any) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="file"; filename="notes.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + NOTES + b"\r\n"
        b"--b\r\n"
        b'Content-Disposition: form-data; name="csrftoken"\r\n\r\n'
        + csrf_token(client).encode()
        + b"\r\n--b--\r\n"
    )

    refused = client.post(
        "/imports/dummy.notes",
        headers={"content-type": "multipart/form-data; boundary=b"},
        content=body,
    )

    assert refused.status_code == 403, refused.text


def test_an_upload_without_a_token_or_with_a_wrong_one_is_refused(logged_in: Any) -> None:
    client = logged_in("nora", "dummy_note_taker", "back_office")
    good = csrf_token(client)

    without = upload(client)
    wrong = upload(client, data={"csrftoken": good[:-2] + "xx"})
    empty_form = client.post(
        "/imports/dummy.notes",
        headers={"content-type": "multipart/form-data; boundary=nothing"},
        content=b"not a multipart body",
    )

    for refused in (without, wrong, empty_form):
        assert refused.status_code == 403, refused.text
        assert "This form has expired" in refused.text
    assert client.get("/imports").status_code == 200  # still signed in
