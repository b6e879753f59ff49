"""Campaigns in the web app: the customer page counts the impressions before it became a
customer, the dashboard shows ROI per campaign and per channel to those who may read
campaigns, and the campaign list is marketing's."""

from __future__ import annotations

import pytest

from accord.api import Partner, PartnerKind, RenderContext
from accord.plugins.campaigns.views import render_lead_touches
from accord.plugins.leads.api import Lead


@pytest.fixture
def customer(network, make_lead, make_campaign, touch, deliver, system):
    lead_id = make_lead(network["sam"], first_name="Anna", company="Bar Castello")
    spring = make_campaign("Spring mailing", "email", cost="1000.00")
    ads = make_campaign("Google ads", "ads", cost="200.00")
    touch(spring, "email_opened", days_ago=20, lead_id=lead_id)
    touch(ads, "link_click", days_ago=10, lead_id=lead_id)
    with system() as session:
        partner = Partner(kind=PartnerKind.COMPANY, name="Bar Castello", owner_id=network["sam"].id)
        session.add(partner)
        session.flush()
        lead = session.get(Lead, lead_id)
        lead.partner_id = partner.id
        lead.state = "converted"
        lead.converted_at = lead.updated_at
        partner_id = partner.id
    deliver("leads.lead_converted", {"lead_id": lead_id, "partner_id": partner_id})
    deliver(
        "orders.order_confirmed",
        {
            "order_id": 1,
            "number": "SO-1",
            "partner_id": partner_id,
            "amount": "2400.00",
            "currency": "EUR",
            "owner_id": None,
        },
    )
    touch(spring, "email_opened", days_ago=0, lead_id=lead_id)
    return {"partner_id": partner_id, "lead_id": lead_id}


def test_the_customer_page_counts_impressions_before_it_became_a_customer(customer, sign_in):
    page = sign_in("sam").get(f"/partners/{customer['partner_id']}")
    assert page.status_code == 200
    assert "Campaign touches" in page.text
    assert "<strong>2</strong> impressions before becoming a customer" in page.text
    assert "Google ads" in page.text


def test_the_lead_panel_answers_how_many_impressions_before_responding(
    customer, network, make_lead, make_campaign, touch, as_user
):
    with as_user(network["sam"]) as session:
        lead = session.get(Lead, customer["lead_id"])
        html = render_lead_touches(RenderContext(session=session, user=None, record=lead))
    assert "<strong>2</strong> impressions before responding" in html
    fresh = make_lead(network["sam"], first_name="Bruno")
    touch(make_campaign("Host 2026", "trade_fair"), "event_attendance", lead_id=fresh)
    with as_user(network["sam"]) as session:
        html = render_lead_touches(
            RenderContext(session=session, user=None, record=session.get(Lead, fresh))
        )
    assert "<strong>1</strong> impression so far, no response yet" in html


def test_the_dashboard_shows_roi_per_campaign_and_channel_to_marketing(customer, sign_in):
    page = sign_in("max").get("/?period=last_12_months")
    assert page.status_code == 200
    assert "Campaign ROI" in page.text
    assert "ROI per channel" in page.text
    # linear: 1,200 each; spring (1200 - 1000) / 1000, ads (1200 - 200) / 200
    assert "<td>Spring mailing</td><td>1,000</td><td>1,200</td><td>20 %</td>" in page.text
    assert "<td>Ads</td><td>200</td><td>1,200</td><td>500 %</td>" in page.text


def test_a_salesperson_sees_no_roi_tiles_and_no_campaign_list(customer, sign_in):
    client = sign_in("sam")
    assert "Campaign ROI" not in client.get("/").text
    assert client.get("/views/campaigns").status_code in (403, 404)


def test_marketing_lists_its_campaigns(customer, sign_in):
    page = sign_in("max").get("/views/campaigns")
    assert page.status_code == 200
    assert "Spring mailing" in page.text
    assert "Google ads" in page.text


def test_the_lead_page_shows_the_impressions_before_responding(customer, sign_in):
    page = sign_in("sam").get(f"/views/leads/{customer['lead_id']}")
    assert page.status_code == 200
    assert "<strong>2</strong> impressions before responding" in page.text
