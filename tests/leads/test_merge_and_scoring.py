"""Merging duplicates keeps everything of both leads: their activities, their workflow
history, their opportunities and the rows other plugins keep about them (re-pointed through
the ``leads_lead_merged`` hook). Scores follow the fields and the engagement other plugins
report through ``leads_engagement``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from accord.api import (
    AccessDeniedError,
    Partner,
    PartnerKind,
    TransitionNotAllowedError,
    hookimpl,
    runtime_of,
)
from accord.plugins.leads.api import (
    Lead,
    LeadActivity,
    MergeError,
    Opportunity,
    create_lead,
    find_duplicates,
    log_lead_activity,
    merge_leads,
    qualify_lead,
    recompute_score,
)


class Touches:
    """Another plugin's rows about leads (campaign touches), by lead id."""

    def __init__(self) -> None:
        self.by_lead: Counter[int] = Counter()

    @hookimpl
    def leads_lead_merged(self, session: Any, survivor: Lead, merged: Lead) -> None:
        self.by_lead[survivor.id] += self.by_lead.pop(merged.id, 0)

    @hookimpl
    def leads_engagement(self, session: Any, lead: Lead) -> int:
        return self.by_lead[lead.id]


@pytest.fixture
def touches(accord_runtime) -> Touches:
    plugin = Touches()
    accord_runtime.pm.register(plugin, name="touches")
    return plugin


@pytest.fixture
def pair(network, system, as_user, touches) -> tuple[int, int]:
    """Anna from a trade fair (contacted by phone), and Anna again from the web site."""
    with system() as session:
        fair = create_lead(
            session,
            {
                "first_name": "Anna",
                "last_name": "Rossi",
                "company": "Bar Castello",
                "channel": "trade_fair",
                "notes": "Met at Host Milano",
            },
            owner_id=network["sam"].id,
        ).lead
        web = create_lead(
            session,
            {
                "first_name": "Anna",
                "last_name": "Rossi",
                "company": "Bar Castello S.r.l.",
                "email": "anna@castello.example",
                "phone": "02 1234 5678",
                "country": "IT",
                "channel": "web_form",
                "notes": "Asked for a quote",
            },
            owner_id=network["sam"].id,
            dedupe=False,  # as an import with deduplication off would have it
        ).lead
        log_lead_activity(session, fair, "Called: interested in grinders", kind="call")
        runtime_of(session).workflows.transition(session, fair, "contact")
        runtime_of(session).workflows.transition(session, web, "contact")
        customer = Partner(kind=PartnerKind.COMPANY, name="Bar Castello")
        session.add(customer)
        session.flush()
        session.add(
            Opportunity(name="Earlier deal", partner_id=customer.id, lead_id=web.id, state="won")
        )
        touches.by_lead.update({fair.id: 1, web.id: 3})
        return fair.id, web.id


def test_the_duplicate_is_found_by_company_and_name(network, pair, as_user):
    fair_id, web_id = pair
    with as_user(network["sam"]) as session:
        [duplicate] = find_duplicates(session, session.get(Lead, fair_id))
        assert (duplicate.lead.id, duplicate.reasons) == (web_id, ("name",))


def test_merge_keeps_every_activity_history_row_and_touch_of_both(
    network, pair, as_user, system, touches
):
    fair_id, web_id = pair
    with as_user(network["bea"]) as session:
        survivor = merge_leads(session, session.get(Lead, fair_id), session.get(Lead, web_id))
        assert survivor.id == fair_id
    with system() as session:
        survivor, merged = session.get(Lead, fair_id), session.get(Lead, web_id)
        # The survivor keeps its values and takes the other's where it had none.
        assert survivor.company == "Bar Castello"
        assert survivor.email == "anna@castello.example"
        assert survivor.phone_key == "+390212345678"
        assert survivor.notes == "Met at Host Milano\n\nAsked for a quote"
        # Every activity of both is on the survivor, with the merge itself.
        subjects = set(
            session.scalars(select(LeadActivity.subject).where(LeadActivity.lead_id == fair_id))
        )
        assert {
            "Lead created from trade fair",
            "Lead created from web form",
            "Called: interested in grinders",
            f"Merged lead #{web_id} (Anna Rossi (Bar Castello S.r.l.)) into this one",
        } <= subjects
        # The merged lead stays, pointing at the survivor, with its whole workflow history.
        assert (merged.state, merged.merged_into_id) == ("merged", fair_id)
        engine = runtime_of(session).workflows
        assert [(h.transition, h.to_state) for h in engine.history(session, merged)] == [
            ("contact", "contacted"),
            ("merge", "merged"),
        ]
        assert [h.transition for h in engine.history(session, survivor)] == ["contact"]
        # Its opportunities and another plugin's rows now belong to the survivor.
        assert session.scalar(select(Opportunity.lead_id)) == fair_id
        assert touches.by_lead == Counter({fair_id: 4})
        assert survivor.touches == 4
        # A merged lead is no longer a duplicate of anything.
        assert find_duplicates(session, survivor) == []


def test_a_merge_others_refuse_changes_nothing(network, pair, as_user, system, accord_runtime):
    fair_id, web_id = pair

    class Refuser:
        @hookimpl
        def leads_lead_merged(self, session: Any, survivor: Lead, merged: Lead) -> None:
            raise MergeError("the campaign of this lead is being closed; merge tomorrow")

    accord_runtime.pm.register(Refuser(), name="refuser")
    with pytest.raises(MergeError, match="merge tomorrow"):  # noqa: SIM117
        with as_user(network["bea"]) as session:
            merge_leads(session, session.get(Lead, fair_id), session.get(Lead, web_id))
    with system() as session:
        assert session.get(Lead, web_id).state == "contacted"
        assert session.scalar(select(Opportunity.lead_id)) == web_id
        assert session.get(Lead, fair_id).email == ""


@pytest.mark.parametrize(
    ("login", "error"),
    [("sam", "TransitionNotAllowedError"), ("sue", "AccessDeniedError")],
)
def test_who_may_not_merge(network, pair, as_user, login, error):
    fair_id, web_id = pair

    def merge() -> None:
        with as_user(network[login]) as session:
            fair, web = session.get(Lead, fair_id), session.get(Lead, web_id)
            if fair is None or web is None:
                raise AccessDeniedError("cannot see the leads")
            merge_leads(session, fair, web)

    with pytest.raises((AccessDeniedError, TransitionNotAllowedError)) as caught:
        merge()
    assert type(caught.value).__name__ == error


def test_a_lead_cannot_be_merged_twice_or_into_itself(network, pair, system):
    fair_id, web_id = pair
    with system() as session:
        fair, web = session.get(Lead, fair_id), session.get(Lead, web_id)
        with pytest.raises(MergeError, match="into itself"):
            merge_leads(session, fair, fair)
        merge_leads(session, fair, web)
        with pytest.raises(MergeError, match=f"was merged into #{fair_id} already"):
            merge_leads(session, fair, web)


def test_the_score_follows_the_fields_and_the_engagement(network, pair, system, touches):
    fair_id, _ = pair
    with system() as session:
        fair = session.get(Lead, fair_id)
        # company 15 + trade fair 20; touches are counted when asked for.
        assert fair.score == 35
        recompute_score(session, fair)
        assert (fair.touches, fair.score) == (1, 40)
        fair.email = "anna@castello.example"
        session.flush()
        assert fair.score == 50  # a field changed: the score follows at once
        touches.by_lead[fair_id] = 10
        recompute_score(session, fair)
        assert fair.score == 75  # 15 + 20 + 10, and touches capped at 30 points
    with system() as session:
        assert session.get(Lead, fair_id).score == 75


def test_qualifying_keeps_the_score(network, pair, as_user):
    fair_id, _ = pair
    with as_user(network["tom"]) as session:
        lead = session.get(Lead, fair_id)
        before = lead.score
        qualify_lead(session, lead)
        assert lead.score == before
