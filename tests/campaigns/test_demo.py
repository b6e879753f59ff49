"""The demo company's campaigns: costs, touches on its leads and customers, and ROI that
fills once the confirmed orders' events have gone through the job runner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from accord.api import Principal
from accord.core.cli import cli
from accord.core.runtime import Runtime
from accord.plugins.campaigns.api import (
    Campaign,
    Touch,
    mail_figures,
    roi_by_campaign,
    roi_by_channel,
)
from accord.plugins.leads.api import Lead
from accord.testing import run_jobs


@pytest.fixture(scope="module")
def demo_runtime(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert result.exit_code == 0, result.output
    assert "campaigns: added 5 campaigns with cost lines and" in result.output
    runtime = Runtime(folder / "accord.toml")
    yield runtime
    runtime.close()


def test_the_demo_campaigns_reach_leads_and_earn_revenue(demo_runtime):
    while run_jobs(demo_runtime, limit=500):
        pass
    with demo_runtime.db.session(Principal.system("test")) as session:
        touched = session.scalar(select(func.count(func.distinct(Touch.lead_id))))
        assert touched > 20
        converted = session.scalars(select(Lead).where(Lead.state == "converted")).all()
        assert converted
        figures = roi_by_campaign(session, "linear")
        assert len(figures) == 5
        assert all(roi.cost > 0 for roi in figures)
        assert sum(roi.revenue for roi in figures) > 0
        assert {roi.key for roi in roi_by_channel(session, "linear")} == {
            "trade_fair", "newsletter", "ads", "event", "print",
        }  # fmt: skip


def test_the_demo_mail_opens_and_clicks_follow_their_mails(demo_runtime):
    with demo_runtime.db.session(Principal.system("test")) as session:
        newsletter = session.scalars(
            select(Campaign).where(Campaign.name == "Spring newsletter")
        ).one()
        figures = mail_figures(session, newsletter.id)
        assert figures.sent >= figures.opened >= figures.clicked > 0
        responses = session.scalars(
            select(Touch).where(Touch.kind.in_(("email_opened", "email_clicked")))
        ).all()
        for response in responses:
            sent = session.get(Touch, response.sent_touch_id)
            assert (sent.kind, sent.campaign_id) == ("email_sent", response.campaign_id)
            assert (sent.lead_id, sent.partner_id) == (response.lead_id, response.partner_id)
            assert sent.occurred_at < response.occurred_at
