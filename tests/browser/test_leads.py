"""Tom, in telemarketing, calls a lead from a trade fair and qualifies it. Sam, the
salesperson it was assigned to, converts it: he fills in the opportunity, lands on the new
customer's page with the deal and the lead's story on it, then finds the deal on the
pipeline board and moves it on to negotiation. Sam also types in a lead he met at a fair;
typing it in again takes him to the one he made instead of saving it twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accord.api import Principal
from accord.core.db import Database
from accord.core.security import create_team
from accord.plugins.leads.api import create_lead


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["leads"]


@pytest.fixture
def accord_config(accord_config: Path) -> Path:
    with accord_config.open("a") as config:
        config.write("\n[jobs]\nin_process = false\n")
    return accord_config


@pytest.fixture
def lead_id(accord_db: Database, accord_make_user) -> int:
    accord_make_user("tom", "telemarketer")
    sam = accord_make_user("sam", "salesperson")
    with accord_db.session(Principal.system("test")) as session:
        from accord.api import TeamKind, User

        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        session.get(User, sam.id).team_id = north.id
        session.flush()
        result = create_lead(
            session,
            {
                "first_name": "Anna",
                "last_name": "Rossi",
                "company": "Bar Castello",
                "email": "anna@castello.example",
                "phone": "+39 02 1234 5678",
                "country": "IT",
                "city": "Milano",
                "channel": "trade_fair",
                "product_line": "grinders",
            },
            owner_id=sam.id,
        )
        return result.lead.id


def test_qualify_convert_and_follow_the_deal(page: Page, log_in, lead_id: int) -> None:
    # Tom qualifies the lead from its page.
    log_in("tom")
    page.goto("/views/leads")
    page.get_by_role("link", name=re.compile("Bar Castello")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Anna Rossi")
    page.get_by_role("button", name="Qualify", exact=True).click()
    expect(page.locator(".record-state")).to_contain_text("Qualified")
    page.context.clear_cookies()

    # Sam converts it.
    log_in("sam")
    page.goto(f"/views/leads/{lead_id}")
    page.get_by_label("Opportunity", exact=True).fill("Bar Castello: two grinders")
    page.get_by_label("Expected revenue (EUR)").fill("12500")
    page.get_by_label("Stage", exact=True).select_option("proposal")
    page.get_by_role("button", name="Convert to customer and opportunity").click()

    # The new customer's page: the deal and the lead's story.
    expect(page).to_have_url(re.compile(r"/partners/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bar Castello")
    expect(page.locator("body")).to_contain_text("Bar Castello: two grinders")
    expect(page.locator("body")).to_contain_text("Lead converted: opportunity")
    expect(page.locator("body")).to_contain_text("Lead created from trade fair")

    # The pipeline board: the card waits in Proposal, and moves on.
    page.goto("/boards/leads.opportunity")
    proposal = page.locator('.board-column[data-state="proposal"]')
    card = proposal.locator(".board-card", has_text="Bar Castello: two grinders")
    expect(card).to_be_visible()
    card.get_by_role("button", name="Negotiate", exact=True).click()
    negotiation = page.locator('.board-column[data-state="negotiation"]')
    expect(negotiation).to_contain_text("Bar Castello: two grinders")


def test_a_lead_typed_in_and_typed_in_again(page: Page, log_in, lead_id: int) -> None:
    log_in("sam")
    page.goto("/views/leads")
    page.get_by_role("button", name="New", exact=True).click()
    page.get_by_label("First name").fill("Marco")
    page.get_by_label("Company").fill("Bar Duomo")
    page.get_by_label("E-mail").fill("marco@duomo.example")
    page.get_by_label("Country").fill("it")
    page.get_by_label("Channel").select_option("trade_fair")
    page.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"/views/leads/\d+$"))
    expect(page.locator("body")).to_contain_text("Marco (Bar Duomo) was created.")
    expect(page.locator("body")).to_contain_text("Lead created from trade fair")
    first = page.url

    page.goto("/views/leads/new")
    page.get_by_label("Company").fill("Bar Duomo")
    page.get_by_label("E-mail").fill("MARCO@duomo.example")
    page.get_by_label("Channel").select_option("phone")
    page.get_by_role("button", name="Create").click()

    expect(page.get_by_role("alert")).to_contain_text("already open")
    page.get_by_role("link", name=re.compile(r"Marco \(Bar Duomo\)")).click()
    expect(page).to_have_url(first)
