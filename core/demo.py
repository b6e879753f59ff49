"""The demo company: a folder with settings, a migrated SQLite database holding every
built-in plugin, a small sales network (a direct sales force in two areas under a manager,
an agency, a distributor, a back office) with its customers, and users wearing each hat,
whose credentials are printed."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.activities import ActivityKind, log_activity
from accord.core.config_file import write_new_config
from accord.core.partners import Address, Partner, PartnerKind
from accord.core.plugin import discover_plugins
from accord.core.runtime import Runtime
from accord.core.security import (
    Team,
    TeamKind,
    User,
    create_team,
    create_user,
    hash_password,
    set_roles,
)

ADMIN_LOGIN = "admin"

# login: (name, role, team) — one person per hat; they share the printed password.
PEOPLE = {
    "mia": ("Mia Conti", "sales_manager", "Direct sales"),
    "sam": ("Sam Bauer", "salesperson", "North"),
    "sue": ("Sue Lindqvist", "salesperson", "South"),
    "ugo": ("Ugo Rossi", "agent", "Agenzia Rossi"),
    "dana": ("Dana Nilsen", "distributor", "Nordic Distribution"),
    "bea": ("Bea Moreau", "back_office", "Back office"),
}
TEAMS = [  # name, kind, parent
    ("Direct sales", TeamKind.DIRECT_SALES, None),
    ("North", TeamKind.DIRECT_SALES, "Direct sales"),
    ("South", TeamKind.DIRECT_SALES, "Direct sales"),
    ("Agenzia Rossi", TeamKind.AGENTS, None),
    ("Nordic Distribution", TeamKind.DISTRIBUTORS, None),
    ("Back office", TeamKind.BACK_OFFICE, None),
]
FIRST = [
    "Alpine",
    "Baltic",
    "Castello",
    "Delta",
    "Elbe",
    "Fjord",
    "Garda",
    "Hansa",
    "Iberia",
    "Jura",
    "Kvarn",
    "Loira",
    "Meridian",
    "Nordwind",
    "Orsa",
    "Pianura",
]
LAST = [
    ("Srl", "IT", "Milano"),
    ("GmbH", "DE", "Hamburg"),
    ("AB", "SE", "Malmö"),
    ("SAS", "FR", "Lyon"),
    ("BV", "NL", "Utrecht"),
]
CUSTOMER_OWNERS = ["sam", "sue", "ugo", "dana"]


def build_demo(folder: Path, report: Callable[[str], None] = print) -> tuple[str, str]:
    """Create or refresh the demo in ``folder``; returns the admin's login and password.

    Running it again keeps the data and gives the admin a new password.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "accord.toml"
    built_in = sorted(
        found.name for found in discover_plugins().values() if found.origin == "built-in"
    )
    if not config.exists():
        write_new_config(config, plugins=built_in)
        report(f"wrote {config}")
    runtime = Runtime(config)
    try:
        enabled = [found.name for found in runtime.settings.enabled]
        report(f"enabled plugins: {', '.join(enabled) or 'none yet (the kernel only)'}")
        runtime.migrator.upgrade(report=report)
        password = secrets.token_urlsafe(12)
        with runtime.db.session(Principal.system("demo")) as session:
            admin = session.scalar(select(User).where(User.login == ADMIN_LOGIN))
            if admin is None:
                create_user(
                    session, ADMIN_LOGIN, password, name="Demo Administrator", roles=["admin"]
                )
            else:
                admin.password_hash = hash_password(password)
                set_roles(session, admin, {*admin.roles, "admin"})
            if session.scalar(select(Team.id).limit(1)) is None:
                seed_company(session, password)
                report(f"seeded a sales network with {len(PEOPLE)} people and their customers")
            else:  # a second run keeps the data and gives everyone the new password
                for user in session.scalars(select(User).where(User.login.in_(PEOPLE))):
                    user.password_hash = hash_password(password)
        report(f"database: {runtime.settings.database_url}")
        report(f"log in as: {ADMIN_LOGIN} / {password}")
        hats = ", ".join(f"{login} ({role})" for login, (_, role, _) in PEOPLE.items())
        report(f"or as one of the hats, same password: {hats}")
        return ADMIN_LOGIN, password
    finally:
        runtime.close()


def seed_company(session: Session, password: str) -> None:
    """The sales network, one user per hat and some 80 customers spread over it, so every
    role sees its own part of the company at once."""
    teams: dict[str, Team] = {}
    for name, kind, parent in TEAMS:
        teams[name] = create_team(session, name, kind, teams[parent] if parent else None)
    users = {
        login: create_user(
            session,
            login,
            password,
            name=name,
            email=f"{login}@demo.example",
            roles=[role],
            team=teams[team],
        )
        for login, (name, role, team) in PEOPLE.items()
    }
    number = 0
    for first in FIRST:
        for suffix, country, city in LAST:
            owner = users[CUSTOMER_OWNERS[number % len(CUSTOMER_OWNERS)]]
            slug = first.lower()
            partner = Partner(
                kind=PartnerKind.COMPANY,
                name=f"{first} {suffix}",
                email=f"info@{slug}-{suffix.lower()}.example",
                phone=f"+{10 + number % 80} {100_000 + number * 7919 % 900_000}",
                owner_id=owner.id,
                team_id=owner.team_id,
                active=number % 11 != 0,
                addresses=[Address(city=city, country=country, street=f"Via {first} {number}")],
            )
            session.add(partner)
            session.flush()
            log_activity(
                session,
                partner.id,
                ActivityKind.CALL if number % 2 else ActivityKind.MEETING,
                f"First contact with {partner.name}",
                user_id=owner.id,
            )
            number += 1
