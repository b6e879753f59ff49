"""Leads in the web app, through HTTP as a signed-in user: the list and the search hold only
what the user may see, the conversion and merge buttons do their work or say why not and
change nothing, and the dashboard shows the weighted forecast."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from accord.api import Partner
from accord.plugins.leads.api import Lead, Opportunity, qualify_lead
from accord.testing import signed_in_client

from .conftest import PASSWORD

HTMX = {"HX-Request": "true"}


@pytest.fixture
def sign_in(accord_runtime, accord_db, network):
    def signed_in(login: str) -> TestClient:
        client = signed_in_client(accord_runtime, login, PASSWORD)
        client.headers["x-csrftoken"] = client.cookies["csrftoken"]
        return client

    return signed_in


@pytest.fixture
def leads(network, make_lead) -> dict[str, int]:
    return {
        "castello": make_lead(
            network["sam"],
            first_name="Anna",
            last_name="Rossi",
            company="Bar Castello",
            email="anna@castello.example",
            channel="trade_fair",
        ),
        "castello_again": make_lead(
            network["sam"],
            first_name="Anna",
            last_name="Rossi",
            company="BAR CASTELLO",
            channel="newsletter",
        ),
        "duomo": make_lead(network["sue"], company="Bar Duomo", channel="phone"),
    }


def test_the_list_and_the_search_hold_only_the_users_leads(sign_in, leads):
    sam = sign_in("sam")
    page = sam.get("/views/leads")
    assert page.status_code == 200
    assert "Bar Castello" in page.text
    assert "Bar Duomo" not in page.text
    found = sam.get("/search", params={"q": "bar"}, headers=HTMX)
    assert "Bar Castello" in found.text
    assert "Bar Duomo" not in found.text


def test_converting_over_http_lands_on_the_customer(sign_in, leads, as_user, network, system):
    with as_user(network["tom"]) as session:
        qualify_lead(session, session.get(Lead, leads["castello"]))
    sam = sign_in("sam")
    refused = sam.post(
        f"/leads/{leads['castello']}/convert",
        data={"expected_revenue": "lots", "stage": "proposal"},
        headers=HTMX,
    )
    assert refused.status_code == 200
    assert "expected_revenue: &#39;lots&#39; is not an amount" in refused.text
    with system() as session:
        assert session.scalar(select(func.count()).select_from(Partner)) == 0
    done = sam.post(
        f"/leads/{leads['castello']}/convert",
        data={"expected_revenue": "9,000", "stage": "proposal", "expected_close": "2027-01-31"},
        headers=HTMX,
    )
    assert done.status_code == 200
    partner_id = int(done.headers["HX-Redirect"].rsplit("/", 1)[1])
    with system() as session:
        deal = session.scalar(select(Opportunity))
        assert (deal.partner_id, deal.state) == (partner_id, "proposal")
        assert deal.expected_revenue == Decimal("9000.00")


def test_merging_over_http(sign_in, leads, system, network):
    bea = sign_in("bea")
    done = bea.post(
        f"/leads/{leads['castello']}/merge",
        data={"merged_id": str(leads["castello_again"])},
        headers=HTMX,
    )
    assert done.headers["HX-Redirect"] == f"/views/leads/{leads['castello']}"
    with system() as session:
        assert session.get(Lead, leads["castello_again"]).state == "merged"
    # A salesperson holds no merge permission: the panel says so and nothing changes.
    with system() as session:
        from accord.plugins.leads.api import create_lead

        again = create_lead(
            session,
            {
                "company": "Bar Castello",
                "first_name": "Anna",
                "last_name": "Rossi",
                "channel": "event",
            },
            owner_id=network["sam"].id,
            dedupe=False,
        ).lead.id
    sam = sign_in("sam")
    refused = sam.post(
        f"/leads/{leads['castello']}/merge", data={"merged_id": str(again)}, headers=HTMX
    )
    assert refused.status_code == 200
    assert "leads.merge" in refused.text
    with system() as session:
        assert session.get(Lead, again).state == "new"


def test_another_salespersons_lead_is_not_found(sign_in, leads):
    sam = sign_in("sam")
    assert sam.post(f"/leads/{leads['duomo']}/convert", data={}, headers=HTMX).status_code == 404


def test_the_dashboard_shows_the_weighted_forecast(sign_in, leads, as_user, network):
    with as_user(network["tom"]) as session:
        qualify_lead(session, session.get(Lead, leads["castello"]))
    sam = sign_in("sam")
    today = dt.datetime.now(dt.UTC).date()
    sam.post(
        f"/leads/{leads['castello']}/convert",
        data={
            "expected_revenue": "10000",
            "stage": "negotiation",
            "expected_close": today.isoformat(),
        },
        headers=HTMX,
    )
    dashboard = sam.get("/", params={"period": "year"})
    assert dashboard.status_code == 200
    assert "Weighted forecast" in dashboard.text
    # 75 % of 10,000 in negotiation, closing this year.
    assert 'data-weighted="7500.00"' in dashboard.text
    assert "Leads by channel" in dashboard.text
    # Sue's part of the network has no open deal.
    assert 'data-weighted="0.00"' in sign_in("sue").get("/", params={"period": "year"}).text
