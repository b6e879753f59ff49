"""The demo company: a folder with settings, a migrated SQLite database holding every
built-in plugin, a small sales network (a direct sales force in two areas under a manager,
an agency, a distributor, a back office) with its customers, and users wearing each hat,
whose credentials are printed. Then each enabled plugin adds its own demo data through the
``accord_demo`` hook."""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.activities import ActivityKind, log_activity
from accord.core.audit import AuditEntry, system_actor
from accord.core.config_file import set_plugin_list, write_new_config
from accord.core.db import utcnow
from accord.core.errors import PluginError
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
DEMO = Principal.system("demo")
DEMO_MARK = "demo"
"""The audit log's model name for "the demo added this plugin's data", one entry per plugin:
a later run keeps that data rather than adding it twice."""


@dataclass(frozen=True)
class DemoContext:
    """What a plugin's ``accord_demo`` gets to add its demo data to the demo company.

    ``session`` acts as the system principal (it may write everything) in a transaction of
    the plugin's own; ``rng`` is seeded with the plugin's name, so the demo is the same on
    every machine; ``users`` are the demo's users by login (admin, mia, sam, sue, ugo,
    dana, bea), ``teams`` its teams by name, ``customers`` its customer companies by id
    (the kernel's 80, and any a plugin called before this one added); ``report(text)``
    prints a line of progress."""

    session: Session
    rng: random.Random
    users: Mapping[str, User]
    teams: Mapping[str, Team]
    customers: Sequence[Partner]
    report: Callable[[str], None]


# login: (name, role, team) — one person per hat; they share the printed password.
PEOPLE = {
    "mia": ("Mia Conti", "sales_manager", "Direct sales"),
    "sam": ("Sam Bauer", "salesperson", "North"),
    "sue": ("Sue Lindqvist", "salesperson", "South"),
    "ugo": ("Ugo Rossi", "agent", "Agenzia Rossi"),
    "dana": ("Dana Nilsen", "distributor", "Nordic Distribution"),
    "bea": ("Bea Moreau", "back_office", "Back office"),
    "ada": ("Ada Ferri", "administration", "Administration"),
}
TEAMS = [  # name, kind, parent
    ("Direct sales", TeamKind.DIRECT_SALES, None),
    ("North", TeamKind.DIRECT_SALES, "Direct sales"),
    ("South", TeamKind.DIRECT_SALES, "Direct sales"),
    ("Agenzia Rossi", TeamKind.AGENTS, None),
    ("Nordic Distribution", TeamKind.DISTRIBUTORS, None),
    ("Back office", TeamKind.BACK_OFFICE, None),
    ("Administration", TeamKind.ADMINISTRATION, None),
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
    else:
        _enable_new_built_ins(config, built_in, report)
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
                for login in add_missing_hats(session, password):
                    report(f"added {login}, a hat the demo did not have yet")
        add_plugin_demo_data(runtime, report)
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
        login: _hat_user(session, login, password, teams[team])
        for login, (_, _, team) in PEOPLE.items()
    }
    number = 0
    now = utcnow()
    today = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
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
            # Customers won over the past year, so the dashboard's charts have a history.
            partner.created_at = now - dt.timedelta(days=(number * 37) % 360, hours=number)
            session.add(partner)
            session.flush()
            log_activity(
                session,
                partner.id,
                ActivityKind.CALL if number % 2 else ActivityKind.MEETING,
                f"First contact with {partner.name}",
                user_id=owner.id,
                occurred_at=partner.created_at,
            )
            if number % 3 == 0:  # a follow-up for the owner, some of them overdue
                log_activity(
                    session,
                    partner.id,
                    ActivityKind.TASK,
                    f"Follow up with {partner.name}",
                    user_id=owner.id,
                    occurred_at=partner.created_at + dt.timedelta(days=1),
                    due_at=today + dt.timedelta(days=number % 20 - 6),
                )
            number += 1


def add_missing_hats(session: Session, password: str) -> list[str]:
    """A demo made before a hat joined ``PEOPLE`` gets its user (and team) on its next
    run; returns their logins."""
    existing = set(session.scalars(select(User.login).where(User.login.in_(PEOPLE))))
    kinds = {name: kind for name, kind, _ in TEAMS}
    added = []
    for login, (_, _, team_name) in PEOPLE.items():
        if login in existing:
            continue
        team = session.scalar(select(Team).where(Team.name == team_name))
        if team is None:
            team = create_team(session, team_name, kinds[team_name])
        _hat_user(session, login, password, team)
        added.append(login)
    return added


def _hat_user(session: Session, login: str, password: str, team: Team) -> User:
    """The demo user ``login`` of ``PEOPLE``, wearing its hat in ``team``."""
    name, role, _ = PEOPLE[login]
    return create_user(
        session, login, password, name=name, email=f"{login}@demo.example", roles=[role], team=team
    )


def _enable_new_built_ins(config: Path, built_in: list[str], report: Callable[[str], None]) -> None:
    """A demo built before a built-in plugin was installed gets it on its next run."""
    from accord.core.settings import read_config_file

    listed = read_config_file(config).get("plugins", [])
    if not isinstance(listed, list):
        return  # a hand-edited file: `load_settings` names what is wrong with it
    missing = [name for name in built_in if name not in listed]
    if missing:
        set_plugin_list(config, [*listed, *missing])
        report(f"enabled the newly installed built-in plugin(s): {', '.join(missing)}")


def add_plugin_demo_data(runtime: Runtime, report: Callable[[str], None] = print) -> list[str]:
    """Call each enabled plugin's ``accord_demo``, in dependency order, once per database:
    a plugin whose demo data is there already (the audit log says so) is skipped, so a
    refreshed demo keeps every plugin's data and adds that of a plugin enabled since.
    Each plugin works in a transaction of its own; returns the plugins that added data."""
    implementations = runtime.pm.hook.accord_demo.get_hookimpls()
    added = []
    for found in runtime.settings.enabled:
        mine = [impl for impl in implementations if impl.plugin_name == found.name]
        if not mine:
            continue
        context = f"demo:{found.name}"
        with runtime.db.session(DEMO, context=context) as session:
            done = select(AuditEntry.id).where(
                AuditEntry.model == DEMO_MARK, AuditEntry.record_id == found.name
            )
            if session.scalar(done.limit(1)) is not None:
                report(f"{found.name}: demo data already there, kept")
                continue
            demo = demo_context(session, found.name, report)
            try:
                for impl in mine:
                    impl.function(*[{"demo": demo}[name] for name in impl.argnames])
            except Exception as error:
                raise PluginError(
                    f"plugin {found.name!r}: accord_demo failed, none of its demo data was "
                    f"kept: {type(error).__name__}: {error}"
                ) from error
            session.add(
                AuditEntry(
                    model=DEMO_MARK,
                    record_id=found.name,
                    field="demo_data",
                    new_value=json.dumps({"version": found.plugin.version}),
                    action="create",
                    actor=system_actor("demo"),
                    context=context,
                )
            )
        added.append(found.name)
    return added


def demo_context(session: Session, plugin: str, report: Callable[[str], None]) -> DemoContext:
    """The demo company as ``plugin``'s demo hook sees it, read in ``session``."""
    return DemoContext(
        session=session,
        rng=random.Random(f"accord-demo:{plugin}"),
        users={user.login: user for user in session.scalars(select(User).order_by(User.id))},
        teams={team.name: team for team in session.scalars(select(Team).order_by(Team.id))},
        customers=session.scalars(
            select(Partner).where(Partner.kind == PartnerKind.COMPANY).order_by(Partner.id)
        ).all(),
        report=lambda text: report(f"{plugin}: {text}"),
    )
