"""From lead to deal: telemarketing or the back office qualifies (the roles are a setting),
a disqualification keeps its reason from the company's list, and a qualified lead converts
into a customer, its contact and an opportunity in one transaction, told on the customer's
timeline; the weighted forecast adds up the open pipeline each user may see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accord.api import (
    AccessDeniedError,
    Activity,
    InvalidTransitionError,
    Partner,
    PartnerKind,
    TransitionBlockedError,
    TransitionNotAllowedError,
    runtime_of,
    timeline,
)
from accord.plugins.leads.api import (
    Lead,
    LeadInputError,
    Opportunity,
    convert_lead,
    disqualify_lead,
    forecast,
    qualify_lead,
)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def lead_id(network, make_lead) -> int:
    return make_lead(
        network["sam"],
        first_name="Anna",
        last_name="Rossi",
        company="Bar Castello",
        email="anna@castello.example",
        country="IT",
        city="Milano",
        product_line="grinders",
        channel="trade_fair",
    )


@pytest.mark.parametrize("login", ["tom", "bea", "mia"])
def test_telemarketing_back_office_and_management_qualify(network, lead_id, as_user, login):
    with as_user(network[login]) as session:
        lead = session.get(Lead, lead_id)
        qualify_lead(session, lead)
        assert lead.state == "qualified"


def test_a_salesperson_does_not_qualify_by_default(network, lead_id, as_user):
    with as_user(network["sam"]) as session, pytest.raises(TransitionBlockedError) as caught:
        qualify_lead(session, session.get(Lead, lead_id))
    assert caught.value.reason == (
        "leads are qualified by telemarketer or back office or sales manager"
    )


@pytest.mark.parametrize("leads_settings_text", ['[leads]\nqualifying_roles = ["salesperson"]\n'])
def test_the_company_decides_who_qualifies(network, lead_id, as_user, leads_settings_text):
    with as_user(network["sam"]) as session:
        qualify_lead(session, session.get(Lead, lead_id))
    with as_user(network["tom"]) as session:
        lead = session.get(Lead, lead_id)
        with pytest.raises(TransitionBlockedError):
            disqualify_lead(session, lead, "spam")


def test_disqualifying_needs_a_reason_from_the_list_and_keeps_it(network, lead_id, as_user):
    with as_user(network["tom"]) as session, pytest.raises(TransitionBlockedError) as caught:
        disqualify_lead(session, session.get(Lead, lead_id), "just because")
    assert "choose one of the reasons: no budget, no need" in caught.value.reason
    with as_user(network["tom"]) as session:
        lead = session.get(Lead, lead_id)
        disqualify_lead(session, lead, "no budget")
    with as_user(network["sam"]) as session:
        lead = session.get(Lead, lead_id)
        assert (lead.state, lead.disqualify_reason) == ("disqualified", "no budget")
        [history] = runtime_of(session).workflows.history(session, lead)
        assert history.inputs == '{"reason": "no budget"}'


def qualified(as_user, network, lead_id) -> None:
    with as_user(network["tom"]) as session:
        qualify_lead(session, session.get(Lead, lead_id))


def test_conversion_makes_customer_contact_and_opportunity_at_once(
    network, lead_id, as_user, system
):
    qualified(as_user, network, lead_id)
    with as_user(network["sam"]) as session:
        lead = session.get(Lead, lead_id)
        made = convert_lead(
            session,
            lead,
            expected_revenue="12,500.00",
            expected_close=dt.date(2027, 3, 31),
            stage="proposal",
        )
        partner_id, opportunity_id = made.partner.id, made.opportunity.id
    with as_user(network["sam"]) as session:
        lead = session.get(Lead, lead_id)
        company = session.get(Partner, partner_id)
        [contact] = session.scalars(select(Partner).where(Partner.company_id == partner_id))
        deal = session.get(Opportunity, opportunity_id)
        assert lead.state == "converted"
        assert (lead.partner_id, lead.contact_id) == (company.id, contact.id)
        assert (company.kind, company.name, company.owner_id) == (
            PartnerKind.COMPANY,
            "Bar Castello",
            network["sam"].id,
        )
        assert company.addresses[0].city == "Milano"
        assert (contact.name, contact.email) == ("Anna Rossi", "anna@castello.example")
        assert deal.state == "proposal"
        assert deal.name == "Bar Castello: grinders"
        assert deal.expected_revenue == Decimal("12500.00")
        assert deal.owner_id == network["sam"].id
        assert deal.lead_id == lead_id
        # The customer's timeline tells the lead's story, newest first.
        subjects = [entry.subject for entry in timeline(session, partner_id)]
        assert subjects[0] == "Lead converted: opportunity Bar Castello: grinders"
        assert "Lead created from trade fair" in subjects


def test_conversion_can_link_a_customer_that_exists(network, lead_id, as_user, system):
    with system() as session:
        existing = Partner(
            kind=PartnerKind.COMPANY,
            name="Castello Group",
            owner_id=network["sam"].id,
            team_id=network["sam"].team_id,
        )
        session.add(existing)
        session.flush()
        existing_id = existing.id
    qualified(as_user, network, lead_id)
    with as_user(network["sam"]) as session:
        made = convert_lead(session, session.get(Lead, lead_id), partner_id=existing_id)
        assert made.partner.id == existing_id
        assert made.contact.company_id == existing_id
    with system() as session:
        assert count(session, Partner) == 2  # the company that was there and the contact


def test_a_failed_conversion_leaves_nothing_behind(network, lead_id, as_user, system):
    with pytest.raises(InvalidTransitionError, match="only a qualified lead converts"):  # noqa: SIM117
        with as_user(network["sam"]) as session:
            convert_lead(session, session.get(Lead, lead_id))
    qualified(as_user, network, lead_id)
    with pytest.raises(LeadInputError, match="probability"), as_user(network["sam"]) as session:
        convert_lead(session, session.get(Lead, lead_id), probability=140)
    with pytest.raises(LeadInputError, match="no customer #999 you may see"):  # noqa: SIM117
        with as_user(network["sam"]) as session:
            convert_lead(session, session.get(Lead, lead_id), partner_id=999)
    with system() as session:
        assert (count(session, Partner), count(session, Opportunity)) == (0, 0)
        assert count(session, Activity) == 0
        assert session.get(Lead, lead_id).state == "qualified"


def test_a_user_who_may_not_change_the_lead_cannot_convert_it(network, lead_id, as_user, system):
    qualified(as_user, network, lead_id)
    with pytest.raises((AccessDeniedError, TransitionNotAllowedError)):  # noqa: SIM117
        with as_user(network["max"]) as session:  # marketing reads, never converts
            convert_lead(session, session.get(Lead, lead_id))
    with system() as session:
        assert count(session, Opportunity) == 0


def test_the_board_cannot_convert_behind_the_services_back(network, lead_id, as_user):
    qualified(as_user, network, lead_id)
    with as_user(network["sam"]) as session:
        lead = session.get(Lead, lead_id)
        [convert] = [
            step
            for step in runtime_of(session).workflows.available(session, lead)
            if step.name == "convert"
        ]
        assert not convert.allowed
        assert "conversion form" in convert.reason


def deal(session, owner, stage, revenue, probability=None, product_line="grinders"):
    customer = Partner(kind=PartnerKind.COMPANY, name=f"Customer {revenue}")
    session.add(customer)
    session.flush()
    session.add(
        Opportunity(
            name=f"Deal {revenue}",
            partner_id=customer.id,
            owner_id=owner.id,
            team_id=owner.team_id,
            state=stage,
            expected_revenue=Decimal(revenue),
            probability=probability,
            product_line=product_line,
        )
    )


def test_the_weighted_forecast_per_stage_of_what_each_user_sees(network, as_user, system):
    with system() as session:
        deal(session, network["sam"], "qualification", "1000")  # 20 % by the stage
        deal(session, network["sam"], "proposal", "2000", probability=10)  # its own 10 %
        deal(session, network["sue"], "negotiation", "4000")  # 75 %
        deal(session, network["sue"], "won", "8000")  # closed: not in the forecast
        deal(session, network["sue"], "lost", "16000")
        deal(session, network["sue"], "proposal", "500", product_line="service")  # 50 %
    with as_user(network["mia"]) as session:
        seen = forecast(session)
        assert [(s.stage, s.count, s.revenue, s.weighted) for s in seen.stages] == [
            ("qualification", 1, Decimal("1000.00"), Decimal("200.00")),
            ("proposal", 2, Decimal("2500.00"), Decimal("450.00")),
            ("negotiation", 1, Decimal("4000.00"), Decimal("3000.00")),
        ]
        assert seen.weighted == Decimal("3650.00")
        assert forecast(session, product_line="service").weighted == Decimal("250.00")
    with as_user(network["sam"]) as session:
        assert forecast(session).weighted == Decimal("400.00")
        assert forecast(session).count == 2
