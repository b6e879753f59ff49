"""The demo company's leads: every channel, worked by the network, duplicates waiting for a
merge, conversions, and a pipeline with opportunities in every stage that each hat sees its
part of."""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from accord.api import Principal, User
from accord.core.cli import cli
from accord.core.runtime import Runtime
from accord.plugins.leads.api import Lead, Opportunity, find_duplicates, forecast
from accord.plugins.leads.settings import OFFLINE_CHANNELS, ONLINE_CHANNELS


@pytest.fixture(scope="module")
def demo_runtime(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--path", str(folder)])
    assert result.exit_code == 0, result.output
    assert "added 72 leads from 15 channels" in result.output
    runtime = Runtime(folder / "accord.toml")
    yield runtime
    runtime.close()


def test_the_demo_has_leads_from_every_channel_in_every_state(demo_runtime):
    with demo_runtime.db.session(Principal.system("test")) as session:
        leads = session.scalars(select(Lead)).all()
        assert {lead.channel for lead in leads} == set(ONLINE_CHANNELS + OFFLINE_CHANNELS)
        states = Counter(lead.state for lead in leads)
        assert set(states) == {"new", "contacted", "qualified", "disqualified", "converted"}
        assert all(lead.disqualify_reason for lead in leads if lead.state == "disqualified")
        converted = [lead for lead in leads if lead.state == "converted"]
        assert converted
        assert all(lead.partner_id for lead in converted)
        waiting = [lead for lead in leads if find_duplicates(session, lead, open_only=True)]
        assert len(waiting) >= 2  # the duplicates waiting to be merged


def test_the_demo_pipeline_has_every_stage_and_a_forecast_per_hat(demo_runtime):
    with demo_runtime.db.session(Principal.system("test")) as session:
        stages = set(session.scalars(select(Opportunity.state)))
        assert stages == {"qualification", "proposal", "negotiation", "won", "lost"}
        users = {u.login: u.id for u in session.scalars(select(User))}
    weighted = {}
    for login in ("sam", "mia", "bea"):
        with demo_runtime.db.session(demo_runtime.principal_for(users[login])) as session:
            weighted[login] = forecast(session).weighted
            seen = set(session.scalars(select(Lead.owner_id)))
            if login == "sam":
                assert seen == {users["sam"]}
    assert 0 < weighted["sam"] < weighted["mia"] <= weighted["bea"]
