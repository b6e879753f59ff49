"""The database: one declarative Base for every plugin, engines for SQLite and PostgreSQL,
and one session per request, command or job."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from sqlalchemy import DateTime, Engine, Enum, MetaData, create_engine, event, func
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    SessionTransaction,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from accord.core.errors import DatabaseError

if TYPE_CHECKING:
    from accord.core.access import Principal

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored in UTC; SQLite keeps no zone, so one is put back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use an aware one (datetime.now(UTC))")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)


def str_enum(kind: type[enum.StrEnum], length: int = 20) -> Enum:
    """A column type for a ``StrEnum``: stored as its values in a VARCHAR, so adding a
    member never needs a database type change (PostgreSQL native enums would)."""
    return Enum(
        kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """The one declarative base of every Accord model, kernel and plugins alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


intpk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[
    dt.datetime, mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
]


class TimestampMixin:
    """When a row was created and last changed."""

    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


def engine_for(url: str, **options: Any) -> Engine:
    """An engine for ``url``: SQLite with WAL and foreign keys on, or PostgreSQL (psycopg 3)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def _sqlite_pragmas(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WRITES = "accord_writes"


def act_as(session: Session, principal: Principal) -> None:
    """From now on ``session`` reads and writes on behalf of ``principal`` (its rules apply,
    the audit log names it). For a unit of work that finds out in its own transaction who
    is acting, as a request does with its signed-in user; otherwise open the session with
    ``Database.session(principal)``."""
    session.info["principal"] = principal
    session.info["actor"] = principal.actor


def _begin_immediately(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """On SQLite, a unit of work meant to write takes the write lock with its first
    statement, not at its first write (see Database.session). A savepoint that opens the
    unit of work is told here too, after its outer transaction: only that one begins."""
    if session.info.get(WRITES) and transaction.parent is None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and its session factory; ``with db.session() as session:`` is one unit of
    work that commits when the block ends and rolls back on an error."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.engine = engine_for(url, **options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Both import this module's Base. Access listens on every Session and is installed
        # first, so it runs first: a bulk statement is narrowed to the principal's rows
        # before the audit log records it.
        from accord.core.access import install_access
        from accord.core.audit import install_audit

        install_access()
        install_audit(self.sessions)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.sessions, "after_begin", _begin_immediately)

    @contextmanager
    def session(
        self,
        principal: Principal | None = None,
        context: str | None = None,
        *,
        writes: bool = False,
    ) -> Iterator[Session]:
        """One unit of work on behalf of ``principal``: it reads only the rows the principal
        may see, may change only what it may change, and is named in the audit entries
        with ``context`` (the request or job id). Without a principal it may touch no
        protected model.

        ``writes`` says that the unit of work is meant to change data. On SQLite it then
        takes the database's write lock with its first statement (``BEGIN IMMEDIATE``),
        waiting for another writer to finish if need be: a transaction that has read (a savepoint
        starts one) cannot wait for that lock later, SQLite refuses it at once with
        "database is locked" as soon as another writer has committed since. On
        PostgreSQL it changes nothing."""
        session = self.sessions()
        if principal is not None:
            act_as(session, principal)
        if context is not None:
            session.info["context"] = context
        if writes:
            session.info[WRITES] = True
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def check_connection(self) -> None:
        """Fail with one clear line when the database cannot be reached."""
        from sqlalchemy.exc import OperationalError

        try:
            with self.engine.connect():
                pass
        except OperationalError as error:
            where = make_url(self.url).render_as_string(hide_password=True)
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise DatabaseError(f"cannot connect to the database {where}: {reason}") from None

    def refresh_statistics(self) -> None:
        """Let the query planner know the tables' sizes. PostgreSQL's autovacuum does it by
        itself; SQLite keeps no statistics until asked, and without them a team filter on a
        large table picks a plan sixty times slower (bench/access_filter.py). A sampled
        ANALYZE (analysis_limit) underestimates how many rows share a team and picks that
        slow plan all the same; a full one reads each index once, about 0.1 s for a million
        rows."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA analysis_limit=0")
            connection.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()
