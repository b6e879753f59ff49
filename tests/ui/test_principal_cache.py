"""The app keeps each signed-in user's principal between requests, and still sees at the very
next request a change to who they are: a role revoked, a move to another team, the team tree
reshaped, a deactivation. Here the change comes the hardest way, from another connection or
another process, in plain SQL that no code of the app's process runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, create_engine, event, text
from starlette.testclient import TestClient

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.runtime import Runtime
from accord.core.security import TeamKind, create_team, create_user

from .conftest import PASSWORD, log_in


@dataclass
class Network:
    """Direct sales with a north and a south team, one customer each; Dina distributes for
    the north team (she sees its customers), Mia manages the north team (she sees its
    subtree), Sam sells."""

    url: str
    teams: dict[str, int]
    users: dict[str, int]


@pytest.fixture
def network(accord_db: Database, accord_runtime: Runtime) -> Network:
    with accord_db.session(Principal.system("test")) as session:
        sales = create_team(session, "Direct sales", TeamKind.DIRECT_SALES)
        north = create_team(session, "North", TeamKind.DIRECT_SALES, sales)
        south = create_team(session, "South", TeamKind.DIRECT_SALES, sales)
        users = {
            "dina": create_user(session, "dina", PASSWORD, roles=["distributor"], team=north),
            "mia": create_user(session, "mia", PASSWORD, roles=["sales_manager"], team=north),
            "sam": create_user(session, "sam", PASSWORD, roles=["salesperson"], team=north),
        }
        for name, team in (("Northwind Ltd", north), ("Southwind Ltd", south)):
            session.add(Partner(kind=PartnerKind.COMPANY, name=name, team_id=team.id))
        teams = {team.name: team.id for team in (sales, north, south)}
        ids = {login: user.id for login, user in users.items()}
    return Network(accord_runtime.settings.database_url, teams, ids)


@contextmanager
def other_connection(url: str) -> Iterator[Connection]:
    """A connection of its own (its own engine and pool), in one committed transaction."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def signed_in(make_client: Callable[..., TestClient], login: str) -> TestClient:
    client = make_client()
    assert log_in(client, login).status_code == 303
    return client


def customers(client: TestClient) -> list[str]:
    page = client.get("/views/partners")
    assert page.status_code == 200, page.text
    return [name for name in ("Northwind Ltd", "Southwind Ltd") if name in page.text]


def test_a_role_revoked_by_another_connection_is_seen_by_the_next_request(network, make_client):
    sam = signed_in(make_client, "sam")
    assert sam.get("/views/partners").status_code == 200
    with other_connection(network.url) as connection:
        connection.execute(
            text("DELETE FROM core_user_role WHERE user_id = :id"), {"id": network.users["sam"]}
        )
    assert sam.get("/views/partners").status_code == 403
    with other_connection(network.url) as connection:
        connection.execute(
            text("INSERT INTO core_user_role (user_id, role_name) VALUES (:id, 'back_office')"),
            {"id": network.users["sam"]},
        )
    assert customers(sam) == ["Northwind Ltd", "Southwind Ltd"]


def test_a_user_moved_to_another_team_sees_that_teams_customers_at_the_next_request(
    network, make_client
):
    dina = signed_in(make_client, "dina")
    assert customers(dina) == ["Northwind Ltd"]
    with other_connection(network.url) as connection:
        connection.execute(
            text("UPDATE core_user SET team_id = :team WHERE id = :id"),
            {"team": network.teams["South"], "id": network.users["dina"]},
        )
    assert customers(dina) == ["Southwind Ltd"]


def test_a_team_moved_under_a_managers_team_is_in_their_subtree_at_the_next_request(
    network, make_client
):
    mia = signed_in(make_client, "mia")
    assert customers(mia) == ["Northwind Ltd"]
    sales, north, south = (network.teams[name] for name in ("Direct sales", "North", "South"))
    with other_connection(network.url) as connection:
        connection.execute(
            text("UPDATE core_team SET parent_id = :north, path = :path WHERE id = :south"),
            {"north": north, "path": f"/{sales}/{north}/{south}/", "south": south},
        )
    assert customers(mia) == ["Northwind Ltd", "Southwind Ltd"]


def test_a_user_deactivated_by_another_process_is_signed_out_at_the_next_request(
    network, make_client
):
    dina = signed_in(make_client, "dina")
    assert customers(dina) == ["Northwind Ltd"]
    deactivate = (
        "import sys\n"
        "from sqlalchemy import create_engine, text\n"
        "engine = create_engine(sys.argv[1])\n"
        "with engine.begin() as connection:\n"
        "    connection.execute(text('UPDATE core_user SET active = false WHERE id = :id'),"
        " {'id': int(sys.argv[2])})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", deactivate, network.url, str(network.users["dina"])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    response = dina.get("/views/partners")
    assert response.status_code == 303
    assert "no longer active" in dina.get("/login").text


def test_an_unchanged_user_is_not_read_again_and_a_change_is_read_at_once(
    network, make_client, accord_runtime
):
    dina = signed_in(make_client, "dina")
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    def security_reads() -> list[str]:
        """The statements of one request that read who the user is."""
        sent.clear()
        event.listen(accord_runtime.db.engine, "before_cursor_execute", record)
        try:
            assert dina.get("/views/partners").status_code == 200
        finally:
            event.remove(accord_runtime.db.engine, "before_cursor_execute", record)
        return [
            statement
            for statement in sent
            if any(name in statement for name in ("core_security_version", "core_user_role"))
            or "FROM core_team" in statement
        ]

    dina.get("/views/partners")
    kept = security_reads()
    assert len(kept) == 1, kept
    assert "core_security_version" in kept[0]
    with other_connection(network.url) as connection:
        connection.execute(
            text("UPDATE core_user SET team_id = :team WHERE id = :id"),
            {"team": network.teams["South"], "id": network.users["dina"]},
        )
    again = security_reads()
    assert "core_security_version" in again[0]
    assert any("core_user_role" in statement for statement in again[1:]), again
    assert len(security_reads()) == 1
