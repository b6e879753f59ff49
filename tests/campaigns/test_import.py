"""Ad impressions from the ad network's CSV: one touch per row on the person with that
address; a row naming an unknown campaign or person is reported and nothing is written."""

from __future__ import annotations

from sqlalchemy import func, select

from accord.api import read_sheet, run_import
from accord.plugins.campaigns.api import Touch
from accord.plugins.campaigns.importing import IMPRESSION_IMPORTER
from accord.plugins.leads.api import Lead
from accord.testing import run_jobs

GOOD = """Campaign,E-mail,Day,Network,Creative
LinkedIn ads,anna@castello.example,2026-10-01,linkedin,pump-banner
LinkedIn ads,ANNA@castello.example,2026-10-03,linkedin,pump-video
"""
BAD = """Campaign,E-mail,Day
LinkedIn ads,anna@castello.example,2026-10-01
Billboards,anna@castello.example,2026-10-02
LinkedIn ads,nobody@nowhere.example,2026-10-02
LinkedIn ads,anna@castello.example,yesterday
"""


def test_each_row_is_an_impression_on_the_lead(
    network, make_lead, make_campaign, as_user, system, accord_runtime
):
    lead_id = make_lead(network["sam"], first_name="Anna", email="anna@castello.example")
    make_campaign("LinkedIn ads", "ads")
    with as_user(network["max"]) as session:
        report = run_import(session, IMPRESSION_IMPORTER, read_sheet(GOOD.encode(), "ads.csv"))
    assert (report.created, report.errors) == (2, [])
    run_jobs(accord_runtime)
    with system() as session:
        touches = session.scalars(select(Touch).order_by(Touch.occurred_at)).all()
        assert [(t.kind, t.lead_id, t.utm_source, t.utm_content) for t in touches] == [
            ("ad_impression", lead_id, "linkedin", "pump-banner"),
            ("ad_impression", lead_id, "linkedin", "pump-video"),
        ]
        assert session.get(Lead, lead_id).touches == 2


def test_bad_rows_are_named_and_nothing_is_written(
    network, make_lead, make_campaign, as_user, system
):
    make_lead(network["sam"], first_name="Anna", email="anna@castello.example")
    make_campaign("LinkedIn ads", "ads")
    with as_user(network["max"]) as session:
        report = run_import(session, IMPRESSION_IMPORTER, read_sheet(BAD.encode(), "ads.csv"))
    messages = {error.line: error.message for error in report.errors}
    assert "no campaign named 'Billboards'" in messages[3]
    assert "no lead or customer with e-mail 'nobody@nowhere.example'" in messages[4]
    assert 5 in messages
    with system() as session:
        assert session.scalar(select(func.count(Touch.id))) == 0
