"""Touches: every impression is stored, raises the lead's score, is seen by those who may
see the lead, and follows the lead through a merge."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accord.plugins.campaigns.api import Campaign, CostLine, Touch, TouchError, record_touch
from accord.plugins.leads.api import Lead, merge_leads
from accord.testing import run_jobs


def test_touches_raise_the_lead_score(
    network, make_lead, make_campaign, touch, system, accord_runtime
):
    lead_id = make_lead(network["sam"], first_name="Anna", company="Bar Castello")
    with system() as session:
        before = session.get(Lead, lead_id).score
    fair = make_campaign("Host 2026", "trade_fair")
    touch(fair, "event_attendance", lead_id=lead_id)
    touch(fair, "email_opened", lead_id=lead_id)
    run_jobs(accord_runtime)
    with system() as session:
        lead = session.get(Lead, lead_id)
        assert lead.touches == 2
        assert lead.score == before + 10  # default rule: 5 points per touch


def test_an_unknown_touch_kind_is_refused_and_stores_nothing(network, make_campaign, system):
    campaign_id = make_campaign("Spring mailing")
    with system() as session:
        campaign = session.get(Campaign, campaign_id)
        with pytest.raises(TouchError, match="'fax_sent' is unknown"):
            record_touch(session, campaign, "fax_sent")
        assert session.scalar(select(func.count(Touch.id))) == 0


def test_sellers_see_the_touches_of_their_own_leads_only(
    network, make_lead, make_campaign, touch, as_user
):
    mine = make_lead(network["sam"], first_name="Anna")
    theirs = make_lead(network["sue"], first_name="Bruno")
    campaign = make_campaign("Spring mailing", cost="300.00")
    touch(campaign, lead_id=mine)
    touch(campaign, lead_id=theirs)
    with as_user(network["sam"]) as session:
        assert session.scalars(select(Touch.lead_id)).all() == [mine]
        # the campaign's name is shown with the touch; its costs are marketing's
        assert session.scalars(select(Campaign.name)).all() == ["Spring mailing"]
        assert session.scalars(select(CostLine)).all() == []
    with as_user(network["max"]) as session:
        assert sorted(session.scalars(select(Touch.lead_id))) == sorted([mine, theirs])
        assert len(session.scalars(select(CostLine)).all()) == 1


def test_a_merge_keeps_every_touch_of_both_leads(
    network, make_lead, make_campaign, touch, as_user, system
):
    survivor = make_lead(network["sam"], first_name="Anna", email="anna@castello.example")
    merged = make_lead(network["sam"], first_name="Anna", phone="+39 02 1234567")
    mailing = make_campaign("Spring mailing")
    fair = make_campaign("Host 2026", "trade_fair")
    touch(mailing, "email_sent", days_ago=20, lead_id=survivor)
    touch(fair, "event_attendance", days_ago=10, lead_id=merged)
    touch(mailing, "email_clicked", days_ago=5, lead_id=merged)
    with as_user(network["bea"]) as session:
        merge_leads(session, session.get(Lead, survivor), session.get(Lead, merged))
    with system() as session:
        kinds = session.scalars(
            select(Touch.kind).where(Touch.lead_id == survivor).order_by(Touch.occurred_at)
        ).all()
        assert kinds == ["email_sent", "event_attendance", "email_clicked"]
        assert session.scalar(select(func.count(Touch.id)).where(Touch.lead_id == merged)) == 0
        assert session.get(Lead, survivor).touches == 3
