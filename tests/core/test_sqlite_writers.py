"""Two units of work that both read and then write, on one SQLite file: the second waits
for the first instead of failing with "database is locked" (Database.session(writes=True);
the web app opens one for every request that is not GET, HEAD or OPTIONS)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from accord.core.access import Principal
from accord.core.db import Database
from accord.core.partners import Partner, PartnerKind
from accord.core.runtime import Runtime

SYSTEM = Principal.system("test")


def read_then_write(config: Path, writes: bool) -> tuple[list[int], list[BaseException]]:
    """A writes and holds its transaction open for a moment; B, started meanwhile, reads in a
    savepoint (which starts SQLite's transaction) and writes there once A has committed.
    Returns what B counted and the errors B met."""
    first, second = Runtime(config), Runtime(config)
    a_wrote, b_read, b_may_write = threading.Event(), threading.Event(), threading.Event()
    counted: list[int] = []
    errors: list[BaseException] = []

    def b() -> None:
        a_wrote.wait(5)
        try:
            with (
                second.db.session(SYSTEM, writes=writes) as session,
                session.begin_nested(),
            ):
                counted.append(session.scalar(select(func.count()).select_from(Partner)) or 0)
                b_read.set()
                b_may_write.wait(5)
                session.add(Partner(kind=PartnerKind.COMPANY, name="Second"))
                session.flush()
        except OperationalError as error:
            errors.append(error)
        finally:
            b_read.set()

    thread = threading.Thread(target=b)
    thread.start()
    try:
        with first.db.session(SYSTEM, writes=True) as session:
            session.add(Partner(kind=PartnerKind.COMPANY, name="First"))
            session.flush()
            a_wrote.set()
            # With writes=True, B waits for this commit before it reads anything, so it
            # never gets here: the timeout is the moment A holds its lock.
            b_read.wait(1)
        b_may_write.set()
        thread.join(10)
    finally:
        first.close()
        second.close()
    return counted, errors


@pytest.mark.parametrize("accord_backend", ["sqlite"])
def test_a_writing_unit_of_work_waits_for_the_other_writer(
    accord_config: Path, accord_db: Database
) -> None:
    counted, errors = read_then_write(accord_config, writes=True)

    assert errors == []
    assert counted == [1]  # B read after A's commit
    runtime = Runtime(accord_config)
    try:
        with runtime.db.session(SYSTEM) as session:
            names = session.scalars(select(Partner.name).order_by(Partner.id)).all()
    finally:
        runtime.close()
    assert names == ["First", "Second"]


@pytest.mark.parametrize("accord_backend", ["sqlite"])
def test_without_it_sqlite_refuses_the_late_writer(
    accord_config: Path, accord_db: Database
) -> None:
    """What writes=True is for: the same work without it fails at once."""
    counted, errors = read_then_write(accord_config, writes=False)

    assert counted == [0]
    assert len(errors) == 1
    assert "database is locked" in str(errors[0])
