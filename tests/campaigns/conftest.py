"""The campaigns plugin on a small company: marketing runs the campaigns, two salespeople
work leads, a sales manager reads the figures, the back office merges duplicates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from accord.api import Principal, Team, TeamKind, User, emit, utcnow
from accord.core.db import Database
from accord.core.runtime import Runtime
from accord.core.security import create_team, create_user
from accord.plugins.campaigns.api import Campaign, CostLine, Segment, record_touch
from accord.plugins.leads.api import create_lead
from accord.testing import run_jobs, signed_in_client
from accord.ui import create_app

PASSWORD = "correct horse battery"
PEOPLE = {  # login: (role, team)
    "max": ("marketing", "Marketing"),
    "sam": ("salesperson", "North"),
    "sue": ("salesperson", "South"),
    "mia": ("sales_manager", "Direct sales"),
    "bea": ("back_office", "Back office"),
}
TEAMS = [
    ("Direct sales", TeamKind.DIRECT_SALES, None),
    ("North", TeamKind.DIRECT_SALES, "Direct sales"),
    ("South", TeamKind.DIRECT_SALES, "Direct sales"),
    ("Back office", TeamKind.BACK_OFFICE, None),
    ("Marketing", TeamKind.MARKETING, None),
]


@pytest.fixture
def accord_plugins() -> Sequence[str]:
    return ["leads", "campaigns"]


@dataclass
class Network:
    teams: dict[str, Team]
    users: dict[str, User]

    def __getitem__(self, login: str) -> User:
        return self.users[login]


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
    def make(owner: User | None = None, **fields: Any) -> int:
        data = {"channel": "web_form", **fields}
        session: Session
        with system() as session:
            result = create_lead(
                session, data, owner_id=owner.id if owner else None, assign=False, dedupe=False
            )
            return result.lead.id

    return make


@pytest.fixture
def make_segment(system: Callable[[], Any]) -> Callable[..., int]:
    """``make_segment(name="Web leads", target="leads", **criteria)``: its id; without
    criteria, the leads that came from a web form."""

    def make(name: str = "Web leads", target: str = "leads", **criteria: Any) -> int:
        with system() as session:
            segment = Segment(
                name=name, target=target, criteria=criteria or {"channels": ["web_form"]}
            )
            session.add(segment)
            session.flush()
            return segment.id

    return make


@pytest.fixture
def make_campaign(system: Callable[[], Any]) -> Callable[..., int]:
    """``make_campaign(name, channel, cost="1000.00", **fields)``: its id; ``cost`` is one
    cost line."""

    def make(name: str, channel: str = "email", cost: str | None = None, **fields: Any) -> int:
        with system() as session:
            campaign = Campaign(
                name=name,
                channel=channel,
                starts_on=fields.pop("starts_on", dt.date.today() - dt.timedelta(days=90)),
                **fields,
            )
            session.add(campaign)
            session.flush()
            if cost is not None:
                session.add(
                    CostLine(
                        campaign_id=campaign.id,
                        description=f"{name}: media",
                        amount=Decimal(cost),
                        incurred_on=dt.date.today() - dt.timedelta(days=30),
                    )
                )
            return campaign.id

    return make


@pytest.fixture
def touch(system: Callable[[], Any]) -> Callable[..., None]:
    """``touch(campaign_id, kind, days_ago=, lead_id=, partner_id=)``."""

    def make(
        campaign_id: int, kind: str = "email_opened", *, days_ago: float = 1, **who: Any
    ) -> None:
        with system() as session:
            campaign = session.get(Campaign, campaign_id)
            record_touch(
                session,
                campaign,
                kind,
                occurred_at=utcnow() - dt.timedelta(days=days_ago),
                **who,
            )

    return make


@pytest.fixture
def deliver(accord_runtime: Runtime, system: Callable[[], Any]) -> Callable[..., None]:
    """``deliver(name, payload)``: emit an event as another plugin would and run the
    subscribers, as the job runner does after commit."""

    def send(name: str, payload: dict[str, Any]) -> None:
        with system() as session:
            emit(session, name, payload)
        run_jobs(accord_runtime)

    return send


@pytest.fixture
def sign_in(
    accord_runtime: Runtime, accord_db: Database, network: Network
) -> Callable[[str], TestClient]:
    def signed_in(login: str) -> TestClient:
        client = signed_in_client(accord_runtime, login, PASSWORD)
        client.headers["x-csrftoken"] = client.cookies["csrftoken"]
        return client

    return signed_in


@pytest.fixture
def anonymous(accord_runtime: Runtime, accord_db: Database) -> TestClient:
    return TestClient(create_app(accord_runtime), follow_redirects=False)
