"""The dashboard's filter bar: period, team and product line come from the URL, reach every
widget as checked ``context.filters``, a bad value falls back to its default with a message
naming the filter, htmx gets the redrawn tiles only; and the kernel's own tiles count only
the customers the user may read, for the chosen period and team."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from accord.api import DashboardWidget, RenderContext
from accord.core.access import Principal
from accord.core.activities import ActivityKind, log_activity
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.security import TeamKind, create_team, create_user
from accord.ui.dashboard import period_range

from .conftest import PASSWORD, log_in

SYSTEM = Principal.system("test")
HTMX = {"HX-Request": "true"}


def echo_filters(context: RenderContext) -> str:
    f = context.filters
    teams = ",".join(str(team) for team in sorted(f.team_ids))
    return (
        f"<p class='echo'>{f.period}|{f.start}|{f.end}|{f.start_at.isoformat()}|"
        f"{f.end_at.isoformat()}|{f.team_id}|{teams}|{f.product_line}</p>"
    )


def echoed(page: str) -> list[str]:
    found = re.search(r"<p class='echo'>(.*?)</p>", page)
    assert found is not None, page
    return html.unescape(found[1]).split("|")


@dataclass(frozen=True)
class Network:
    north: int
    north_east: int
    south: int


@pytest.fixture
def network(accord_db: Database) -> Network:
    """North with North-East below it, and South. Sam sells in North-East, Sue in South,
    Bea is in the back office. Sam has three customers, one of them made last year."""
    with accord_db.session(SYSTEM) as session:
        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        north_east = create_team(session, "North-East", TeamKind.DIRECT_SALES, parent=north)
        south = create_team(session, "South", TeamKind.DIRECT_SALES)
        sam = create_user(session, "sam", PASSWORD, roles=["salesperson"], team=north_east)
        sue = create_user(session, "sue", PASSWORD, roles=["salesperson"], team=south)
        create_user(session, "bea", PASSWORD, roles=["back_office"])
        now = dt.datetime.now(dt.UTC)
        for name, owner, team, created in (
            ("Alpha", sam, north_east, now),
            ("Beta", sam, north_east, now),
            ("Old", sam, north_east, now - dt.timedelta(days=400)),
            ("Gamma", sue, south, now),
        ):
            session.add(
                Partner(
                    kind=PartnerKind.COMPANY,
                    name=name,
                    owner_id=owner.id,
                    team_id=team.id,
                    created_at=created,
                )
            )
        session.flush()
        alpha = session.scalars(select(Partner).where(Partner.name == "Alpha")).one()
        log_activity(
            session,
            alpha.id,
            ActivityKind.TASK,
            "Send the price list",
            user_id=sam.id,
            due_at=now - dt.timedelta(days=3),
        )
        return Network(north.id, north_east.id, south.id)


@pytest.fixture
def echo(add_plugin) -> None:
    add_plugin(dashboard_widgets=[DashboardWidget("extra.echo", "Echo", render=echo_filters)])


def client_for(make_client, login: str) -> TestClient:
    client = make_client()
    assert log_in(client, login).status_code == 303
    return client


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.mark.parametrize("period", ["month", "quarter", "year", "last_12_months"])
def test_the_chosen_period_reaches_every_widget(network, echo, make_client, period):
    bea = client_for(make_client, "bea")

    page = bea.get("/", params={"period": period})

    start, end = period_range(period, today())
    values = echoed(page.text)
    assert values[:3] == [period, start.isoformat(), end.isoformat()]
    assert values[3] == f"{start.isoformat()}T00:00:00+00:00"
    assert values[4] == f"{(end + dt.timedelta(days=1)).isoformat()}T00:00:00+00:00"
    assert f'<option value="{period}" selected>' in page.text


def test_without_filters_the_dashboard_shows_this_month_for_every_team(network, echo, make_client):
    bea = client_for(make_client, "bea")

    values = echoed(bea.get("/").text)

    start, end = period_range("month", today())
    assert values == ["month", str(start), str(end), *values[3:5], "None", "", "None"]


def test_a_custom_period_team_and_product_line_reach_widgets(network, echo, make_client):
    bea = client_for(make_client, "bea")

    page = bea.get(
        "/",
        params={
            "period": "custom",
            "from": "2026-02-10",
            "to": "2026-03-05",
            "team": str(network.north),
            "product_line": "dummy.spares",
        },
    )

    values = echoed(page.text)
    assert values[:3] == ["custom", "2026-02-10", "2026-03-05"]
    assert values[5] == str(network.north)
    assert values[6] == f"{network.north},{network.north_east}"  # the team and those below it
    assert values[7] == "dummy.spares"
    assert '<option value="dummy.spares" selected>Spare parts</option>' in page.text
    assert 'id="filter-from" name="from" type="date" value="2026-02-10"' in page.text


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"period": "weekly"}, "period", "Period: unknown period 'weekly'"),
        ({"period": "custom", "from": "10/02/2026", "to": "2026-03-01"}, "from", "YYYY-MM-DD"),
        ({"period": "custom", "from": "2026-03-01"}, "to", "To: choose the last day"),
        (
            {"period": "custom", "from": "2026-03-01", "to": "2026-02-01"},
            "to",
            "the last day (2026-02-01) comes before the first (2026-03-01)",
        ),
        ({"period": "custom", "from": "2010-01-01", "to": "2026-01-01"}, "to", "five years"),
        ({"team": "99999"}, "team", "Team: no team '99999' that you may see"),
        ({"team": "north"}, "team", "Team: no team 'north'"),
        ({"product_line": "yachts"}, "product_line", "Product line: no product line 'yachts'"),
    ],
)
def test_a_bad_filter_value_is_named_and_falls_back_to_its_default(
    network, echo, make_client, params, field, message
):
    bea = client_for(make_client, "bea")

    page = bea.get("/", params=params)

    assert page.status_code == 200
    error = re.search(rf'<li id="filter-{field}-error" class="field-error">([^<]*)</li>', page.text)
    assert error is not None, page.text
    assert message in html.unescape(error[1])
    values = echoed(page.text)
    start, end = period_range("month", today())
    if field in ("period", "from", "to"):
        assert values[:3] == ["month", str(start), str(end)]
    if field in ("from", "to"):  # what was typed stays in the bar, to be corrected
        assert '<option value="custom" selected>' in page.text
        assert f'name="from" type="date" value="{params["from"]}"' in page.text
    if field == "team":
        assert values[5:7] == ["None", ""]
    if field == "product_line":
        assert values[7] == "None"


def test_htmx_gets_the_redrawn_filters_and_tiles_without_the_layout(network, echo, make_client):
    bea = client_for(make_client, "bea")

    page = bea.get("/", params={"period": "year"}, headers=HTMX)

    assert "<html" not in page.text
    assert 'class="dashboard-filters"' in page.text
    assert echoed(page.text)[0] == "year"
    assert 'hx-push-url="true"' in page.text  # the filters stay in the address bar


def test_the_team_filter_offers_the_teams_in_tree_order(network, make_client):
    bea = client_for(make_client, "bea")

    options = re.findall(
        r'<option value="(\d*)"[^>]*>([^<]*)</option>',
        bea.get("/").text.split('id="filter-team"')[1].split("</select>")[0],
    )

    assert [label.strip("\xa0") for _, label in options] == [
        "All teams",
        "North",
        "North-East",
        "South",
    ]


def new_customers_table(page: str) -> str:
    tile = page.split('id="widget-core-new_customers"')[1].split("</article>")[0]
    return tile


def test_new_customers_counts_only_what_the_user_may_read(network, make_client):
    sam = client_for(make_client, "sam")
    bea = client_for(make_client, "bea")

    mine = new_customers_table(sam.get("/").text)
    everyone = new_customers_table(bea.get("/").text)
    south = new_customers_table(bea.get("/", params={"team": str(network.south)}).text)
    year_ago = (today() - dt.timedelta(days=400)).replace(day=1)
    old = new_customers_table(
        sam.get(
            "/",
            params={
                "period": "custom",
                "from": year_ago.isoformat(),
                "to": (year_ago + dt.timedelta(days=40)).isoformat(),
            },
        ).text
    )

    assert "<strong>2</strong> new customers" in mine  # Alpha and Beta, not Sue's Gamma
    assert "<strong>3</strong> new customers" in everyone
    assert "<strong>1</strong> new customers" in south
    assert "<strong>1</strong> new customers" in old  # the customer made 400 days ago
    assert "<svg" in mine
    assert "Show the data" in mine


def test_customers_by_team_and_open_tasks(network, make_client):
    sam = client_for(make_client, "sam")

    page = sam.get("/").text

    by_team = page.split('id="widget-core-customers_by_team"')[1].split("</article>")[0]
    assert '<tr><th scope="row">North-East</th><td>3</td></tr>' in by_team
    assert "South" not in by_team
    tasks = page.split('id="widget-core-my_tasks"')[1].split("</article>")[0]
    assert "<strong>1</strong> overdue" in tasks
    assert "Send the price list" in tasks
    assert "(overdue)" in tasks


def test_periods_around_a_given_day() -> None:
    day = dt.date(2026, 11, 23)

    assert period_range("month", day) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert period_range("quarter", day) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert period_range("year", day) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert period_range("last_12_months", day) == (dt.date(2025, 12, 1), dt.date(2026, 11, 30))
    assert period_range("quarter", dt.date(2026, 2, 28)) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 3, 31),
    )
