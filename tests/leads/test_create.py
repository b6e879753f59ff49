"""Creating leads: normalised, deduplicated, assigned by the rules of accord.toml, and
refused with a message naming the field when the data is wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accord.plugins.leads.api import (
    Lead,
    LeadActivity,
    LeadInputError,
    create_lead,
    find_duplicates,
)


def lead_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Lead))


def test_new_lead_is_normalised_scored_and_logged(network, system):
    with system() as session:
        result = create_lead(
            session,
            {
                "first_name": " Anna ",
                "last_name": "Rossi",
                "company": "Castello S.r.l.",
                "email": "Anna.Rossi@Castello.IT",
                "phone": "02 1234 5678",
                "country": "it",
                "channel": "trade_fair",
            },
            assign=False,
        )
        lead = result.lead
        assert result.created
        assert lead.state == "new"
        assert lead.first_name == "Anna"
        assert lead.country == "IT"
        assert lead.email_key == "anna.rossi@castello.it"
        assert lead.phone_key == "+390212345678"
        assert lead.name_key == "castello|anna rossi"
        # email 10 + phone 10 + company 15 + trade fair 20
        assert lead.score == 55
        subjects = session.scalars(
            select(LeadActivity.subject).where(LeadActivity.lead_id == lead.id)
        ).all()
        assert subjects == ["Lead created from trade fair"]


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ({"email": "  ANNA.ROSSI@castello.it"}, "email"),
        ({"phone": "+39 02 12345678"}, "phone"),
        ({"company": "CASTELLO srl", "first_name": "anna", "last_name": "ROSSI"}, "name"),
    ],
)
def test_second_contact_of_the_same_person_matches_the_open_lead(network, system, second, reason):
    with system() as session:
        first = create_lead(
            session,
            {
                "first_name": "Anna",
                "last_name": "Rossi",
                "company": "Castello Srl",
                "email": "anna.rossi@castello.it",
                "phone": "02 1234 5678",
                "country": "IT",
                "channel": "trade_fair",
            },
            assign=False,
        ).lead
        again = create_lead(
            session,
            {"channel": "web_form", "job_title": "Buyer", "notes": "wants a quote", **second},
        )
        assert again.matched
        assert again.lead.id == first.id
        assert reason in again.duplicates[0].reasons
        assert lead_count(session) == 1
        assert first.job_title == "Buyer"  # a blank field is filled in
        assert "wants a quote" in first.notes
        subjects = session.scalars(
            select(LeadActivity.subject).where(LeadActivity.lead_id == first.id)
        ).all()
        assert "Got in touch again via web form" in subjects


def test_different_people_of_one_company_are_not_duplicates(network, system):
    with system() as session:
        create_lead(session, {"company": "Castello", "first_name": "Anna", "channel": "phone"})
        second = create_lead(
            session, {"company": "Castello", "first_name": "Bruno", "channel": "phone"}
        )
        assert second.created
        assert find_duplicates(session, second.lead) == []


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"channel": "carrier_pigeon", "company": "X"}, "channel", "unknown channel"),
        ({"channel": "phone", "email": "not-an-address"}, "email", "not an e-mail address"),
        ({"channel": "phone", "company": "X", "country": "Italy"}, "country", "at most 2"),
        ({"channel": "phone"}, "lead", "at least a name"),
        ({"channel": "phone", "company": "X", "colour": "red"}, "colour", "unknown field"),
        ({"channel": "phone", "company": "X", "product_line": "tea"}, "product_line", "unknown"),
    ],
)
def test_bad_lead_data_is_refused_naming_the_field_and_changes_nothing(
    network, system, data, field, words
):
    with system() as session, pytest.raises(LeadInputError) as caught:
        create_lead(session, data)
    assert caught.value.field == field
    assert words in str(caught.value)
    with system() as session:
        assert lead_count(session) == 0


def test_rules_assign_by_country_postcode_and_channel_in_order(network, system):
    with system() as session:
        nordic = create_lead(
            session, {"company": "Fjord AB", "country": "SE", "channel": "web_form"}
        )
        milan = create_lead(
            session,
            {"company": "Bar Duomo", "country": "IT", "postcode": "20121", "channel": "phone"},
        )
        rome = create_lead(
            session,
            {"company": "Bar Roma", "country": "IT", "postcode": "00184", "channel": "phone"},
        )
        assert nordic.assignment.rule == "Nordics to the distributor"  # first rule wins
        assert nordic.lead.owner_id == network["dana"].id
        assert nordic.lead.team_id == network.teams["Nordic Distribution"].id
        assert milan.lead.owner_id == network["ugo"].id
        assert rome.assignment is None
        assert rome.lead.owner_id is None


def test_round_robin_takes_turns_across_many_leads_in_one_transaction(network, system):
    sam, nina = network["sam"].id, network["nina"].id
    with system() as session:
        owners = [
            create_lead(session, {"company": f"Web {n}", "channel": "web_form"}).lead.owner_id
            for n in range(5)
        ]
    assert owners == [sam, nina, sam, nina, sam]
    with system() as session:  # the next transaction goes on where the last one stopped
        following = create_lead(session, {"company": "Web 5", "channel": "landing_page"})
        assert following.lead.owner_id == nina


def test_an_explicit_owner_skips_the_rules(network, system):
    with system() as session:
        result = create_lead(
            session, {"company": "Web", "channel": "web_form"}, owner_id=network["sue"].id
        )
        assert result.assignment is None
        assert result.lead.owner_id == network["sue"].id
        assert result.lead.team_id == network.teams["South"].id


def test_nothing_is_committed_by_create_lead(network, system):
    def failing_import() -> None:
        with system() as session:
            create_lead(session, {"company": "Web", "channel": "web_form"})
            raise RuntimeError("the import failed on a later row")

    with pytest.raises(RuntimeError):
        failing_import()
    with system() as session:
        assert lead_count(session) == 0
