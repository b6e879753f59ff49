"""The lead and opportunity forms over HTTP: a lead typed in goes through the same service
as one from the web form or an import (normalised, assigned, scored, its story started), a
wrong entry is named next to its field, a lead that is already open is linked instead of
saved twice, and the access rows decide who may create a lead for whom. An opportunity's
form changes what does not depend on its stage; the stage moves on the pipeline."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from accord.api import Partner, PartnerKind
from accord.plugins.leads.api import Lead, LeadActivity, Opportunity
from accord.testing import post_form as post
from accord.testing import signed_in_client

from .conftest import LEADS_SETTINGS, PASSWORD

NEW = "/views/leads/new"


@pytest.fixture
def sign_in(accord_runtime, network):
    def signed_in(login: str) -> TestClient:
        return signed_in_client(accord_runtime, login, PASSWORD)

    return signed_in


def message_of(page: str, name: str) -> str:
    found = re.search(rf'<small id="field-{name}-error" class="field-error">([^<]*)</small>', page)
    return unescape(found[1]) if found else ""


def problem_of(page: str) -> str:
    found = re.search(r'<div id="record-form-problem"[^>]*>(.*?)</div>', page, re.DOTALL)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found[1])).split()) if found else ""


def lead_count(system) -> int:
    with system() as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


ANNA = {
    "first_name": "Anna",
    "last_name": "Rossi",
    "company": "Bar Castello",
    "email": "Anna@Castello.example",
    "phone": "02 1234 5678",
    "country": "it",
    "channel": "trade_fair",
    "product_line": "grinders",
}


# --- a new lead -----------------------------------------------------------------------------


def test_a_lead_typed_in_goes_through_the_service(sign_in, network, system):
    sam = sign_in("sam")
    form = sam.get(NEW)
    assert form.status_code == 200
    assert 'value="trade_fair"' in form.text  # the channels of [leads] channels

    made = post(sam, NEW, owner_id=str(network["sam"].id), **ANNA)

    assert made.status_code == 303, problem_of(made.text)
    lead_id = int(made.headers["location"].rsplit("/", 1)[1])
    page = sam.get(made.headers["location"]).text
    assert "Anna Rossi (Bar Castello) was created." in page
    assert re.search(r'data-field="channel">\s*<dt>Channel</dt>\s*<dd>Trade fair</dd>', page)
    with system() as session:
        lead = session.get_one(Lead, lead_id)
        assert (lead.owner_id, lead.team_id) == (network["sam"].id, network.teams["North"].id)
        assert (lead.country, lead.state, lead.email_key) == ("IT", "new", "anna@castello.example")
        assert lead.phone_key == "+390212345678"
        assert lead.score > 0
        [story] = session.scalars(select(LeadActivity).where(LeadActivity.lead_id == lead_id))
        assert story.subject == "Lead created from trade fair"


def product_line_input(page: str) -> str:
    found = re.search(r'<(select|input)[^>]*name="product_line"[^>]*>', page)
    assert found, "the form has no product line field"
    return found[0]


def test_the_product_lines_of_the_settings_are_offered(sign_in):
    page = sign_in("sam").get(NEW).text
    assert product_line_input(page).startswith("<select")
    assert 'value="grinders"' in page


@pytest.mark.parametrize(
    "leads_settings_text",
    [LEADS_SETTINGS.replace('product_lines = ["espresso_machines", "grinders", "service"]', "")],
)
def test_without_product_lines_in_the_settings_any_is_typed_in(sign_in, network, system):
    """``[leads] product_lines`` left empty means any product line: the form asks for it
    as text instead of offering an empty list to pick from."""
    sam = sign_in("sam")
    field = product_line_input(sam.get(NEW).text)
    assert field.startswith("<input")
    assert 'type="text"' in field

    made = post(sam, NEW, owner_id=str(network["sam"].id), **{**ANNA, "product_line": "roasters"})

    assert made.status_code == 303, problem_of(made.text)
    with system() as session:
        lead = session.get_one(Lead, int(made.headers["location"].rsplit("/", 1)[1]))
        assert lead.product_line == "roasters"


def test_without_an_owner_the_assignment_rules_choose(sign_in, network, system):
    bea = sign_in("bea")  # the back office types in a lead from the web site's chat
    form = bea.get(NEW).text
    assert 'name="owner_id" value="" checked' in form  # nobody: the rules will choose
    sam_form = sign_in("sam").get(NEW).text
    assert f'name="owner_id" value="{network["sam"].id}" checked' in sam_form

    made = post(bea, NEW, **{**ANNA, "channel": "web_form", "country": ""})

    assert made.status_code == 303, problem_of(made.text)
    with system() as session:
        lead = session.scalars(select(Lead)).one()
        assert lead.team_id == network.teams["North"].id  # "Web forms to the north"
        assert lead.owner_id in (network["sam"].id, network["nina"].id)


def test_a_wrong_entry_is_named_next_to_its_field_and_nothing_is_written(sign_in, system):
    sam = sign_in("sam")

    wrong = post(sam, NEW, **{**ANNA, "country": "I1"})

    assert wrong.status_code == 422
    assert message_of(wrong.text, "country") == "Use the two-letter ISO code, e.g. 'IT'."
    assert 'value="Bar Castello"' in wrong.text  # what was typed is kept
    assert lead_count(system) == 0

    nobody = post(sam, NEW, channel="phone", notes="called, left no name")
    assert nobody.status_code == 422
    assert problem_of(nobody.text) == (
        "Give at least a name, a company, an e-mail or a phone. Nothing was saved."
    )
    assert lead_count(system) == 0


def test_an_open_lead_that_looks_the_same_is_linked_not_saved_twice(
    sign_in, network, make_lead, system
):
    existing = make_lead(network["sam"], first_name="Anna", email="anna@castello.example")
    sam = sign_in("sam")

    again = post(sam, NEW, **ANNA)

    assert again.status_code == 422
    assert message_of(again.text, "email") == "An open lead already has this: Anna."
    assert problem_of(again.text).startswith("This looks like a lead that is already open.")
    assert f'<a href="/views/leads/{existing}">Anna (New)</a>' in again.text
    assert lead_count(system) == 1
    with system() as session:  # nor was the open lead touched
        assert session.get_one(Lead, existing).company == ""
        stories = select(func.count()).where(LeadActivity.lead_id == existing)
        assert session.scalar(stories) == 1


def test_a_duplicate_the_user_may_not_see_is_not_revealed(sign_in, network, make_lead, system):
    make_lead(network["sue"], email="anna@castello.example")  # in the South, not Sam's

    made = post(sign_in("sam"), NEW, owner_id=str(network["sam"].id), **ANNA)

    assert made.status_code == 303, problem_of(made.text)
    assert lead_count(system) == 2


def test_an_agent_creates_leads_for_its_sub_agency_but_not_above_it(sign_in, network, system):
    ugo = sign_in("ugo")  # Agenzia Rossi; Gino is its sub-agency
    for_gino = post(ugo, NEW, owner_id=str(network["gino"].id), **ANNA)
    assert for_gino.status_code == 303, problem_of(for_gino.text)
    with system() as session:
        lead = session.scalars(select(Lead)).one()
        assert lead.team_id == network.teams["Sub-agenzia Bianchi"].id

    gino = sign_in("gino")
    refused = post(gino, NEW, owner_id=str(network["ugo"].id), company="Bar Duomo", channel="visit")
    assert refused.status_code == 403
    assert "Your roles do not let you create leads like this one" in problem_of(refused.text)
    assert lead_count(system) == 1


def test_marketing_may_not_create_leads(sign_in):
    max_ = sign_in("max")
    assert 'href="/views/leads/new"' not in max_.get("/views/leads").text
    assert max_.get(NEW).status_code == 403


def test_editing_a_lead_checks_it_and_moves_it_with_its_owner(sign_in, network, make_lead, system):
    lead_id = make_lead(network["sam"], company="Bar Duomo", country="IT")
    mia = sign_in("mia")
    path = f"/views/leads/{lead_id}/edit"
    form = mia.get(path)
    version = re.search(r'name="_version" value="(\d+)"', form.text)[1]

    wrong = post(mia, path, _version=version, company="Bar Duomo", country="I1", channel="phone")
    assert wrong.status_code == 422
    assert message_of(wrong.text, "country") == "Use the two-letter ISO code, e.g. 'IT'."

    moved = post(
        mia,
        path,
        _version=version,
        company="Bar Duomo",
        country="it",
        channel="phone",
        owner_id=str(network["sue"].id),
    )
    assert moved.status_code == 303, problem_of(moved.text)
    with system() as session:
        lead = session.get_one(Lead, lead_id)
        assert (lead.country, lead.owner_id) == ("IT", network["sue"].id)
        assert lead.team_id == network.teams["South"].id


# --- an opportunity -------------------------------------------------------------------------


@pytest.fixture
def deal_id(network, system) -> int:
    with system() as session:
        customer = Partner(
            kind=PartnerKind.COMPANY,
            name="Bar Castello",
            owner_id=network["sam"].id,
            team_id=network.teams["North"].id,
        )
        session.add(customer)
        session.flush()
        deal = Opportunity(
            name="Two grinders",
            partner_id=customer.id,
            owner_id=network["sam"].id,
            team_id=network.teams["North"].id,
            state="proposal",
            expected_revenue=Decimal("9000"),
        )
        session.add(deal)
        session.flush()
        return deal.id


def test_an_opportunity_form_changes_what_does_not_depend_on_its_stage(sign_in, deal_id, system):
    sam = sign_in("sam")
    path = f"/views/opportunities/{deal_id}/edit"
    form = sam.get(path)
    assert form.status_code == 200
    assert 'name="state"' not in form.text  # the stage moves on the pipeline
    version = re.search(r'name="_version" value="(\d+)"', form.text)[1]
    owner = re.search(r'name="owner_id" value="(\d+)"', form.text)[1]

    wrong = post(
        sam, path, _version=version, expected_revenue="-5", probability="150", owner_id=owner
    )
    assert wrong.status_code == 422
    assert message_of(wrong.text, "expected_revenue") == "An expected revenue cannot be negative."
    assert message_of(wrong.text, "probability") == "Between 0 and 100 (this is 150)."

    saved = post(
        sam,
        path,
        _version=version,
        expected_revenue="12500",
        probability="60",
        expected_close="2027-03-31",
        owner_id=owner,
    )
    assert saved.status_code == 303, problem_of(saved.text)
    with system() as session:
        deal = session.get_one(Opportunity, deal_id)
        assert (deal.expected_revenue, deal.probability) == (Decimal("12500.00"), 60)
        assert (deal.expected_close.isoformat(), deal.state) == ("2027-03-31", "proposal")


def test_a_manager_hands_a_deal_to_another_team(sign_in, network, deal_id, system):
    mia = sign_in("mia")
    path = f"/views/opportunities/{deal_id}/edit"
    version = re.search(r'name="_version" value="(\d+)"', mia.get(path).text)[1]

    handed = post(
        mia, path, _version=version, expected_revenue="9000", owner_id=str(network["sue"].id)
    )

    assert handed.status_code == 303, problem_of(handed.text)
    with system() as session:
        deal = session.get_one(Opportunity, deal_id)
        assert (deal.owner_id, deal.team_id) == (network["sue"].id, network.teams["South"].id)


def test_opportunities_are_not_created_with_a_form(sign_in, deal_id):
    sam = sign_in("sam")
    assert 'href="/views/opportunities/new"' not in sam.get("/views/opportunities").text
    assert sam.get("/views/opportunities/new").status_code == 404


def test_the_guides_lead_form_example_is_the_plugins_code():
    """docs/plugin-development.md shows create_lead_from_form as plugins/leads/forms.py has
    it (less its docstring); the tests above show that it works."""
    root = Path(__file__).parents[2]
    guide = (root / "docs" / "plugin-development.md").read_text()
    section = guide.split("**Forms through the service.**", 1)[1].split("**Tests.**", 1)[0]
    [shown] = re.findall(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    source = (root / "plugins" / "leads" / "forms.py").read_text()
    without_docstrings = re.sub(r'\n    """.*?"""', "", source, flags=re.DOTALL)
    assert shown in without_docstrings
