"""A campaign's mass e-mail through a real SMTP server: one mail per address of the
segment, never twice, each with a working unsubscribe link that every later send honours."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from accord.api import Partner, PartnerKind
from accord.plugins.campaigns.api import (
    Campaign,
    OptOut,
    Segment,
    SegmentError,
    Touch,
    TrackedLink,
    check_criteria,
    start_mailing,
    unsubscribe,
)
from accord.plugins.campaigns.mailing import MailingError
from accord.testing import run_jobs


@pytest.fixture
def accord_extra_settings(smtp_server):
    return smtp_server.settings


@pytest.fixture
def newsletter(network, make_lead, make_campaign, make_segment, system):
    leads = {
        "anna": make_lead(network["sam"], first_name="Anna", email="anna@castello.example"),
        "bruno": make_lead(network["sue"], first_name="Bruno", email="Bruno@Bar.example"),
        "carla": make_lead(
            network["sam"], first_name="Carla", email="carla@phone.example", channel="phone"
        ),
        "dino": make_lead(network["sam"], first_name="Dino"),  # no address
    }
    segment_id = make_segment()
    campaign_id = make_campaign(
        "Spring newsletter",
        "newsletter",
        segment_id=segment_id,
        mail_subject="Spring offers",
        mail_body="Our new grinders are here.",
    )
    with system() as session:
        session.add(
            TrackedLink(
                campaign_id=campaign_id,
                name="Grinders",
                destination="https://caffe.example/grinders",
                utm_source="newsletter",
            )
        )
    return campaign_id, leads


def send(accord_runtime, as_user, network, campaign_id) -> int:
    with as_user(network["max"]) as session:
        queued = start_mailing(session, session.get(Campaign, campaign_id))
    run_jobs(accord_runtime)
    return queued


def unsubscribe_url(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost:8000(/campaigns/unsubscribe/\S+)", text)[1]


def test_the_segment_gets_one_mail_each_over_smtp(
    accord_runtime, as_user, network, newsletter, smtp_server, system
):
    campaign_id, leads = newsletter
    assert send(accord_runtime, as_user, network, campaign_id) == 2
    assert sorted(rcpt for _, (rcpt,) in smtp_server.envelopes) == [
        "anna@castello.example",
        "bruno@bar.example",
    ]
    message = next(m for m in smtp_server.messages if m["To"] == "anna@castello.example")
    assert message["Subject"] == "Spring offers"
    text = message.get_body(("plain",)).get_content()
    assert "Dear Anna" in text
    assert "Our new grinders are here." in text
    assert "Grinders: http://localhost:8000/campaigns/t/" in text
    with system() as session:
        sent = session.scalars(select(Touch).where(Touch.kind == "email_sent")).all()
        assert sorted(touch.lead_id for touch in sent) == sorted([leads["anna"], leads["bruno"]])
    # Sending again queues nothing and mails nobody twice.
    assert send(accord_runtime, as_user, network, campaign_id) == 0
    assert len(smtp_server.messages) == 2


def test_the_personal_link_in_the_mail_records_an_email_click_of_who_clicked(
    accord_runtime, as_user, network, newsletter, smtp_server, anonymous, system
):
    campaign_id, leads = newsletter
    send(accord_runtime, as_user, network, campaign_id)
    message = next(m for m in smtp_server.messages if m["To"] == "anna@castello.example")
    path = re.search(
        r"http://localhost:8000(/campaigns/t/\S+)", message.get_body(("plain",)).get_content()
    )[1]
    response = anonymous.get(path)
    assert response.headers["location"].startswith("https://caffe.example/grinders?")
    with system() as session:
        click = session.scalars(select(Touch).where(Touch.kind == "email_clicked")).one()
        assert (click.lead_id, click.utm_source) == (leads["anna"], "newsletter")
        assert click.email == "anna@castello.example"
        assert session.scalars(select(Touch).where(Touch.kind == "link_click")).all() == []


def test_unsubscribe_asks_first_then_is_honoured_by_every_later_send(
    accord_runtime, as_user, network, newsletter, smtp_server, anonymous, system, make_campaign
):
    campaign_id, _ = newsletter
    send(accord_runtime, as_user, network, campaign_id)
    message = next(m for m in smtp_server.messages if m["To"] == "bruno@bar.example")
    path = unsubscribe_url(message)
    page = anonymous.get(path)
    assert page.status_code == 200
    assert "bruno@bar.example" in page.text
    assert "<form method='post'>" in page.text
    with system() as session:
        assert session.scalar(select(func.count(OptOut.id))) == 0  # a GET changes nothing
    done = anonymous.post(path)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert anonymous.post(path).status_code == 200  # twice is harmless
    with system() as session:
        segment_id = session.get(Campaign, campaign_id).segment_id
    autumn = make_campaign(
        "Autumn newsletter",
        "newsletter",
        segment_id=segment_id,
        mail_subject="Autumn offers",
        mail_body="Roasts.",
    )
    smtp_server.messages.clear()
    smtp_server.envelopes.clear()
    assert send(accord_runtime, as_user, network, autumn) == 1
    assert [m["To"] for m in smtp_server.messages] == ["anna@castello.example"]


def test_an_address_unsubscribed_after_queueing_gets_nothing(
    accord_runtime, as_user, network, newsletter, smtp_server, system
):
    campaign_id, _ = newsletter
    with as_user(network["max"]) as session:
        assert start_mailing(session, session.get(Campaign, campaign_id)) == 2
    with system() as session:
        unsubscribe(session, "ANNA@castello.example")
    run_jobs(accord_runtime)
    assert [m["To"] for m in smtp_server.messages] == ["bruno@bar.example"]


def test_a_forged_unsubscribe_link_is_a_404(anonymous, system):
    response = anonymous.post("/campaigns/unsubscribe/eyJlbWFpbCI6ImFAYi5jIn0.forged")
    assert response.status_code == 404
    with system() as session:
        assert session.scalar(select(func.count(OptOut.id))) == 0


def test_a_campaign_without_segment_or_subject_says_so(network, make_campaign, as_user):
    bare = make_campaign("No segment yet")
    with as_user(network["max"]) as session, pytest.raises(MailingError, match="choose a segment"):
        start_mailing(session, session.get(Campaign, bare))


def test_a_partner_segment_mails_active_customers_with_an_address(
    accord_runtime, as_user, network, make_campaign, smtp_server, system
):
    with system() as session:
        session.add_all(
            [
                Partner(
                    kind=PartnerKind.COMPANY, name="Bar Castello", email="info@castello.example"
                ),
                Partner(
                    kind=PartnerKind.COMPANY,
                    name="Closed bar",
                    email="x@closed.example",
                    active=False,
                ),
                Partner(kind=PartnerKind.PERSON, name="Eva", email="eva@home.example"),
            ]
        )
        segment = Segment(name="Companies", target="partners", criteria={"kinds": ["company"]})
        session.add(segment)
        session.flush()
        segment_id = segment.id
    campaign = make_campaign(
        "B2B", "email", segment_id=segment_id, mail_subject="Hello", mail_body="Hi"
    )
    assert send(accord_runtime, as_user, network, campaign) == 1
    assert [m["To"] for m in smtp_server.messages] == ["info@castello.example"]


@pytest.mark.parametrize(
    ("target", "criteria", "message"),
    [
        ("leads", {"kinds": ["company"]}, "'kinds' does not apply to leads"),
        ("partners", {"kinds": ["robot"]}, "'robot' is not a partner kind"),
        ("leads", {"min_score": 200}, "min_score: a number 0 to 100"),
        ("contacts", {}, "segment target 'contacts'"),
    ],
)
def test_a_wrong_segment_criterion_is_named(target, criteria, message):
    with pytest.raises(SegmentError, match=message):
        check_criteria(target, criteria)
