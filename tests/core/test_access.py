"""Access control in the data layer: each hat sees and changes exactly its part of the
sales network, whatever the access path (DESIGN rule 3), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import (
    Session,
    aliased,
    contains_eager,
    joinedload,
    selectinload,
    subqueryload,
)

from accord.core.access import AccessDeniedError, Principal, readable
from accord.core.db import Database
from accord.core.errors import SettingsError
from accord.core.partners import Address, Partner, PartnerKind
from accord.core.runtime import Runtime
from accord.core.security import (
    TeamKind,
    User,
    create_api_key,
    create_team,
    create_user,
    user_for_api_key,
)

SYSTEM = Principal.system("test")


@dataclass
class Network:
    """A small sales network: a direct sales force in two areas under one manager, an
    agency, a distributor with two people, a back office and an administrator."""

    users: dict[str, User]
    partners: dict[str, int]  # partner name -> id

    def ids(self, *names: str) -> set[int]:
        return {self.partners[name] for name in names}


@pytest.fixture
def network(accord_db: Database) -> Network:
    with accord_db.session(SYSTEM) as session:
        sales = create_team(session, "Direct sales", TeamKind.DIRECT_SALES)
        north = create_team(session, "North", TeamKind.DIRECT_SALES, sales)
        south = create_team(session, "South", TeamKind.DIRECT_SALES, sales)
        agency = create_team(session, "Agenzia Rossi", TeamKind.AGENTS)
        nordic = create_team(session, "Nordic Distribution", TeamKind.DISTRIBUTORS)
        office = create_team(session, "Back office", TeamKind.BACK_OFFICE)

        def user(login: str, role: str, team: Any) -> User:
            return create_user(session, login, "correct horse battery", roles=[role], team=team)

        users = {
            "sam": user("sam", "salesperson", north),
            "sue": user("sue", "salesperson", south),
            "mia": user("mia", "sales_manager", sales),
            "ugo": user("ugo", "agent", agency),
            "dana": user("dana", "distributor", nordic),
            "dirk": user("dirk", "distributor", nordic),
            "bea": user("bea", "back_office", office),
            "ada": user("ada", "admin", None),
        }
        owners = {
            "Sam's customer": ("sam", north),
            "Sue's customer": ("sue", south),
            "Ugo's customer": ("ugo", agency),
            "Dirk's customer": ("dirk", nordic),
            "Walk-in customer": (None, None),
        }
        partners = {}
        for name, (owner, team) in owners.items():
            partner = Partner(
                kind=PartnerKind.COMPANY,
                name=name,
                owner_id=users[owner].id if owner else None,
                team_id=team.id if team else None,
                addresses=[Address(city=f"{name} city")],
            )
            session.add(partner)
            session.flush()
            partners[name] = partner.id
    return Network(users, partners)


ALL = ("Sam's customer", "Sue's customer", "Ugo's customer", "Dirk's customer", "Walk-in customer")
SEES = {
    "sam": ("Sam's customer",),  # a salesperson: own customers
    "ugo": ("Ugo's customer",),  # an agent: own customers
    "dana": ("Dirk's customer",),  # a distributor: its firm's customers
    "mia": ("Sam's customer", "Sue's customer"),  # a manager: the teams below her
    "bea": ALL,  # the back office: everyone's
    "ada": ALL,  # the administrator
}
MAY_DELETE = {"sam": (), "ugo": (), "dana": (), "mia": SEES["mia"], "bea": (), "ada": ALL}
ROLES = sorted(SEES)


@pytest.fixture
def acting(accord_runtime: Runtime, accord_db: Database) -> Any:
    def session_of(user: User) -> Any:
        return accord_db.session(accord_runtime.principal_for(user.id))

    return session_of


def names(session: Session, ids: Any) -> set[str]:
    with Session(session.get_bind(), info={"principal": SYSTEM}) as plain:  # to name them
        return set(plain.scalars(select(Partner.name).where(Partner.id.in_(list(ids)))))


@pytest.mark.parametrize("login", ROLES)
def test_list_count_and_get_show_exactly_the_roles_rows(
    network: Network, acting: Any, login: str
) -> None:
    expected = network.ids(*SEES[login])
    with acting(network.users[login]) as session:
        listed = set(session.scalars(select(Partner.id)))
        counted = session.scalar(select(func.count()).select_from(Partner))
        got = {pid for pid in network.partners.values() if session.get(Partner, pid) is not None}
    assert listed == expected, names(session, listed)
    assert counted == len(expected)
    assert got == expected


@pytest.mark.parametrize("login", ROLES)
def test_relationship_loads_and_joins_follow_the_customer(
    network: Network, acting: Any, login: str
) -> None:
    expected_cities = {f"{name} city" for name in SEES[login]}
    with acting(network.users[login]) as session:
        cities = set(session.scalars(select(Address.city)))
        joined = set(session.scalars(select(Address.city).join(Partner)))
        # Lazy loads in both directions: from a visible customer to its addresses, and
        # from an address to its customer.
        lazy = {a.city for p in session.scalars(select(Partner)) for a in p.addresses}
        parents = {a.partner.name for a in session.scalars(select(Address))}
        # A join from a model the user may read to one it may not read stays filtered.
        through = set(session.scalars(select(Partner.name).join(Address)))
    assert cities == joined == lazy == expected_cities
    assert parents == through == set(SEES[login])


@pytest.mark.parametrize("login", ROLES)
def test_bulk_update_changes_only_the_rows_the_role_may_write(
    network: Network, acting: Any, accord_db: Database, login: str
) -> None:
    with acting(network.users[login]) as session:
        result = session.execute(update(Partner).values(phone="+39 000"))
    assert result.rowcount == len(SEES[login])  # type: ignore[attr-defined]
    with accord_db.session(SYSTEM) as session:
        changed = set(session.scalars(select(Partner.name).where(Partner.phone == "+39 000")))
    assert changed == set(SEES[login])


@pytest.mark.parametrize("login", ROLES)
def test_delete_is_allowed_exactly_where_a_rule_grants_it(
    network: Network, acting: Any, accord_db: Database, login: str
) -> None:
    deletable = MAY_DELETE[login]
    for name in SEES[login]:
        if name in deletable:
            with acting(network.users[login]) as session:
                session.delete(session.get_one(Partner, network.partners[name]))
            continue
        refused = rf"user {login!r} \(\w+\) may not delete core_partner: no rule grants it"
        with (
            pytest.raises(AccessDeniedError, match=refused),
            acting(network.users[login]) as session,
        ):
            session.delete(session.get_one(Partner, network.partners[name]))
    with accord_db.session(SYSTEM) as session:
        left = set(session.scalars(select(Partner.name)))
    assert left == set(ALL) - set(deletable)


@pytest.mark.parametrize("login", ["sam", "ugo", "dana", "bea"])
def test_bulk_delete_without_a_delete_grant_is_refused_and_deletes_nothing(
    network: Network, acting: Any, accord_db: Database, login: str
) -> None:
    with (
        pytest.raises(AccessDeniedError, match="may not delete core_partner: no rule grants it"),
        acting(network.users[login]) as session,
    ):
        session.execute(delete(Partner))
    with accord_db.session(SYSTEM) as session:
        assert session.scalar(select(func.count()).select_from(Partner)) == len(ALL)


def test_bulk_delete_by_a_manager_removes_only_her_teams_customers(
    network: Network, acting: Any, accord_db: Database
) -> None:
    with acting(network.users["mia"]) as session:
        session.execute(delete(Partner))
    with accord_db.session(SYSTEM) as session:
        left = set(session.scalars(select(Partner.name)))
    assert left == set(ALL) - set(SEES["mia"])


def test_a_salesperson_cannot_create_a_customer_for_someone_else(
    network: Network, acting: Any, accord_db: Database
) -> None:
    sam, sue = network.users["sam"], network.users["sue"]
    with (
        pytest.raises(AccessDeniedError, match=r"user 'sam' .* may not create core_partner"),
        acting(sam) as session,
    ):
        session.add(Partner(kind=PartnerKind.COMPANY, name="Poached", owner_id=sue.id))
    with acting(sam) as session:
        session.add(Partner(kind=PartnerKind.COMPANY, name="Found at a fair", owner_id=sam.id))
    with accord_db.session(SYSTEM) as session:
        created = set(
            session.scalars(select(Partner.name).where(Partner.id > max(network.ids(*ALL))))
        )
    assert created == {"Found at a fair"}


def test_a_salesperson_cannot_hand_a_customer_to_another_salesperson(
    network: Network, acting: Any, accord_db: Database
) -> None:
    sam, sue = network.users["sam"], network.users["sue"]
    customer_id = network.partners["Sam's customer"]
    with (
        pytest.raises(AccessDeniedError, match="may not write core_partner #"),
        acting(sam) as session,
    ):
        session.get_one(Partner, customer_id).owner_id = sue.id
    with accord_db.session(SYSTEM) as session:
        assert session.get_one(Partner, customer_id).owner_id == sam.id


def test_an_address_of_someone_elses_customer_cannot_be_added(
    network: Network, acting: Any
) -> None:
    with (
        pytest.raises(AccessDeniedError, match="may not create core_address"),
        acting(network.users["sam"]) as session,
    ):
        session.add(Address(partner_id=network.partners["Sue's customer"], city="Nowhere"))


def test_a_session_without_a_principal_reads_and_writes_nothing(
    network: Network, accord_db: Database
) -> None:
    handmade = Session(accord_db.engine)  # not made by Database: enforced all the same
    with pytest.raises(AccessDeniedError, match="reading core_partner: this session has no"):
        handmade.get(Partner, network.partners["Sam's customer"])
    handmade.close()
    with (
        pytest.raises(
            AccessDeniedError, match="reading core_partner: this session has no principal"
        ),
        accord_db.session() as session,
    ):
        session.scalars(select(Partner)).all()
    with (
        pytest.raises(AccessDeniedError, match="without a principal may not create core_partner"),
        accord_db.session() as session,
    ):
        session.add(Partner(kind=PartnerKind.COMPANY, name="Ghost"))
    with (
        pytest.raises(AccessDeniedError, match="may not write core_partner"),
        accord_db.session() as session,
    ):
        session.execute(update(Partner).values(phone="1"))


@pytest.mark.parametrize(
    "statement",
    [
        select(Partner.__table__),
        update(Partner.__table__).values(phone="1"),
        delete(Address.__table__),
    ],
    ids=["select", "update", "delete"],
)
def test_core_statements_on_business_tables_are_for_the_system_only(
    network: Network, acting: Any, accord_db: Database, statement: Any
) -> None:
    with (
        pytest.raises(AccessDeniedError, match="may not run a Core statement on core_"),
        acting(network.users["ada"]) as session,  # even the administrator: rules need the ORM
    ):
        session.execute(statement)
    with accord_db.session(SYSTEM) as session:
        assert len(session.execute(select(Partner.__table__)).all()) == len(ALL)


# --- accord.toml changes the table ----------------------------------------------------------


def runtime_with(accord_config: Path, extra: str) -> Runtime:
    accord_config.write_text(accord_config.read_text() + "\n" + extra)
    return Runtime(accord_config)


@pytest.fixture
def reconfigure(accord_config: Path) -> Iterator[Any]:
    made: list[Runtime] = []

    def make(extra: str) -> Runtime:
        runtime = runtime_with(accord_config, extra)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def visible(runtime: Runtime, user: User) -> set[str]:
    with runtime.db.session(runtime.principal_for(user.id)) as session:
        return set(session.scalars(select(Partner.name)))


def test_a_company_lets_its_agents_share_customers_within_their_agency(
    network: Network, accord_db: Database, reconfigure: Any
) -> None:
    with accord_db.session(SYSTEM) as session:
        agency = session.get_one(User, network.users["ugo"].id).team
        colleague = create_user(
            session, "uma", "correct horse battery", roles=["agent"], team=agency
        )
    runtime = reconfigure('[access."core.partner_agent"]\nscope = "team"\n')
    assert visible(runtime, colleague) == {"Ugo's customer"}


def test_a_restriction_applies_to_every_role_even_the_admin(
    network: Network, reconfigure: Any
) -> None:
    runtime = reconfigure(
        '[access."acme.only_the_network"]\n'
        'model = "core_partner"\noperations = ["read"]\nscope = "subtree"\n'
    )
    assert visible(runtime, network.users["mia"]) == {"Sam's customer", "Sue's customer"}
    assert visible(runtime, network.users["bea"]) == set()  # no customer in the back office team
    assert visible(runtime, network.users["ada"]) == set()  # the admin has no team


def test_a_company_adds_a_role_with_its_own_rule(
    network: Network, accord_db: Database, reconfigure: Any
) -> None:
    runtime = reconfigure(
        '[roles.key_account]\ntitle = "Key account manager"\n'
        'permissions = ["core.partners.read"]\n\n'
        '[access."acme.key_accounts"]\nmodel = "core_partner"\n'
        'operations = ["read"]\nrole = "key_account"\nscope = "all"\n'
    )
    runtime.migrator.upgrade(report=lambda line: None)  # puts the new role in the role table
    with runtime.db.session(SYSTEM) as session:
        kam = create_user(session, "kim", "correct horse battery", roles=["key_account"])
    assert visible(runtime, kam) == set(ALL)
    assert runtime.principal_for(kam.id).can("core.partners.read")


# Each statement below names only customers; every one of them reaches addresses, which the
# salesperson may not read once the company withdraws them: the rows must stay hidden
# however the statement gets to them.
HIDDEN_ADDRESS_PATHS: dict[str, Any] = {
    "relationship join": lambda s: s.scalars(select(Partner.name).join(Partner.addresses)),
    "aliased relationship join": lambda s: s.scalars(
        select(Partner.name).join(Partner.addresses.of_type(aliased(Address)))
    ),
    "outer join": lambda s: s.scalars(
        select(Address.city).select_from(Partner).outerjoin(Partner.addresses)
    ),
    "any()": lambda s: s.scalars(select(Partner.name).where(Partner.addresses.any())),
    "subquery": lambda s: s.scalars(
        select(Partner.name).where(Partner.id.in_(select(Address.partner_id)))
    ),
    "correlated exists": lambda s: s.scalars(
        select(Partner.name).where(exists().where(Address.partner_id == Partner.id))
    ),
    "lazy load": lambda s: [a.city for p in s.scalars(select(Partner)) for a in p.addresses],
    "joined eager load": lambda s: [
        a.city
        for p in s.scalars(select(Partner).options(joinedload(Partner.addresses))).unique()
        for a in p.addresses
    ],
    "select-in eager load": lambda s: [
        a.city
        for p in s.scalars(select(Partner).options(selectinload(Partner.addresses)))
        for a in p.addresses
    ],
    "subquery eager load": lambda s: [
        a.city
        for p in s.scalars(select(Partner).options(subqueryload(Partner.addresses)))
        for a in p.addresses
    ],
    "get with eager load": lambda s: [
        a.city
        for p in [
            s.get(
                Partner,
                s.scalars(select(Partner.id)).one(),
                options=[joinedload(Partner.addresses)],
            )
        ]
        for a in p.addresses
    ],
}


@pytest.mark.parametrize("path", sorted(HIDDEN_ADDRESS_PATHS))
def test_a_model_reached_only_through_a_relationship_is_still_filtered(
    network: Network, reconfigure: Any, path: str
) -> None:
    runtime = reconfigure('[access."core.address_follows_partner"]\nrole = "admin"\n')
    sam = runtime.principal_for(network.users["sam"].id)
    with runtime.db.session(sam) as session:
        assert session.scalars(select(Partner.name)).all() == ["Sam's customer"]
        assert session.scalars(select(Address.city)).all() == []
        found = list(HIDDEN_ADDRESS_PATHS[path](session))
    assert found in ([], [None]), f"{path} reads addresses sam may not read: {found}"


def test_readable_shows_a_statement_as_each_session_sends_it(
    network: Network, accord_runtime: Runtime
) -> None:
    statement = select(Partner.name)
    sam = accord_runtime.principal_for(network.users["sam"].id)
    assert readable(statement, SYSTEM) is statement  # the system reads everything
    assert "owner_id" in str(readable(statement, sam))  # a salesperson: own customers
    with pytest.raises(AccessDeniedError), accord_runtime.db.session() as session:
        session.scalars(readable(statement, None)).all()  # nobody: refused before it is sent


def test_every_occurrence_of_a_model_in_one_statement_is_filtered(
    network: Network, acting: Any
) -> None:
    other = aliased(Partner)
    with acting(network.users["sam"]) as session:
        inside = session.scalars(select(Partner.name).where(Partner.id.in_(select(other.id)))).all()
        unioned = session.scalars(
            select(Partner.name).where(Partner.name != "").union(select(other.name))
        ).all()
        counted = session.scalar(
            select(func.count()).select_from(select(Partner.id).limit(1000).subquery())
        )
    assert inside == ["Sam's customer"]
    assert unioned == ["Sam's customer"]
    assert counted == 1


@pytest.fixture
def companies(network: Network, accord_db: Database) -> Network:
    """The network, where Sam's customer is a subsidiary of Sue's customer: a relationship
    from a row the salesperson may read to one he may not."""
    with accord_db.session(SYSTEM) as session:
        session.get_one(Partner, network.partners["Sam's customer"]).company_id = network.partners[
            "Sue's customer"
        ]
    return network


def _pairs(session: Session, statement: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(row) for row in session.execute(statement))


# Each statement below reads customers through an alias of the customer model: the alias's
# rows must be filtered like the model's, wherever the alias stands. What Sam sees: his
# one customer, whose company is Sue's customer (hidden from him).
ALIAS_PATHS: dict[str, tuple[Any, list[tuple[Any, ...]]]] = {}


def _alias_path(name: str, expected: list[tuple[Any, ...]]) -> Any:
    def register(build: Any) -> Any:
        ALIAS_PATHS[name] = (build, expected)
        return build

    return register


@_alias_path("alias joined to its model", [])
def _joined_alias() -> Any:
    other = aliased(Partner)
    return select(Partner.name, other.name).join(other, other.id != Partner.id)


@_alias_path("flat alias joined to its model", [])
def _joined_flat_alias() -> Any:
    other = aliased(Partner, flat=True)
    return select(Partner.name, other.name).join(other, other.id != Partner.id)


@_alias_path("alias outer-joined to its model", [("Sam's customer", None)])
def _outer_joined_alias() -> Any:
    company = aliased(Partner)
    return select(Partner.name, company.name).outerjoin(company, company.id == Partner.company_id)


@_alias_path("alias joined in a subquery", [])
def _alias_in_subquery() -> Any:
    other = aliased(Partner)
    found = select(other.name).select_from(Partner).join(other, other.id != Partner.id)
    return select(found.subquery().c.name)


@_alias_path("alias joined in exists()", [])
def _alias_in_exists() -> Any:
    first, second = aliased(Partner), aliased(Partner)
    pair = select(second.id).join_from(first, second, second.id != first.id)
    return select(Partner.name).where(exists(pair))


@_alias_path("alias joined in a correlated subquery", [("Sam's customer", 0)])
def _alias_in_correlated_subquery() -> Any:
    this, other = aliased(Partner), aliased(Partner)
    others = (
        select(func.count(other.id))
        .join_from(this, other, other.id != this.id)
        .where(this.id == Partner.id)
        .scalar_subquery()
    )
    return select(Partner.name, others)


@_alias_path("select_from(aliased(...)) joined to another alias", [])
def _select_from_alias() -> Any:
    first, second = aliased(Partner), aliased(Partner)
    return select(first.name, second.name).select_from(first).join(second, second.id != first.id)


@_alias_path("union of two selects", [("Sam's customer",)])
def _union_with_alias() -> Any:
    other = aliased(Partner)
    mine = select(Partner.name)
    theirs = select(other.name).select_from(Partner).join(other, other.id != Partner.id)
    return mine.union(theirs)


@_alias_path("relationship join to an aliased target", [])
def _relationship_to_alias() -> Any:
    company = aliased(Partner)
    return select(Partner.name, company.name).join(Partner.company.of_type(company))


@_alias_path("relationship join to a flat alias, filtered on the alias", [])
def _relationship_to_flat_alias() -> Any:
    company = aliased(Partner, flat=True)
    return (
        select(Partner.name).join(company, Partner.company).where(company.name == "Sue's customer")
    )


@_alias_path("contains_eager of a flat alias joined by hand", [("Sam's customer", None)])
def _contains_eager_flat_alias() -> Any:
    company = aliased(Partner, flat=True)
    return (
        select(Partner)
        .outerjoin(company, company.id == Partner.company_id)
        .options(contains_eager(Partner.company.of_type(company)))
    )


@_alias_path("joinedload chain through the same model", [("Sam's customer city", None)])
def _joinedload_chain() -> Any:
    return select(Address).options(joinedload(Address.partner).joinedload(Partner.company))


@pytest.mark.parametrize("path", sorted(ALIAS_PATHS))
def test_an_alias_of_a_protected_model_is_filtered_wherever_it_stands(
    companies: Network, acting: Any, path: str
) -> None:
    build, expected = ALIAS_PATHS[path]
    with acting(companies.users["sam"]) as session:
        statement = build()
        if path == "contains_eager of a flat alias joined by hand":
            found = [
                (p.name, p.company.name if p.company else None)
                for p in session.scalars(statement).unique()
            ]
        elif path == "joinedload chain through the same model":
            found = [
                (a.city, a.partner.company.name if a.partner.company else None)
                for a in session.scalars(statement).unique()
            ]
        else:
            found = _pairs(session, statement)
    assert found == expected, f"{path}: sam reads {found}"


def test_one_aliased_statement_shows_each_user_his_own_rows_in_turn(
    network: Network, acting: Any
) -> None:
    # The compiled statement is cached once for its shape; each run must bring its own user's
    # values, never those of the user it was compiled for.
    other = aliased(Partner)
    customers = select(other.name).select_from(Partner).join(other, other.id == Partner.id)
    cities = select(Address.city).join(other, other.id == Address.partner_id)
    sees = {**SEES, "sue": ("Sue's customer",)}
    for login in ["sam", "sue", "ugo", "dana", "mia", "sam"]:
        with acting(network.users[login]) as session:
            assert set(session.scalars(customers)) == set(sees[login]), login
            assert set(session.scalars(cities)) == {f"{name} city" for name in sees[login]}


@pytest.mark.parametrize("accord_backend", ["sqlite"])
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[access."core.partner_agent"]\nrole = "pope"\n',
            "[access.\"core.partner_agent\"] role: unknown role 'pope'",
        ),
        (
            '[access."core.partner_agent"]\nscope = "galaxy"\n',
            "[access.\"core.partner_agent\"] scope: unknown scope 'galaxy'",
        ),
        (
            '[access."acme.new"]\nrole = "agent"\n',
            '[access."acme.new"]: no plugin declares this rule; a new rule needs model and '
            "operations",
        ),
        (
            '[roles.agent]\npermissions = ["leads.fly"]\n',
            "[roles.agent] permissions: unknown permission 'leads.fly'",
        ),
        (
            '[access."core.partner_agent"]\noperations = ["read", "steal"]\n',
            "operations",
        ),
    ],
)
def test_bad_access_settings_are_refused_naming_the_key(
    accord_config: Path, extra: str, message: str
) -> None:
    runtime = runtime_with(accord_config, extra)
    with pytest.raises(SettingsError) as raised:
        _ = runtime.policy
    assert message in str(raised.value)
    assert str(accord_config) in str(raised.value)


@pytest.mark.parametrize("accord_backend", ["sqlite"])
def test_roles_show_says_what_a_role_may_do_and_which_rows_say_so(accord_cli: Any) -> None:
    result = accord_cli("roles", "show", "sales_manager")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "sales_manager: Sales management"
    partner = lines.index("core_partner")
    assert lines[partner + 1].split() == [
        "read,",
        "write,",
        "create,",
        "delete",
        "subtree",
        "core.partner_sales_manager",
    ]
    assert lines[-1] == "no access: core_audit, core_workflow_history"

    unknown = accord_cli("roles", "show", "pope")
    assert unknown.exit_code == 1
    assert "Error: unknown role 'pope'; known: admin," in unknown.output


# --- API keys ------------------------------------------------------------------------------


def test_an_api_key_acts_as_its_user_until_revoked(
    network: Network, accord_db: Database, accord_runtime: Runtime
) -> None:
    with accord_db.session(SYSTEM) as session:
        key, token = create_api_key(session, network.users["ugo"], "ERP sync")
        assert token not in key.secret_hash
        assert len(key.secret_hash) == 64
    with accord_db.session(SYSTEM) as session:
        user = user_for_api_key(session, f"Bearer {token}")
        assert user is not None
        assert user.login == "ugo"
        assert user_for_api_key(session, token[:-1] + ("x" if token[-1] != "x" else "y")) is None
        assert user_for_api_key(session, "accord_nope") is None
        session.get_one(type(key), key.id).revoked_at = key.created_at
    with accord_db.session(SYSTEM) as session:
        assert user_for_api_key(session, token) is None


def test_apikey_commands_create_list_and_revoke(network: Network, accord_cli: Any) -> None:
    created = accord_cli("apikey", "create", "ugo", "--name", "ERP sync")
    assert created.exit_code == 0, created.output
    prefix = created.output.split()[2]
    listed = accord_cli("apikey", "list")
    assert f"{prefix}  ugo  ERP sync  never used  active" in listed.output
    assert accord_cli("apikey", "revoke", prefix).exit_code == 0
    assert f"{prefix}  ugo  ERP sync  never used  revoked" in accord_cli("apikey", "list").output
    missing = accord_cli("apikey", "create", "nobody", "--name", "x")
    assert missing.exit_code == 1
    assert "Error: no user 'nobody'" in missing.output
