"""Web-to-lead over HTTP: a site's contact form (HTML or JSON) becomes a lead, deduplicated
and assigned, and the visitor receives, through a real SMTP exchange, an auto-reply naming
the representative who was assigned. Bots, floods and bad posts change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from accord.plugins.leads.api import Lead, LeadActivity
from accord.testing import SMTPServer, run_jobs
from accord.ui import create_app

WEB = "/leads/web/caffe-site-1"


@pytest.fixture
def accord_extra_settings(smtp_server: SMTPServer) -> dict[str, Any]:
    return smtp_server.settings


@pytest.fixture
def client(accord_runtime, accord_db, network) -> TestClient:
    """A visitor's browser or a site's server: no session, no CSRF cookie."""
    return TestClient(create_app(accord_runtime), follow_redirects=False)


def leads(system) -> list[Lead]:
    with system() as session:
        found = list(session.scalars(select(Lead).order_by(Lead.id)))
        session.expunge_all()
        return found


def test_a_posted_form_becomes_an_assigned_lead_and_the_visitor_gets_the_reps_contact(
    client, accord_runtime, system, network, smtp_server
):
    response = client.post(
        WEB,
        data={
            "first_name": "Anna",
            "last_name": "Rossi",
            "company": "Bar Castello",
            "email": "anna@castello.example",
            "phone": "+39 02 1234 5678",
            "country": "IT",
            "message": "Do you service La Marzocco machines?",
            "fax": "",
        },
    )
    assert response.status_code == 200
    assert "Caffè Demo web site has your message" in response.text

    [lead] = leads(system)
    assert lead.channel == "web_form"
    assert lead.product_line == "espresso_machines"  # the site's product line
    assert lead.notes == "Do you service La Marzocco machines?"
    assert lead.owner_id == network["sam"].id  # "Web forms to the north", round robin
    assert smtp_server.messages == []  # sent by the job runner after commit

    assert run_jobs(accord_runtime) == 1
    [reply] = smtp_server.messages
    assert reply["To"] == "anna@castello.example"
    assert reply["Subject"] == "Thank you for contacting Caffè Demo web site"
    assert reply["Reply-To"] == "sam@caffe.example"
    text = reply.get_body(("plain",)).get_content()
    assert "Dear Anna Rossi," in text
    assert "Sam will get in touch with you shortly" in text
    assert "  Sam, North\n  sam@caffe.example\n" in text
    html = reply.get_body(("html",)).get_content()
    assert "<a href='mailto:sam@caffe.example'>sam@caffe.example</a>" in html
    with system() as session:
        subjects = session.scalars(
            select(LeadActivity.subject).where(LeadActivity.lead_id == lead.id)
        ).all()
    assert "Auto-reply sent to anna@castello.example naming Sam" in subjects


def test_json_posts_are_deduplicated_and_round_robin_goes_on(
    client, accord_runtime, system, network, smtp_server
):
    first = client.post(WEB, json={"company": "Bar Uno", "email": "uno@bar.example"})
    second = client.post(WEB, json={"company": "Bar Due", "email": "due@bar.example"})
    again = client.post(
        WEB,
        json={"email": "UNO@bar.example", "phone": "+39 06 555 1234", "message": "Still there?"},
    )
    assert [r.status_code for r in (first, second, again)] == [202, 202, 202]
    assert first.json() == {"status": "received"}  # the same answer for a known address

    uno, due = leads(system)
    assert (uno.owner_id, due.owner_id) == (network["sam"].id, network["nina"].id)
    assert uno.phone == "+39 06 555 1234"  # the second contact filled a blank field
    assert "Still there?" in uno.notes

    assert run_jobs(accord_runtime) == 3
    replies = [(m["To"], m["Reply-To"]) for m in smtp_server.messages]
    assert sorted(replies) == sorted(
        [
            ("uno@bar.example", "sam@caffe.example"),
            ("due@bar.example", "nina@caffe.example"),
            ("uno@bar.example", "sam@caffe.example"),  # to the address the lead holds
        ]
    )


def test_a_lead_no_rule_assigns_gets_a_reply_without_a_representative(
    accord_runtime, accord_db, accord_config, system, network, smtp_server
):
    # A site posting on a channel no rule routes (the rules send web forms to the north).
    accord_config.write_text(
        accord_config.read_text()
        + '\n[leads.web_forms.fair-kiosk]\ntitle = "Host fair kiosk"\nchannel = "trade_fair"\n'
    )
    from accord.core.runtime import Runtime

    runtime = Runtime(accord_config)
    try:
        client = TestClient(create_app(runtime), follow_redirects=False)
        response = client.post(
            "/leads/web/fair-kiosk", json={"first_name": "Ola", "email": "ola@x.example"}
        )
        assert response.status_code == 202
        assert run_jobs(runtime) == 1
    finally:
        runtime.close()
    [reply] = smtp_server.messages
    assert reply["Reply-To"] is None
    assert "our team will get in touch with you shortly" in reply.get_body(("plain",)).get_content()


def test_a_bot_filling_the_honeypot_is_thanked_and_nothing_is_kept(
    client, accord_runtime, system, smtp_server
):
    response = client.post(
        WEB, data={"company": "Cheap pills", "email": "bot@spam.example", "fax": "555"}
    )
    assert response.status_code == 200
    assert leads(system) == []
    assert run_jobs(accord_runtime) == 0
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"company": "Bar", "email": "not-an-address"}, "email: 'not-an-address' is not an e-mail"),
        ({"company": "Bar", "colour": "red"}, "unknown field 'colour'"),
        ({"company": "Bar", "channel": "phone"}, "unknown field 'channel'"),
        ({"company": ["Bar"]}, "company: send text"),
        ({}, "give at least a name"),
    ],
)
def test_bad_posts_are_refused_with_the_reason_and_change_nothing(
    client, system, smtp_server, body, words
):
    response = client.post(WEB, json=body)
    assert response.status_code == 422
    assert words in response.json()["error"]
    assert leads(system) == []


def test_an_unknown_site_key_is_refused(client, system):
    response = client.post("/leads/web/someone-else", data={"company": "Bar"})
    assert response.status_code == 404
    assert "unknown site key &#x27;someone-else&#x27;" in response.text
    assert leads(system) == []


def test_a_flood_from_one_address_is_slowed_down(client, system):
    answers = [
        client.post(WEB, json={"company": f"Bar {n}", "email": f"bar{n}@x.example"}).status_code
        for n in range(7)
    ]
    assert answers == [202] * 5 + [429] * 2  # [leads] web_rate_limit = "5/minute"
    assert len(leads(system)) == 5


def test_the_endpoint_needs_no_sign_in_but_the_rest_of_leads_does(client):
    assert client.post("/leads/1/convert", data={}).status_code in (303, 403)
    assert client.get("/views/leads").status_code == 303


def test_no_lead_is_kept_when_the_auto_reply_cannot_be_rendered(
    client, accord_runtime, system, monkeypatch
):
    from accord.plugins.leads import web

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("template broke")

    monkeypatch.setattr(web, "send_mail", broken)
    with pytest.raises(RuntimeError):
        client.post(WEB, json={"company": "Bar", "email": "bar@x.example"})
    with system() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0
