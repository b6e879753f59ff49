"""The role matrix of leads and opportunities: each hat sees and changes the leads of its
place in the sales network, on SQLite and PostgreSQL, through the access table alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accord.api import AccessDeniedError
from accord.plugins.leads.api import Lead, Opportunity

OWNERS = ("sam", "nina", "sue", "ugo", "gino", "dana")
EVERY_LEAD = {*OWNERS, "nobody"}


@pytest.fixture
def leads(network, make_lead) -> dict[str, int]:
    """One lead per owner, and one nobody has yet; by owner's login."""
    ids = {login: make_lead(network[login], company=f"Lead of {login}") for login in OWNERS}
    ids["nobody"] = make_lead(None, company="Lead of nobody")
    return ids


def visible(as_user, user, leads) -> set[str]:
    by_id = {lead_id: login for login, lead_id in leads.items()}
    with as_user(user) as session:
        return {by_id[lead_id] for lead_id in session.scalars(select(Lead.id))}


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ("sam", {"sam"}),
        ("sue", {"sue"}),
        # An agent sees its own leads and those of the sub-agents of its agency...
        ("ugo", {"ugo", "gino"}),
        # ...a sub-agent only its own.
        ("gino", {"gino"}),
        ("dana", {"dana"}),
        ("mia", {"sam", "nina", "sue"}),
        ("bea", EVERY_LEAD),
        ("tom", EVERY_LEAD),
        ("max", EVERY_LEAD),
        ("ada", EVERY_LEAD),
    ],
)
def test_each_hat_sees_the_leads_of_its_place_in_the_network(
    network, leads, as_user, login, expected
):
    assert visible(as_user, network[login], leads) == expected


def test_agent_cannot_see_other_agents_leads(network, leads, as_user):
    with as_user(network["gino"]) as session:
        assert session.get(Lead, leads["ugo"]) is None


@pytest.mark.parametrize(
    ("login", "target", "allowed"),
    [
        ("sam", "sam", True),
        ("sam", "sue", False),
        ("ugo", "gino", True),
        ("gino", "ugo", False),
        ("mia", "sue", True),
        ("mia", "dana", False),
        ("bea", "dana", True),
        ("tom", "nobody", True),
        ("max", "sam", False),  # marketing reads, never changes
    ],
)
def test_who_may_change_a_lead(network, leads, as_user, login, target, allowed):
    def change() -> None:
        with as_user(network[login]) as session:
            lead = session.scalars(select(Lead).where(Lead.id == leads[target])).one_or_none()
            if lead is None:
                raise AccessDeniedError("not visible")
            lead.notes = f"called by {login}"

    if allowed:
        change()
    else:
        with pytest.raises(AccessDeniedError):
            change()


def test_salesperson_cannot_hand_a_lead_to_another_team(network, leads, as_user):
    def hand_over() -> None:
        with as_user(network["sam"]) as session:
            lead = session.get(Lead, leads["sam"])
            lead.owner_id = network["sue"].id
            lead.team_id = network.teams["South"].id

    with pytest.raises(AccessDeniedError, match="outside what its rules allow"):
        hand_over()


def test_opportunities_follow_the_same_network(network, system, as_user):
    with system() as session:
        for login in ("sam", "sue", "ugo"):
            from accord.api import Partner, PartnerKind

            partner = Partner(kind=PartnerKind.COMPANY, name=f"Customer of {login}")
            session.add(partner)
            session.flush()
            opportunity = Opportunity(
                name=f"Deal of {login}",
                partner_id=partner.id,
                owner_id=network[login].id,
                team_id=network[login].team_id,
                state="qualification",
            )
            session.add(opportunity)
    seen = {}
    for login in ("sam", "mia", "ugo", "bea", "dana"):
        with as_user(network[login]) as session:
            seen[login] = set(session.scalars(select(Opportunity.name)))
    assert seen["sam"] == {"Deal of sam"}
    assert seen["mia"] == {"Deal of sam", "Deal of sue"}
    assert seen["ugo"] == {"Deal of ugo"}
    assert seen["bea"] == {"Deal of sam", "Deal of sue", "Deal of ugo"}
    assert seen["dana"] == set()
