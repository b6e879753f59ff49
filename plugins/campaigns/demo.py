"""The campaigns area of the demo company: a trade fair, a newsletter, paid social ads, a
webinar and a print mailing, each with its cost lines and tracked link; their touches on
the demo's leads before they came in or converted, and on its customers over the last
half year, so the ROI tiles fill as the customers' confirmed orders come through."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from accord.api import DemoContext, utcnow
from accord.plugins.leads.api import Lead

from .attribution import record_conversion
from .models import Campaign, CostLine, Segment, TrackedLink
from .touches import record_touch

CAMPAIGNS = [
    # name, channel, budget, cost lines, touch kinds, link destination
    ("Host Milano 2026", "trade_fair", "20000", ("14500", "3800"), ("event_attendance",),
     "https://caffe.example/host-2026"),
    ("Spring newsletter", "newsletter", "800", ("450",), ("email_sent", "email_opened",
     "email_clicked"), "https://caffe.example/spring"),
    ("LinkedIn ads: pump efficiency", "ads", "6000", ("2100", "2300"), ("ad_impression",
     "link_click"), "https://caffe.example/efficiency"),
    ("Webinar: energy audits", "event", "1500", ("900",), ("event_attendance", "email_sent"),
     "https://caffe.example/webinar"),
    ("Catalogue mailing", "print", "3000", ("2700",), ("ad_impression",),
     "https://caffe.example/catalogue"),
]  # fmt: skip


def touch(
    demo: DemoContext,
    campaign: Campaign,
    kind: str,
    link: TrackedLink,
    when: dt.datetime,
    **person: Any,
) -> int:
    """Record a touch of ``kind``; an open or a click of a mail comes after that mail (and
    a click after its open), as the tracking records them. Returns the touches added."""
    if kind not in ("email_opened", "email_clicked"):
        record_touch(demo.session, campaign, kind, occurred_at=when, **person)
        return 1
    sent = record_touch(
        demo.session, campaign, "email_sent", occurred_at=when, detail=campaign.mail_subject,
        **person,
    )  # fmt: skip
    opened_at = when + dt.timedelta(hours=demo.rng.uniform(0.5, 30))
    respond = {"occurred_at": opened_at, "sent_touch_id": sent.id, **person}
    record_touch(demo.session, campaign, "email_opened", **respond)
    if kind == "email_opened":
        return 2
    respond["occurred_at"] = opened_at + dt.timedelta(minutes=demo.rng.uniform(1, 20))
    record_touch(demo.session, campaign, "email_clicked", link=link, detail=link.name, **respond)
    return 3


def seed(demo: DemoContext) -> None:
    session, rng = demo.session, demo.rng
    today = dt.date.today()
    now = utcnow()
    marketing = demo.users.get("admin")
    segment = Segment(name="Web leads with an address", target="leads", criteria={
        "channels": ["web_form", "landing_page", "newsletter"]})  # fmt: skip
    session.add(segment)
    session.flush()
    campaigns: list[tuple[Campaign, tuple[str, ...], TrackedLink]] = []
    for name, channel, budget, costs, kinds, destination in CAMPAIGNS:
        campaign = Campaign(
            name=name,
            channel=channel,
            budget=Decimal(budget),
            starts_on=today - dt.timedelta(days=rng.randint(120, 180)),
            ends_on=today - dt.timedelta(days=rng.randint(0, 30)),
            segment_id=segment.id if channel == "newsletter" else None,
            mail_subject=f"{name}: what is new" if channel == "newsletter" else "",
            mail_body="Our new pumps save a fifth of the energy."
            if channel == "newsletter"
            else "",
            owner_id=marketing.id if marketing else None,
        )
        session.add(campaign)
        session.flush()
        for number, amount in enumerate(costs, start=1):
            session.add(
                CostLine(
                    campaign_id=campaign.id,
                    description=f"{name}: invoice {number}",
                    amount=Decimal(amount),
                    incurred_on=campaign.starts_on + dt.timedelta(days=20 * number),
                )
            )
        link = TrackedLink(
            campaign_id=campaign.id,
            name="More",
            destination=destination,
            utm_source=channel,
            utm_medium="campaign",
            utm_campaign=name.lower().replace(" ", "-")[:100],
        )
        session.add(link)
        campaigns.append((campaign, kinds, link))
    session.flush()
    touches = 0
    leads = session.scalars(select(Lead).where(Lead.state != "merged").order_by(Lead.id)).all()
    for lead in leads:
        until = lead.converted_at or lead.created_at or now
        for _ in range(rng.choice((0, 1, 2, 2, 3, 4, 6))):
            campaign, kinds, link = rng.choice(campaigns)
            touches += touch(
                demo,
                campaign,
                rng.choice(kinds),
                link,
                until - dt.timedelta(days=rng.uniform(1, 60)),
                lead_id=lead.id,
                email=lead.email,
            )
        if lead.converted_at is not None:
            record_conversion(
                session,
                f"lead:{lead.id}",
                "lead",
                lead_id=lead.id,
                partner_id=lead.partner_id,
                occurred_at=lead.converted_at,
            )
    for customer in demo.customers:
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            campaign, kinds, link = rng.choice(campaigns)
            touches += touch(
                demo,
                campaign,
                rng.choice(kinds),
                link,
                now - dt.timedelta(days=rng.uniform(1, 170)),
                partner_id=customer.id,
                email=customer.email,
            )
    demo.report(f"added {len(campaigns)} campaigns with cost lines and {touches} touches")
