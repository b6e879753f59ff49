"""The leads plugin on a small sales network: a direct sales force in two areas under a
manager, an agency with a sub-agency, a distributor, telemarketing and a back office, one
person per hat; assignment rules send leads to them by country, postcode and channel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from accord.api import Principal, Team, TeamKind, User
from accord.core.db import Database
from accord.core.runtime import Runtime
from accord.core.security import create_team, create_user

LEADS_SETTINGS = """
[leads]
product_lines = ["espresso_machines", "grinders", "service"]

[[leads.assignment]]
name = "Nordics to the distributor"
countries = ["SE", "NO", "DK", "FI"]
team = "Nordic Distribution"

[[leads.assignment]]
name = "Milan postcodes to the agency"
countries = ["IT"]
postcodes = ["20100-20199"]
user = "ugo"

[[leads.assignment]]
name = "Web forms to the north"
channels = ["web_form", "landing_page"]
team = "North"

[leads.web_forms.caffe-site-1]
title = "Caffè Demo web site"
channel = "web_form"
product_line = "espresso_machines"
"""

PASSWORD = "correct horse battery"


@pytest.fixture
def accord_plugins() -> Sequence[str]:
    return ["leads"]


@pytest.fixture
def leads_settings_text() -> str:
    """The ``[leads]`` section appended to the test's accord.toml; override to change it."""
    return LEADS_SETTINGS


@pytest.fixture
def accord_config(accord_config: Path, leads_settings_text: str) -> Path:
    accord_config.write_text(accord_config.read_text() + leads_settings_text)
    return accord_config


@dataclass
class Network:
    teams: dict[str, Team]
    users: dict[str, User]

    def __getitem__(self, login: str) -> User:
        return self.users[login]


PEOPLE = {  # login: (role, team)
    "mia": ("sales_manager", "Direct sales"),
    "sam": ("salesperson", "North"),
    "nina": ("salesperson", "North"),
    "sue": ("salesperson", "South"),
    "ugo": ("agent", "Agenzia Rossi"),
    "gino": ("agent", "Sub-agenzia Bianchi"),
    "dana": ("distributor", "Nordic Distribution"),
    "tom": ("telemarketer", "Telemarketing"),
    "bea": ("back_office", "Back office"),
    "max": ("marketing", "Marketing"),
    "ada": ("admin", None),
}
TEAMS = [
    ("Direct sales", TeamKind.DIRECT_SALES, None),
    ("North", TeamKind.DIRECT_SALES, "Direct sales"),
    ("South", TeamKind.DIRECT_SALES, "Direct sales"),
    ("Agenzia Rossi", TeamKind.AGENTS, None),
    ("Sub-agenzia Bianchi", TeamKind.AGENTS, "Agenzia Rossi"),
    ("Nordic Distribution", TeamKind.DISTRIBUTORS, None),
    ("Telemarketing", TeamKind.MARKETING, None),
    ("Back office", TeamKind.BACK_OFFICE, None),
    ("Marketing", TeamKind.MARKETING, None),
]


@pytest.fixture
def network(accord_db: Database) -> Network:
    with accord_db.session(Principal.system("test")) as session:
        teams: dict[str, Team] = {}
        for name, kind, parent in TEAMS:
            teams[name] = create_team(session, name, kind, teams[parent] if parent else None)
        users = {
            login: create_user(
                session,
                login,
                PASSWORD,
                name=login.capitalize(),
                email=f"{login}@caffe.example",
                roles=[role],
                team=teams[team] if team else None,
            )
            for login, (role, team) in PEOPLE.items()
        }
        session.expunge_all()
    return Network(teams, users)


@pytest.fixture
def system(accord_db: Database) -> Callable[[], Any]:
    """``with system() as session:`` a unit of work of the system principal."""

    def open_unit() -> Any:
        return accord_db.session(Principal.system("test"))

    return open_unit


@pytest.fixture
def as_user(accord_runtime: Runtime, accord_db: Database) -> Callable[[User], Any]:
    def open_unit(user: User) -> Any:
        return accord_db.session(accord_runtime.principal_for(user.id))

    return open_unit


@pytest.fixture
def make_lead(system: Callable[[], Any]) -> Callable[..., int]:
    """``make_lead(owner=user, **fields)``: a lead created by the system, its id."""
    from accord.plugins.leads.api import create_lead

    def make(owner: User | None = None, *, assign: bool = False, **fields: Any) -> int:
        data = {"channel": "phone", **fields}
        session: Session
        with system() as session:
            result = create_lead(
                session,
                data,
                owner_id=owner.id if owner else None,
                assign=assign,
                dedupe=False,
            )
            return result.lead.id

    return make
