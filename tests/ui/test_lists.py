"""The lists of /views/<name>: each hat sees its own part of the sales network in the rows,
the count and the CSV export; search, filters, sort, keyset pages, chosen columns; a bad
parameter is explained on the page; a list a user may not read is refused."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.api import ListColumn, ListFilter, ModelView, hookimpl
from accord.core.access import Principal
from accord.core.db import Database
from accord.core.errors import PluginError
from accord.core.partners import Partner, PartnerKind
from accord.core.security import Team, TeamKind, create_team, create_user
from accord.ui import create_app, lists

from .conftest import PASSWORD, log_in

SYSTEM = Principal.system("test")
SAMS, SUES, WALK_INS = 55, 70, 3
EVERYONE = SAMS + SUES + WALK_INS


@dataclass
class Customers:
    sams: list[str]
    sues: list[str]
    every: list[str]


@pytest.fixture
def customers(accord_db: Database) -> Customers:
    """Sam (a salesperson of the north team) owns 55 customers, Sue (south) 70, three walk-in
    customers have no owner; Bea works in the back office. Some names repeat, so that pages
    must be told apart by id as well as by name."""
    with accord_db.session(SYSTEM) as session:
        sales = create_team(session, "Direct sales", TeamKind.DIRECT_SALES)
        north = create_team(session, "North", TeamKind.DIRECT_SALES, sales)
        south = create_team(session, "South", TeamKind.DIRECT_SALES, sales)
        office = create_team(session, "Back office", TeamKind.BACK_OFFICE)
        sam = create_user(session, "sam", PASSWORD, roles=["salesperson"], team=north)
        sue = create_user(session, "sue", PASSWORD, roles=["salesperson"], team=south)
        create_user(session, "bea", PASSWORD, roles=["back_office"], team=office)
        create_user(session, "nobody", PASSWORD, roles=[], team=None)
        sams = [f"Sam customer {n:02}" for n in range(SAMS - 5)] + ["Duplicate Ltd"] * 5
        sues = [f"Sue customer {n:02}" for n in range(SUES - 5)] + ["Duplicate Ltd"] * 5
        walk_ins = [f"Walk-in {n}" for n in range(WALK_INS)]
        for names, owner, team in ((sams, sam, north), (sues, sue, south), (walk_ins, None, None)):
            for n, name in enumerate(names):
                orbit = n % 10 == 3  # a few customers of each have an orbit.example address
                session.add(
                    Partner(
                        kind=PartnerKind.PERSON if n % 2 else PartnerKind.COMPANY,
                        name=name,
                        email=f"c{n}@{'orbit' if orbit else 'mail'}.example",
                        phone=f"+39 02 {n:04}",
                        owner_id=owner.id if owner else None,
                        team_id=team.id if team else None,
                    )
                )
    return Customers(sams, sues, sams + sues + walk_ins)


def signed_in(make_client: Callable[..., TestClient], login: str) -> TestClient:
    client = make_client()
    assert log_in(client, login).status_code == 303
    return client


def first_cells(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    cells = re.findall(r"<tr>\s*<td>(.*?)</td>", body)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells]  # rows link


def headers(page: str) -> list[str]:
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    return [
        re.sub(r"<[^>]+>|[▲▼]", "", cell).strip()
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)
    ]


def rel_link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)"[^>]*rel="{rel}"', page)
    return html.unescape(found[1]) if found else None


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_salesperson_sees_only_their_customers_in_list_count_and_export(customers, make_client):
    sam = signed_in(make_client, "sam")

    page = sam.get("/views/partners")
    export = csv_rows(sam.get("/views/partners.csv"))

    assert page.status_code == 200
    assert f"{SAMS} customers" in page.text
    assert set(first_cells(page.text)) <= set(customers.sams)
    assert len(first_cells(page.text)) == lists.PAGE_SIZE
    assert "Sue customer" not in page.text
    assert "Walk-in" not in page.text
    assert export[0] == ["Name", "Kind", "E-mail", "Phone", "Owner"]
    assert sorted(row[0] for row in export[1:]) == sorted(customers.sams)
    assert {row[4] for row in export[1:]} == {"sam"}  # the owner's name, not an id


def test_back_office_sees_every_customer(customers, make_client):
    bea = signed_in(make_client, "bea")

    page = bea.get("/views/partners")
    export = csv_rows(bea.get("/views/partners.csv"))

    assert f"{EVERYONE} customers" in page.text
    assert sorted(row[0] for row in export[1:]) == sorted(customers.every)
    assert '<a href="/views/partners">Customers</a>' in bea.get("/").text  # in the navigation


def test_search_narrows_the_list_and_the_export(customers, make_client):
    bea = signed_in(make_client, "bea")

    by_name = bea.get("/views/partners", params={"q": "sue customer 1"})
    by_email = csv_rows(bea.get("/views/partners.csv", params={"q": "ORBIT"}))
    wildcard = bea.get("/views/partners", params={"q": "%"})

    assert first_cells(by_name.text) == [f"Sue customer {n}" for n in range(10, 20)]
    assert "10 customers" in by_name.text
    orbits = [
        n for names in (customers.sams, customers.sues) for n in range(len(names)) if n % 10 == 3
    ]
    assert len(by_email) - 1 == len(orbits) == 6 + 7
    assert all("@orbit.example" in row[2] for row in by_email[1:])
    assert "0 customers" in wildcard.text
    assert "Nothing matches." in wildcard.text


def test_a_count_past_the_cap_says_more_than(customers, make_client, monkeypatch):
    monkeypatch.setattr(lists, "COUNT_CAP", 100)
    bea = signed_in(make_client, "bea")

    assert "more than 100 customers" in bea.get("/views/partners").text
    assert "55 customers" in signed_in(make_client, "sam").get("/views/partners").text


def test_filter_narrows_the_list(accord_db, make_client):
    with accord_db.session(SYSTEM) as session:
        create_user(session, "nora", PASSWORD, roles=["dummy_note_taker", "back_office"])
        partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
        session.add(partner)
        session.flush()
        from accord_dummy.models import DummyNote

        for n, state in enumerate(["draft", "published", "published", "withdrawn"]):
            session.add(DummyNote(partner_id=partner.id, body=f"note {n}", state=state))
    nora = signed_in(make_client, "nora")

    published = nora.get("/views/dummy-notes", params={"f_state": "published"})
    every = nora.get("/views/dummy-notes")

    assert first_cells(published.text) == ["note 2", "note 1"]  # newest first
    assert '<option value="published" selected>' in published.text
    assert first_cells(every.text) == ["note 3", "note 2", "note 1", "note 0"]


def test_the_customer_list_filters_on_kind_and_active(accord_db, make_client):
    with accord_db.session(SYSTEM) as session:
        create_user(session, "bea", PASSWORD, roles=["back_office"])
        session.add_all(
            [
                Partner(kind=PartnerKind.COMPANY, name="Acme Ltd"),
                Partner(kind=PartnerKind.PERSON, name="Anna Rossi"),
                Partner(kind=PartnerKind.PERSON, name="Old Contact", active=False),
            ]
        )
    bea = signed_in(make_client, "bea")

    people = bea.get("/views/partners", params={"f_kind": "person"})
    active_people = bea.get("/views/partners", params={"f_kind": "person", "f_active": "yes"})

    assert first_cells(people.text) == ["Anna Rossi", "Old Contact"]
    assert first_cells(active_people.text) == ["Anna Rossi"]


def test_sort_by_a_column_both_ways(customers, make_client):
    bea = signed_in(make_client, "bea")

    ascending = bea.get("/views/partners", params={"sort": "name"})
    descending = bea.get("/views/partners", params={"sort": "-name"})
    by_email = bea.get("/views/partners", params={"sort": "email", "col": "email"})

    assert first_cells(ascending.text) == sorted(customers.every)[: lists.PAGE_SIZE]
    assert first_cells(descending.text) == sorted(customers.every, reverse=True)[: lists.PAGE_SIZE]
    emails = first_cells(by_email.text)
    assert emails == sorted(emails)
    assert len(emails) == lists.PAGE_SIZE
    # The header of the current sort turns it around; another header sorts by itself.
    assert 'href="/views/partners?sort=-name' in ascending.text
    assert 'href="/views/partners?sort=name' in descending.text
    assert 'aria-sort="descending"' in descending.text


@pytest.mark.parametrize("sort", ["name", "-name", "email"])
def test_next_and_previous_pages_show_every_row_exactly_once(customers, make_client, sort):
    bea = signed_in(make_client, "bea")
    url: str | None = f"/views/partners?sort={sort}&col=name"
    pages: list[list[str]] = []
    while url is not None:
        page = bea.get(url).text
        pages.append(first_cells(page))
        url = rel_link(page, "next")
        assert len(pages) < 10, "the pages do not end"
    seen = [name for page in pages for name in page]

    assert [len(page) for page in pages] == [50, 50, EVERYONE - 100]
    assert sorted(seen) == sorted(customers.every)
    assert seen == sorted(seen, reverse=sort.startswith("-")) or sort == "email"

    back: list[list[str]] = [pages[-1]]
    url = rel_link(page, "prev")
    while url is not None:
        page = bea.get(url).text
        back.insert(0, first_cells(page))
        url = rel_link(page, "prev")
        assert len(back) < 10
    assert back == pages


def test_chosen_columns_are_shown_and_exported(customers, make_client):
    sam = signed_in(make_client, "sam")
    params = {"col": ["phone", "name"], "sort": "name"}

    page = sam.get("/views/partners", params=params)
    export = csv_rows(sam.get("/views/partners.csv", params=params))

    assert headers(page.text) == ["Name", "Phone"]  # in the view's order
    assert export[0] == ["Name", "Phone"]
    assert export[1] == ["Duplicate Ltd", "+39 02 0050"]
    assert 'name="col" value="phone" checked' in page.text
    assert "col=phone" in page.text.split("Export CSV")[0]  # the export link keeps them


def test_an_htmx_request_gets_only_the_results(customers, make_client):
    bea = signed_in(make_client, "bea")

    fragment = bea.get("/views/partners", params={"q": "walk"}, headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'id="list-form"' not in fragment.text
    assert first_cells(fragment.text) == ["Walk-in 0", "Walk-in 1", "Walk-in 2"]
    assert "3 customers" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "phone"}, "This list cannot be sorted by &#39;phone&#39;"),
        ({"after": "not-a-cursor"}, "The page link is not valid"),
        ({"after": "WyJhIiwiYiJd"}, "The page link is not valid"),  # ["a","b"]
        ({"col": "password"}, "This list has no column &#39;password&#39;"),
    ],
)
def test_a_bad_parameter_is_explained_on_the_page(customers, make_client, params, message):
    sam = signed_in(make_client, "sam")

    page = sam.get("/views/partners", params=params)
    fragment = sam.get("/views/partners", params=params, headers={"HX-Request": "true"})
    export = sam.get("/views/partners.csv", params=params)

    assert page.status_code == 400
    assert message in page.text
    assert len(first_cells(page.text)) == lists.PAGE_SIZE  # with the list as by default
    assert fragment.status_code == 200
    assert message in fragment.text
    assert export.status_code == 400


def test_an_unknown_filter_value_is_explained(accord_make_user, make_client):
    accord_make_user("nora", "dummy_note_taker", "back_office")
    nora = signed_in(make_client, "nora")

    page = nora.get("/views/dummy-notes", params={"f_state": "lost"})

    assert page.status_code == 400
    assert "State: &#39;lost&#39; is not one of the choices." in page.text


def test_a_list_is_refused_without_a_read_grant(customers, accord_make_user, make_client):
    accord_make_user("nina", "dummy_note_taker")  # holds core.partners.read, no grant on rows
    nobody = signed_in(make_client, "nobody")
    nina = signed_in(make_client, "nina")

    assert nobody.get("/views/partners").status_code == 403
    assert nobody.get("/views/partners.csv").status_code == 403
    assert "/views/partners" not in nobody.get("/").text
    assert nina.get("/views/partners").status_code == 403
    assert signed_in(make_client, "sam").get("/views/nothing").status_code == 404


# --- a plugin's views are checked when the app is built -----------------------------------


class Viewer:
    def __init__(self, *views: ModelView) -> None:
        self.views = views

    @hookimpl
    def accord_model_views(self) -> tuple[ModelView, ...]:
        return self.views


def view(**changes: Any) -> ModelView:
    values: dict[str, Any] = {
        "name": "viewer-partners",
        "model": "core_partner",
        "title": "Partners",
        "columns": (ListColumn("name", "Name", sortable=True),),
        "default_sort": "name",
    }
    return ModelView(**{**values, **changes})


@pytest.mark.parametrize("accord_backend", ["sqlite"])
@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"columns": (ListColumn("colour", "Colour"),)}, "colour", "no such column"),
        ({"search": ("name", "notes")}, "notes", "no such column"),
        ({"columns": (ListColumn("phone", "Phone", sortable=True),)}, "phone", "no index"),
        (
            {"filters": (ListFilter("website", "Website", choices=(("x.example", "X"),)),)},
            "website",
            "no index",
        ),
        ({"columns": (ListColumn("owner_id", "Owner", sortable=True),)}, "owner_id", "nullable"),
        ({"default_sort": "email"}, "email", "default sort"),
        (
            {"filters": (ListFilter("team_id", "Team", choices=(("north", "North"),)),)},
            "team_id",
            "not a value",
        ),
        ({"model": "viewer_thing"}, "", "no plugin declares a model"),
    ],
)
def test_a_view_the_model_cannot_serve_is_refused(accord_runtime, changes, field, problem):
    accord_runtime.pm.register(Viewer(view(**changes)), name="viewer")

    with pytest.raises(PluginError) as refused:
        create_app(accord_runtime)

    message = str(refused.value)
    assert "plugin 'viewer', model view 'viewer-partners'" in message
    assert f"field {field!r}" in message or not field
    assert problem in message


def test_a_plugin_view_filters_on_an_indexed_integer_column(
    customers, accord_runtime, accord_db, make_client
):
    with accord_db.session(SYSTEM) as session:
        teams = {team.name: team.id for team in session.scalars(select(Team))}
    north, south = str(teams["North"]), str(teams["South"])
    sorts = (
        ListColumn("name", "Name", sortable=True),
        ListColumn("email", "E-mail", sortable=True),
    )
    by_team = ListFilter("team_id", "Team", choices=((north, "North"), (south, "South")))
    accord_runtime.pm.register(Viewer(view(columns=sorts, filters=(by_team,))), name="viewer")
    bea = signed_in(make_client, "bea")

    page = bea.get("/views/viewer-partners", params={"f_team_id": north})

    assert page.status_code == 200
    assert f"{SAMS} partners" in page.text
    assert set(first_cells(page.text)) <= set(customers.sams)
