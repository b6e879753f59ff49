"""Attribution on a hand-computed example, and ROI per campaign and per channel.

Anna (a lead) is reached by the spring mailing (email, cost 1,000), then the espresso week
(email, cost 500), the spring mailing again and the Google ads (ads, cost 200); she
converts, becomes the customer Bar Castello, and the customer orders for 1,200. A touch
after the order and a touch of another person count for nothing.

- first touch: spring mailing 1,200.
- last touch: Google ads 1,200.
- linear, 4 touches of 300 each: spring mailing 2 x 300 = 600, espresso week 300,
  Google ads 300.
- ROI linear: spring (600 - 1,000) / 1,000 = -40 %; espresso (300 - 500) / 500 = -40 %;
  ads (300 - 200) / 200 = +50 %. Per channel: email (900 - 1,500) / 1,500 = -40 %,
  ads +50 %.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accord.api import Partner, PartnerKind, emit, utcnow
from accord.core.events import OutboxEvent
from accord.plugins.campaigns.api import (
    Conversion,
    Credit,
    attribute,
    roi_by_campaign,
    roi_by_channel,
)
from accord.plugins.leads.api import Lead
from accord.testing import run_jobs


@pytest.fixture
def story(network, make_lead, make_campaign, touch, deliver, system):
    anna = make_lead(network["sam"], first_name="Anna", company="Bar Castello")
    other = make_lead(network["sue"], first_name="Bruno", company="Bar Bruno")
    spring = make_campaign("Spring mailing", "email", cost="1000.00")
    espresso = make_campaign("Espresso week", "email", cost="500.00")
    ads = make_campaign("Google ads", "ads", cost="200.00")
    touch(spring, "email_opened", days_ago=40, lead_id=anna)
    touch(espresso, "email_clicked", days_ago=30, lead_id=anna)
    touch(spring, "email_opened", days_ago=20, lead_id=anna)
    touch(ads, "link_click", days_ago=10, lead_id=anna)
    touch(ads, "link_click", days_ago=9, lead_id=other)
    with system() as session:
        customer = Partner(kind=PartnerKind.COMPANY, name="Bar Castello")
        session.add(customer)
        session.flush()
        lead = session.get(Lead, anna)
        lead.partner_id = customer.id
        partner_id = customer.id
    deliver("leads.lead_converted", {"lead_id": anna, "partner_id": partner_id})
    deliver(
        "orders.order_confirmed",
        {
            "order_id": 7,
            "number": "SO-7",
            "partner_id": partner_id,
            "amount": "1200.00",
            "currency": "EUR",
            "owner_id": None,
        },
    )
    touch(espresso, "email_opened", days_ago=0, lead_id=anna)  # after: earns nothing
    return {"spring": spring, "espresso": espresso, "ads": ads, "partner_id": partner_id}


def figures(session, model):
    return {roi.label: (roi.cost, roi.revenue, roi.roi) for roi in roi_by_campaign(session, model)}


def test_first_last_and_linear_on_the_hand_computed_example(story, as_user, network):
    with as_user(network["max"]) as session:
        assert figures(session, "first_touch") == {
            "Spring mailing": (Decimal("1000.00"), Decimal("1200.00"), Decimal("0.2000")),
            "Espresso week": (Decimal("500.00"), Decimal("0"), Decimal("-1.0000")),
            "Google ads": (Decimal("200.00"), Decimal("0"), Decimal("-1.0000")),
        }
        assert figures(session, "last_touch")["Google ads"] == (
            Decimal("200.00"),
            Decimal("1200.00"),
            Decimal("5.0000"),
        )
        assert figures(session, "linear") == {
            "Spring mailing": (Decimal("1000.00"), Decimal("600.00"), Decimal("-0.4000")),
            "Espresso week": (Decimal("500.00"), Decimal("300.00"), Decimal("-0.4000")),
            "Google ads": (Decimal("200.00"), Decimal("300.00"), Decimal("0.5000")),
        }
        channels = {
            roi.key: (roi.cost, roi.revenue, roi.roi) for roi in roi_by_channel(session, "linear")
        }
        assert channels == {
            "email": (Decimal("1500.00"), Decimal("900.00"), Decimal("-0.4000")),
            "ads": (Decimal("200.00"), Decimal("300.00"), Decimal("0.5000")),
        }


def test_the_lead_conversion_counts_its_four_touches(story, system):
    with system() as session:
        lead_conversion = session.scalars(select(Conversion).where(Conversion.kind == "lead")).one()
        assert (lead_conversion.touches, lead_conversion.revenue) == (4, Decimal("0.00"))
        shares = session.scalars(
            select(Credit.share).where(
                Credit.conversion_id == lead_conversion.id, Credit.model == "linear"
            )
        ).all()
        assert sum(shares) == Decimal(1)


def test_an_event_delivered_twice_counts_once(story, deliver, as_user, network):
    deliver(
        "orders.order_confirmed",
        {
            "order_id": 7,
            "number": "SO-7",
            "partner_id": story["partner_id"],
            "amount": "1200.00",
            "currency": "EUR",
            "owner_id": None,
        },
    )
    with as_user(network["max"]) as session:
        assert figures(session, "linear")["Spring mailing"][1] == Decimal("600.00")


def test_a_cancelled_order_takes_its_revenue_back(story, deliver, as_user, network):
    deliver(
        "orders.order_cancelled",
        {
            "order_id": 7,
            "number": "SO-7",
            "partner_id": story["partner_id"],
            "amount": "1200.00",
            "currency": "EUR",
            "owner_id": None,
            "reason": "duplicate",
        },
    )
    with as_user(network["max"]) as session:
        assert {
            label: revenue for label, (_, revenue, _) in figures(session, "linear").items()
        } == {
            "Spring mailing": Decimal("0"),
            "Espresso week": Decimal("0"),
            "Google ads": Decimal("0"),
        }
        assert session.scalar(select(func.count(Conversion.id))) == 1  # the lead's, no revenue


def test_roi_is_read_through_the_users_access(story, as_user, network):
    with as_user(network["sam"]) as session:
        # a salesperson reads the campaigns' names, not what they cost
        assert [roi.cost for roi in roi_by_campaign(session, "linear")] == [0, 0, 0]
    with as_user(network["mia"]) as session:
        assert len(roi_by_campaign(session, "linear")) == 3


def test_linear_shares_add_up_to_the_revenue_to_the_cent():
    shares = attribute([1, 2, 3], Decimal("100.00"))["linear"]
    assert [share.revenue for share in shares] == [
        Decimal("33.33"),
        Decimal("33.33"),
        Decimal("33.34"),
    ]
    assert attribute([], Decimal("100.00"))["linear"] == []


def test_a_web_store_order_with_the_buyers_link_token_credits_that_campaign(
    network, make_campaign, deliver, accord_runtime, as_user, system
):
    from accord.plugins.campaigns.api import TrackedLink, link_token

    ads = make_campaign("Instagram ads", "social", cost="100.00")
    with system() as session:
        link = TrackedLink(campaign_id=ads, name="shop", destination="https://shop.example/")
        buyer = Partner(kind=PartnerKind.PERSON, name="Eva", email="eva@home.example")
        session.add_all([link, buyer])
        session.flush()
        token, buyer_id = link_token(accord_runtime, link), buyer.id
    order = {"order_id": 9, "number": "WEB-9", "partner_id": buyer_id, "source": "web",
             "amount": "250.00", "currency": "EUR", "ordered_on": "2026-11-23",
             "campaign_token": token}  # fmt: skip
    deliver("orders.order_placed", order)
    deliver("orders.order_confirmed", {**order, "owner_id": None})
    deliver("orders.order_placed", {**order, "order_id": 10, "campaign_token": "forged.token"})
    with as_user(network["max"]) as session:
        assert figures(session, "last_touch")["Instagram ads"] == (
            Decimal("100.00"), Decimal("250.00"), Decimal("1.5000"),
        )  # fmt: skip


def test_an_order_handled_a_day_late_credits_only_the_touches_before_it(
    network, make_campaign, touch, accord_runtime, system, as_user
):
    """The order of 1,000 is confirmed yesterday, but the worker was down and handles it
    today; Google ads reached the customer in between (12 hours ago). Only the spring
    mailing (10 days ago) and the espresso week (3 days ago) came before the order: linear
    500 each, last touch the espresso week, the ads nothing."""
    spring = make_campaign("Spring mailing", "email", cost="1000.00")
    espresso = make_campaign("Espresso week", "email", cost="500.00")
    ads = make_campaign("Google ads", "ads", cost="200.00")
    with system() as session:
        customer = Partner(kind=PartnerKind.COMPANY, name="Bar Castello")
        session.add(customer)
        session.flush()
        partner_id = customer.id
    touch(spring, "email_opened", days_ago=10, partner_id=partner_id)
    touch(espresso, "email_clicked", days_ago=3, partner_id=partner_id)
    confirmed_at = utcnow() - dt.timedelta(days=1)
    with system() as session:
        order = {"order_id": 11, "number": "SO-11", "partner_id": partner_id,
                 "amount": "1000.00", "currency": "EUR", "owner_id": None}  # fmt: skip
        emit(session, "orders.order_confirmed", order)
        session.flush()
        confirmed = select(OutboxEvent).where(OutboxEvent.name == "orders.order_confirmed")
        session.scalars(confirmed).one().created_at = confirmed_at
    touch(ads, "link_click", days_ago=0.5, partner_id=partner_id)
    run_jobs(accord_runtime)
    with system() as session:
        conversion = session.scalars(select(Conversion)).one()
        assert (conversion.occurred_at, conversion.touches) == (confirmed_at, 2)
    with as_user(network["max"]) as session:
        assert {
            label: revenue for label, (_, revenue, _) in figures(session, "linear").items()
        } == {
            "Spring mailing": Decimal("500.00"),
            "Espresso week": Decimal("500.00"),
            "Google ads": Decimal("0"),
        }
        assert figures(session, "last_touch")["Espresso week"][1] == Decimal("1000.00")
