"""Marketing plans a campaign on the generic forms (a wrong period or channel is named and
nothing is written), sees its ROI on its page and sends its mass e-mail from there;
a salesperson cannot send."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from accord.plugins.campaigns.api import Campaign, TrackedLink
from accord.testing import post_form as post
from accord.testing import run_jobs, submit_form


@pytest.fixture
def accord_extra_settings(smtp_server):
    return smtp_server.settings


def error_of(page: str, name: str) -> str:
    found = re.search(rf'<small id="field-{name}-error" class="field-error">([^<]*)</small>', page)
    return unescape(found[1]) if found else ""


def count(system, model) -> int:
    with system() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_marketing_plans_a_campaign_on_the_form(sign_in, network, system):
    client = sign_in("max")
    response = post(
        client,
        "/views/campaigns/new",
        name="Host 2026",
        channel="trade_fair",
        starts_on="2026-10-17",
        ends_on="2026-10-21",
        budget="12000",
    )
    assert response.status_code == 303, response.text
    campaign_id = int(response.headers["location"].rsplit("/", 1)[1])
    with system() as session:
        made = session.get(Campaign, campaign_id)
        assert (made.name, made.owner_id, made.currency) == ("Host 2026", network["max"].id, "EUR")


def test_a_period_ending_before_it_starts_and_an_unknown_channel_are_named(sign_in, system):
    client = sign_in("max")
    values = {"name": "Backwards", "starts_on": "2026-10-21", "ends_on": "2026-10-17"}
    response = post(client, "/views/campaigns/new", channel="fax", **values)
    assert response.status_code == 422
    assert error_of(response.text, "channel")
    response = post(client, "/views/campaigns/new", channel="trade_fair", **values)
    assert response.status_code == 422
    assert error_of(response.text, "ends_on") == "the campaign ends before it starts"
    assert count(system, Campaign) == 0


def test_a_link_to_no_web_address_is_refused_on_the_form(sign_in, make_campaign, system):
    campaign_id = make_campaign("Espresso week", "social")
    response = post(
        sign_in("max"),
        "/views/campaign_links/new",
        campaign_id=str(campaign_id),
        name="offer",
        destination="javascript:alert(1)",
    )
    assert response.status_code == 422
    assert "full http:// or https:// address" in error_of(response.text, "destination")
    assert count(system, TrackedLink) == 0


def test_the_campaign_page_shows_roi_and_sends_the_mass_email(
    sign_in, network, make_lead, make_campaign, make_segment, system, accord_runtime, smtp_server
):
    make_lead(network["sam"], first_name="Anna", email="anna@castello.example")
    segment_id = make_segment()
    campaign_id = make_campaign(
        "Spring newsletter",
        "newsletter",
        cost="450.00",
        segment_id=segment_id,
        mail_subject="Spring offers",
        mail_body="New grinders.",
    )
    client = sign_in("max")
    page = client.get(f"/views/campaigns/{campaign_id}")
    assert page.status_code == 200
    assert "Spent <strong>450 EUR</strong>" in page.text
    assert "Send the mass e-mail" in page.text
    # the page's own form, as a browser without JavaScript posts it
    response = submit_form(client, page.text, f"/campaigns/{campaign_id}/send")
    assert response.status_code == 303, response.text
    assert "1 mails queued" in client.get(response.headers["location"]).text
    run_jobs(accord_runtime)
    assert [m["To"] for m in smtp_server.messages] == ["anna@castello.example"]
    # a salesperson has no button and is refused
    seller = sign_in("sam")
    assert "Send the mass e-mail" not in seller.get(f"/views/campaigns/{campaign_id}").text
    assert post(seller, f"/campaigns/{campaign_id}/send").status_code == 403
