"""The global search box (/search): every provider answers, grouped under its title; each hat
finds only what it may read; a provider that fails is logged and the others still answer; a
query too short finds nothing; htmx gets the dropdown's fragment, a browser the whole page."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from accord.api import SearchHit, SearchProvider, hookimpl
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.security import TeamKind, create_team, create_user
from accord.ui import search

from .conftest import PASSWORD, log_in

SYSTEM = Principal.system("test")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def customers(accord_db: Database) -> None:
    """Sam (a salesperson of the north team) owns the Acme customers of Milan and Turin,
    Sue (south) the Acme of Naples; Bea works in the back office. Eight more Acme branches
    have no owner, so that the back office finds more than a provider may show."""
    with accord_db.session(SYSTEM) as session:
        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        south = create_team(session, "South", TeamKind.DIRECT_SALES)
        office = create_team(session, "Back office", TeamKind.BACK_OFFICE)
        sam = create_user(session, "sam", PASSWORD, roles=["salesperson"], team=north)
        sue = create_user(session, "sue", PASSWORD, roles=["salesperson"], team=south)
        create_user(session, "bea", PASSWORD, roles=["back_office"], team=office)
        owned = (
            ("Acme Milan", "milan@acme.example", sam, north),
            ("Acme Turin", "turin@acme.example", sam, north),
            ("Acme Naples", "naples@acme.example", sue, south),
        )
        for name, email, owner, team in owned:
            session.add(
                Partner(
                    kind=PartnerKind.COMPANY,
                    name=name,
                    email=email,
                    owner_id=owner.id,
                    team_id=team.id,
                )
            )
        for n in range(8):
            session.add(
                Partner(kind=PartnerKind.COMPANY, name=f"Acme branch {n}", email=f"b{n}@x.example")
            )
        session.add(Partner(kind=PartnerKind.PERSON, name="Zoe Quinn", email="zq@ACME.example"))


def signed_in(make_client: Callable[..., TestClient], login: str) -> TestClient:
    client = make_client()
    assert log_in(client, login).status_code == 303
    return client


def groups(page: str) -> dict[str, list[str]]:
    """Each group's title and the titles of its hits, in the page's order."""
    found: dict[str, list[str]] = {}
    for section in re.findall(r'<section class="search-group".*?</section>', page, re.S):
        title = re.search(r"<h2[^>]*>(.*?)</h2>", section, re.S)
        assert title is not None
        hits = re.findall(r'<li><a href="[^"]*">(.*?)</a>', section)
        found[html.unescape(title[1])] = [html.unescape(hit) for hit in hits]
    return found


class Providers:
    """Search providers a test adds before the app is built."""

    def __init__(self, *providers: SearchProvider) -> None:
        self.providers = providers

    @hookimpl
    def accord_search_providers(self) -> Sequence[SearchProvider]:
        return self.providers


def test_salesperson_finds_only_their_own_customers(customers, make_client):
    sam = signed_in(make_client, "sam")

    page = sam.get("/search", params={"q": "acme"})

    assert page.status_code == 200
    assert groups(page.text) == {"Customers": ["Acme Milan", "Acme Turin"]}
    assert "Naples" not in page.text


def test_back_office_finds_every_customer_five_at_most(customers, make_client):
    bea = signed_in(make_client, "bea")

    by_name = groups(bea.get("/search", params={"q": "ACME"}).text)
    by_email = groups(bea.get("/search", params={"q": "acme.EXAMPLE"}).text)

    assert len(by_name["Customers"]) == search.HITS_PER_PROVIDER  # of 12 named Acme
    assert by_email == {"Customers": ["Acme Milan", "Acme Naples", "Acme Turin", "Zoe Quinn"]}


def test_a_hit_opens_the_customers_360_page(customers, make_client):
    bea = signed_in(make_client, "bea")

    page = bea.get("/search", params={"q": "zoe"}).text
    link = re.search(r'<li><a href="([^"]*)">Zoe Quinn</a> <small>([^<]*)</small>', page)

    assert link is not None
    assert re.fullmatch(r"/partners/\d+", html.unescape(link[1]))
    assert link[2] == "zq@ACME.example"
    opened = bea.get(html.unescape(link[1]))
    assert opened.status_code == 200
    assert "<h1>Zoe Quinn</h1>" in opened.text


def test_wildcards_are_plain_characters(customers, make_client):
    bea = signed_in(make_client, "bea")

    page = bea.get("/search", params={"q": "%%"})

    assert groups(page.text) == {}
    assert "Nothing matches “%%”." in page.text


def test_a_failing_provider_does_not_hide_the_others(
    customers, accord_runtime, make_client, caplog
):
    def broken(session: Session, text_: str, limit: int) -> Sequence[SearchHit]:
        # A failed statement: on PostgreSQL, without a savepoint, it would abort the whole
        # transaction, and the providers after it with it.
        session.execute(text("SELECT * FROM no_such_table"))
        return []

    def places(session: Session, text_: str, limit: int) -> Sequence[SearchHit]:
        assert session.execute(text("SELECT 1")).scalar() == 1
        return [SearchHit(f"{text_} place {n}", f"/places/{n}") for n in range(limit + 3)]

    accord_runtime.pm.register(
        Providers(
            SearchProvider("test.broken", "Broken", search=broken),
            SearchProvider("test.places", "Places", search=places),
        ),
        name="test_providers",
    )
    bea = signed_in(make_client, "bea")

    with caplog.at_level(logging.ERROR, logger="accord.ui"):
        page = bea.get("/search", params={"q": "acme"})

    assert page.status_code == 200
    found = groups(page.text)
    assert list(found) == ["Customers", "Broken", "Places"]  # the providers' order
    assert len(found["Customers"]) == search.HITS_PER_PROVIDER
    assert found["Broken"] == []
    assert "Broken could not be searched just now." in page.text
    assert found["Places"] == [f"acme place {n}" for n in range(search.HITS_PER_PROVIDER)]
    assert "search provider 'test.broken' failed" in caplog.text


def test_a_query_shorter_than_two_characters_finds_nothing(customers, accord_runtime, make_client):
    asked: list[str] = []

    def spy(session: Session, text_: str, limit: int) -> Sequence[SearchHit]:
        asked.append(text_)
        return [SearchHit("anything", "/anything")]

    accord_runtime.pm.register(
        Providers(SearchProvider("test.spy", "Spy", search=spy)), name="test_providers"
    )
    bea = signed_in(make_client, "bea")

    dropdown = bea.get("/search", params={"q": " a "}, headers=HTMX)
    page = bea.get("/search", params={"q": "a"})
    longer = bea.get("/search", params={"q": " ac "}, headers=HTMX)

    assert dropdown.status_code == 200
    assert dropdown.text.strip() == ""
    assert groups(page.text) == {}
    assert "Type at least 2 characters" in page.text
    assert asked == ["ac"]
    assert "Spy" in longer.text


def test_htmx_gets_the_dropdown_fragment_and_a_browser_the_whole_page(customers, make_client):
    sam = signed_in(make_client, "sam")

    fragment = sam.get("/search", params={"q": "acme"}, headers=HTMX)
    page = sam.get("/search", params={"q": "acme"})

    assert "HX-Request" in fragment.headers["vary"]
    assert fragment.text.lstrip().startswith('<div class="search-panel">')
    assert "topbar" not in fragment.text
    assert "<h1>" not in fragment.text
    assert groups(fragment.text) == groups(page.text) == {"Customers": ["Acme Milan", "Acme Turin"]}
    assert "<h1>Search</h1>" in page.text
    assert 'value="acme"' in page.text  # the top bar's box keeps the query


def test_the_top_bar_has_a_labelled_search_box_that_asks_as_you_type(customers, make_client):
    home = signed_in(make_client, "sam").get("/").text

    box = re.search(r'<input id="topbar-find"[^>]*>', home, re.S)
    assert box is not None
    assert '<label for="topbar-find"' in home
    assert 'hx-get="/search"' in box[0]
    assert 'hx-trigger="input changed delay:250ms, search"' in box[0]
    assert 'hx-target="#topbar-results"' in box[0]
    assert re.search(r'<div id="topbar-results"[^>]*aria-live="polite"', home)


def test_search_needs_a_signed_in_user(customers, make_client):
    response = make_client().get("/search", params={"q": "acme"})

    assert response.status_code in (302, 303)
    assert "/login" in response.headers["location"]
