"""The orders plugin as an integrator meets it: enabled like a partner's add-on, its tables
made by its own migrations, its permissions given to the kernel's hats, its settings
checked at start-up with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from accord.api import Runtime
from accord.core.errors import AccordError

from .conftest import Company


def test_upgrade_creates_the_orders_tables_and_they_match_the_models(accord_db, accord_cli) -> None:
    tables = set(inspect(accord_db.engine).get_table_names())
    assert {"orders_product", "orders_offer", "orders_order", "orders_delivered_unit"} <= tables
    result = accord_cli("db", "check")
    assert result.exit_code == 0, result.output
    assert "models and migrations agree" in result.output


def test_the_back_office_holds_the_confirm_permission_and_a_salesperson_does_not(
    company: Company,
) -> None:
    runtime = company.runtime
    assert runtime.principal_for(company.users["bea"].id).can("orders.orders.confirm")
    assert not runtime.principal_for(company.users["sam"].id).can("orders.orders.confirm")
    assert runtime.principal_for(company.users["ted"].id).can("orders.offers.approve")


def test_roles_list_shows_the_permissions_orders_gives_the_hats(
    company: Company, accord_cli
) -> None:
    result = accord_cli("roles", "list")
    assert result.exit_code == 0, result.output
    back_office = result.output.split("back_office:")[1].split("\n")[1]
    assert "orders.orders.confirm" in back_office


@pytest.mark.parametrize(
    ("orders_toml", "message"),
    [
        ("[orders]\ndiscount_threshold = 150", "discount_threshold: must be between 0 and 100"),
        ('[orders]\napproval_preset = "anyone"', "approval_preset"),
        ('[orders]\ncurrency = "euro"', "currency: must be a three-letter ISO 4217 code"),
    ],
)
def test_bad_orders_settings_stop_the_start_up_naming_the_key(
    accord_config: Path, message: str
) -> None:
    with pytest.raises(AccordError, match=message):
        Runtime(accord_config).settings  # noqa: B018 (reading the settings validates them)
