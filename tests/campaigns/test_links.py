"""Tracked links: a click is recorded with its UTM parameters and the person, and the
redirect only ever goes to the link's registered destination."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from accord.plugins.campaigns.api import (
    Touch,
    TrackedLink,
    check_destination,
    link_token,
)
from accord.plugins.campaigns.links import LinkError
from accord.plugins.leads.api import Lead
from accord.testing import run_jobs


@pytest.fixture
def link(network, make_campaign, system):
    campaign_id = make_campaign("Espresso week", "social")
    with system() as session:
        link = TrackedLink(
            campaign_id=campaign_id,
            name="offer",
            destination="https://caffe.example/offer?lang=it",
            utm_source="linkedin",
            utm_medium="social",
            utm_campaign="espresso-week",
        )
        session.add(link)
        session.flush()
        session.expunge(link)
        return link


def test_a_personal_link_records_the_click_and_redirects_with_utm(
    accord_runtime, anonymous, link, make_lead, network, system
):
    lead_id = make_lead(network["sam"], first_name="Anna")
    token = link_token(accord_runtime, link, lead_id=lead_id)
    response = anonymous.get(f"/campaigns/t/{token}?utm_content=banner-2")
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "caffe.example", "/offer")
    assert parse_qs(target.query) == {
        "lang": ["it"],
        "utm_source": ["linkedin"],
        "utm_medium": ["social"],
        "utm_campaign": ["espresso-week"],
        "utm_content": ["banner-2"],
    }
    with system() as session:
        click = session.scalars(select(Touch)).one()
        assert (click.kind, click.lead_id, click.link_id) == ("link_click", lead_id, link.id)
        assert (click.utm_source, click.utm_content) == ("linkedin", "banner-2")
    run_jobs(accord_runtime)
    with system() as session:
        assert session.get(Lead, lead_id).touches == 1


def test_an_anonymous_link_records_a_click_of_nobody(accord_runtime, anonymous, link, system):
    response = anonymous.get(f"/campaigns/t/{link_token(accord_runtime, link)}")
    assert response.status_code == 302
    with system() as session:
        click = session.scalars(select(Touch)).one()
        assert (click.lead_id, click.partner_id) == (None, None)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "eyJsaW5rIjoxfQ.forged",
        lambda token: "nothing-here",
    ],
)
def test_a_tampered_token_gets_a_friendly_404_and_no_redirect(
    accord_runtime, anonymous, link, system, mangle
):
    token = mangle(link_token(accord_runtime, link))
    response = anonymous.get(f"/campaigns/t/{token}?next=https://evil.example/")
    assert response.status_code == 404
    assert "location" not in response.headers
    assert "This link is not valid" in response.text
    with system() as session:
        assert session.scalars(select(Touch)).all() == []


def test_a_token_of_a_deleted_link_gets_a_404(accord_runtime, anonymous, link, system):
    token = link_token(accord_runtime, link)
    with system() as session:
        session.delete(session.get(TrackedLink, link.id))
    response = anonymous.get(f"/campaigns/t/{token}")
    assert response.status_code == 404
    assert "location" not in response.headers


def test_the_request_cannot_change_where_a_link_leads(accord_runtime, anonymous, link):
    token = link_token(accord_runtime, link)
    response = anonymous.get(
        f"/campaigns/t/{token}?url=https://evil.example/&destination=https://evil.example/"
    )
    assert urlsplit(response.headers["location"]).netloc == "caffe.example"


@pytest.mark.parametrize(
    "destination", ["javascript:alert(1)", "//evil.example/", "/relative/path", "ftp://x.example/"]
)
def test_a_link_needs_a_full_web_address(destination):
    with pytest.raises(LinkError, match="full http:// or https:// address"):
        check_destination(destination)
