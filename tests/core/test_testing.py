"""The accord_db fixture migrates once per set of revisions and copies the result: a copy
must be the database a real upgrade makes, on SQLite and PostgreSQL."""

import secrets

import pytest
from sqlalchemy import inspect, select

from accord.core.access import Principal
from accord.core.config_file import write_new_config
from accord.core.migrate import Migrator
from accord.core.runtime import Runtime
from accord.core.security import Role
from accord.testing import MigratedSchemas

PLUGINS = ["orders", "collections"]


@pytest.fixture
def new_runtime(accord_backend, accord_clean_environment, tmp_path, request):
    """``new_runtime(name)``: a runtime for PLUGINS on a database of its own, empty."""
    runtimes: list[Runtime] = []

    def make(name: str) -> Runtime:
        if accord_backend == "sqlite":
            url = f"sqlite:///{tmp_path / f'{name}.db'}"
        else:
            server = request.getfixturevalue("accord_postgres")
            if server is None:
                pytest.skip("PostgreSQL is not reachable: this test ran on SQLite only")
            url = server.schema_url(f"t_{secrets.token_hex(6)}")
        config = tmp_path / f"{name}.toml"
        write_new_config(config, database_url=url, plugins=PLUGINS)
        runtimes.append(Runtime(config))
        return runtimes[-1]

    yield make
    for runtime in runtimes:
        runtime.close()


def schema_of(runtime: Runtime) -> dict[str, object]:
    """Tables with their columns, indexes, foreign keys and checks, and the branches' heads."""
    inspector = inspect(runtime.db.engine)
    tables = {
        table: (
            [(column["name"], str(column["type"]), column["nullable"]) for column in columns],
            sorted((index["name"], tuple(index["column_names"])) for index in indexes),
            sorted(str(key["name"]) for key in inspector.get_foreign_keys(table)),
            sorted(str(check["name"]) for check in inspector.get_check_constraints(table)),
        )
        for table, columns, indexes in (
            (table, inspector.get_columns(table), inspector.get_indexes(table))
            for table in inspector.get_table_names()
        )
    }
    with runtime.db.session(Principal.system("test")) as session:
        roles = sorted(session.scalars(select(Role.name)))
    return {"tables": tables, "heads": runtime.migrator.current(), "roles": roles}


def test_a_copied_database_is_the_one_an_upgrade_makes(new_runtime, tmp_path, monkeypatch):
    upgraded = new_runtime("upgraded")
    upgraded.migrator.upgrade(report=lambda line: None)
    kept = MigratedSchemas(tmp_path / "kept")
    kept.folder.mkdir()
    kept.upgrade(new_runtime("first"))  # runs the revisions, keeps what they made

    def no_alembic(self, report=print):
        raise AssertionError("the second database should be a copy; alembic ran again")

    monkeypatch.setattr(Migrator, "upgrade_schema", no_alembic)
    copied = new_runtime("copied")
    kept.upgrade(copied)

    assert schema_of(copied) == schema_of(upgraded)
    assert "orders_order" in schema_of(copied)["tables"]


def test_a_database_that_holds_tables_already_is_upgraded_not_replaced(new_runtime, tmp_path):
    kept = MigratedSchemas(tmp_path / "kept")
    kept.folder.mkdir()
    kept.upgrade(new_runtime("first"))
    runtime = new_runtime("second")
    with runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE legacy_notes (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO legacy_notes (id) VALUES (7)")

    kept.upgrade(runtime)

    with runtime.db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT id FROM legacy_notes").scalars().all() == [7]
    assert {"legacy_notes", "orders_order"} <= set(inspect(runtime.db.engine).get_table_names())
