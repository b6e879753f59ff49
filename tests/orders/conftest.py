"""A small company for the orders tests: a direct sales team under its manager, the back
office, the technical office, a customer of the salesperson, and a catalogue with a
stocked product, a serial-numbered one, a licensed one and a made-to-order one."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from accord.api import Partner, PartnerKind, Principal, Runtime, TeamKind, User
from accord.core.db import Database
from accord.core.security import create_team, create_user
from accord.plugins.orders.api import Product, UnitTracking


@pytest.fixture
def accord_plugins() -> Sequence[str]:
    return ["orders"]


@pytest.fixture
def orders_toml() -> str:
    """Lines added to the test's accord.toml (a test module overrides it)."""
    return ""


@pytest.fixture
def accord_config(accord_config: Path, orders_toml: str) -> Path:
    if orders_toml:
        accord_config.write_text(accord_config.read_text() + "\n" + orders_toml + "\n")
    return accord_config


@dataclass
class Company:
    runtime: Runtime
    db: Database
    users: dict[str, User]
    customer_id: int
    products: dict[str, int]

    def as_(self, login: str) -> AbstractContextManager[Session]:
        """A unit of work acting as the user ``login``."""
        return self.db.session(self.runtime.principal_for(self.users[login].id))

    def system(self) -> AbstractContextManager[Session]:
        return self.db.session(Principal.system("test"))


PEOPLE = {
    # login: (role, team)
    "sam": ("salesperson", "North"),
    "sue": ("salesperson", "South"),
    "mia": ("sales_manager", "Direct sales"),
    "bea": ("back_office", "Back office"),
    "bob": ("back_office", "Back office"),
    "ted": ("technical_office", "Technical office"),
}


@pytest.fixture
def company(accord_runtime: Runtime, accord_db: Database) -> Company:
    with accord_db.session(Principal.system("test")) as session:
        direct = create_team(session, "Direct sales", TeamKind.DIRECT_SALES)
        teams = {
            "Direct sales": direct,
            "North": create_team(session, "North", TeamKind.DIRECT_SALES, direct),
            "South": create_team(session, "South", TeamKind.DIRECT_SALES, direct),
            "Back office": create_team(session, "Back office", TeamKind.BACK_OFFICE),
            "Technical office": create_team(session, "Technical office", TeamKind.TECHNICAL_OFFICE),
        }
        users = {
            login: create_user(
                session, login, "correct horse battery", roles=(role,), team=teams[team]
            )
            for login, (role, team) in PEOPLE.items()
        }
        customer = Partner(
            kind=PartnerKind.COMPANY,
            name="Garda Srl",
            email="buyer@garda.example",
            owner_id=users["sam"].id,
            team_id=teams["North"].id,
        )
        session.add(customer)
        products = [
            Product(
                sku="PUMP-100",
                name="Pump 100",
                product_line="Pumps",
                list_price=Decimal("1000.00"),
                cost=Decimal("600.00"),
                stock=Decimal("10"),
            ),
            Product(
                sku="CTRL-7",
                name="Controller 7",
                product_line="Controls",
                list_price=Decimal("250.00"),
                cost=Decimal("100.00"),
                stock=Decimal("5"),
                tracking=UnitTracking.SERIAL,
            ),
            Product(
                sku="SCADA-LIC",
                name="SCADA licence",
                product_line="Software",
                list_price=Decimal("400.00"),
                cost=Decimal("20.00"),
                stock=Decimal("1000"),
                tracking=UnitTracking.LICENCE,
            ),
            Product(
                sku="SKID-X",
                name="Custom pump skid",
                product_line="Pumps",
                list_price=Decimal("9000.00"),
                cost=Decimal("0"),
                standard=False,
            ),
        ]
        session.add_all(products)
        session.flush()
        return Company(
            runtime=accord_runtime,
            db=accord_db,
            users=users,
            customer_id=customer.id,
            products={product.sku: product.id for product in products},
        )
