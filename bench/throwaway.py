"""What every bench needs before it measures: a throwaway database (a SQLite file in a
temporary folder, or a new database on a PostgreSQL server, dropped at the end) and an
Accord configuration migrated on it. Imported by the bench scripts, run from this folder."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from accord.core.config_file import write_new_config
from accord.core.runtime import Runtime


@contextmanager
def database(folder: Path, postgres: str) -> Iterator[str]:
    """The URL of a throwaway database: SQLite in ``folder``, or a new database on the
    server ``postgres`` names, dropped when the block ends."""
    if not postgres:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"accord_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_runtime(folder: Path, url: str, plugins: Sequence[str] = ()) -> Iterator[Runtime]:
    """A Runtime for an accord.toml in ``folder`` on ``url``, migrated, closed at the end."""
    config = folder / "accord.toml"
    write_new_config(config, database_url=url, plugins=plugins)
    runtime = Runtime(config)
    try:
        runtime.migrator.upgrade(report=lambda line: None)
        yield runtime
    finally:
        runtime.close()
