"""pytest plugin for Accord and its add-ons (entry point ``pytest11``: active wherever
accord-crm is installed).

Fixtures, from the bottom up:

- ``accord_backend``: ``"sqlite"`` and ``"postgresql"``; every test that touches the
  database runs on both. PostgreSQL comes from ``--accord-postgres URL`` (or the
  ``PYTEST_ACCORD_POSTGRES`` variable; default the local server's ``test`` database); each
  run creates a throwaway database and each test a schema of its own. When the server
  cannot be reached the PostgreSQL variants are skipped, and the summary says so.
- ``accord_plugins``: the plugins a test enables; override it in a test module.
- ``accord_config``: a fresh ``accord.toml`` for those plugins and that database.
- ``accord_runtime``: settings, plugin manager and database for that file.
- ``accord_db``: the same database migrated to the newest revision of every branch.
  alembic runs once per set of revisions in a run (in each pytest-xdist worker): later
  tests get a copy of what it made, then their own role table (``MigratedSchemas``).
- ``accord_session``: a session of the system principal on it, committed at the end.
- ``accord_as``: ``with accord_as(user) as session:`` acts as that user, rules applied.
- ``accord_make_user``: creates users with roles.
- ``accord_cli``: runs ``accord ...`` commands against ``accord_config``.
- ``accord_extra_settings``: sections merged into the test's ``accord.toml``; override it in
  a test module (``return smtp_server.settings`` points ``[mail]`` at the test's server).
- ``smtp_server``: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives
  in ``.messages``.

``run_jobs(runtime)`` runs what the job runner would run now (mail deliveries included).
``signed_in_client(runtime, login, password)`` is a web client signed in as that user;
``post_form(client, path, **data)`` posts a form with the CSRF token; ``submit_form(client,
page, action, **values)`` posts a page's own form as a browser without JavaScript does, and
``post_forms(page)`` lists what each form would send.
"""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import socket
import sqlite3
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.config_file import write_new_config
from accord.core.db import Database
from accord.core.runtime import Runtime
from accord.core.security import User, create_user
from accord.core.settings import ENV_PREFIX

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_state: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("accord")
    group.addoption(
        "--accord-postgres",
        default=os.environ.get("PYTEST_ACCORD_POSTGRES", DEFAULT_POSTGRES),
        help="PostgreSQL server for the database tests ('off' to run on SQLite only).",
    )


class PostgresServer:
    """A throwaway database on the PostgreSQL server, made once per test run."""

    def __init__(self, admin_url: str) -> None:
        url = make_url(admin_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        self.admin_url = url
        self.database = f"accord_test_{secrets.token_hex(4)}"
        self.url: URL | None = None
        self.error = ""

    def start(self) -> None:
        try:
            engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.database}"'))
            engine.dispose()
        except OperationalError as error:
            self.error = str(error.orig or error).strip().splitlines()[0]
            return
        self.url = self.admin_url.set(database=self.database)

    def stop(self) -> None:
        if self.url is None:
            return
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        engine.dispose()

    def schema_url(self, schema: str) -> str:
        assert self.url is not None
        with create_engine(self.url).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        return self.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )


@pytest.fixture(scope="session")
def accord_postgres(request: pytest.FixtureRequest) -> Iterator[PostgresServer | None]:
    wanted = request.config.getoption("--accord-postgres")
    if not wanted or wanted == "off":
        _state["postgres"] = "PostgreSQL is off (--accord-postgres off)"
        yield None
        return
    server = PostgresServer(wanted)
    server.start()
    if server.url is None:
        where = server.admin_url.render_as_string(hide_password=True)
        _state["postgres"] = f"PostgreSQL not reachable at {where}: {server.error}"
        yield None
        return
    _state["postgres_databases"] = [server.database]
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def accord_backend(request: pytest.FixtureRequest) -> str:
    """The database engine this test runs on; each database test runs on both."""
    return str(request.param)


@pytest.fixture
def accord_database_url(accord_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if accord_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'accord.db'}"
    server: PostgresServer | None = request.getfixturevalue("accord_postgres")
    if server is None:
        _state["postgres_skipped"] = _state.get("postgres_skipped", 0) + 1
        pytest.skip(f"{_state['postgres']}: this test ran on SQLite only")
    return server.schema_url(f"t_{secrets.token_hex(6)}")


@pytest.fixture(autouse=True)
def accord_fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest cost in tests: still real argon2 hashes, verified the same
    way, but a test that creates ten users does not spend a second hashing."""
    from argon2 import PasswordHasher

    from accord.core import security

    monkeypatch.setattr(
        security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def accord_plugins() -> Sequence[str]:
    """The plugins to enable; override in a test module or conftest."""
    return ()


@pytest.fixture
def accord_clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ACCORD_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.fixture
def accord_extra_settings() -> dict[str, Any]:
    """Sections and keys merged into the test's accord.toml, e.g. ``{"mail": {...}}``;
    override in a test module or conftest."""
    return {}


@pytest.fixture
def accord_config(
    tmp_path: Path,
    accord_plugins: Sequence[str],
    accord_database_url: str,
    accord_clean_environment: None,
    accord_extra_settings: dict[str, Any],
) -> Path:
    path = tmp_path / "accord.toml"
    write_new_config(path, database_url=accord_database_url, plugins=accord_plugins)
    if accord_extra_settings:
        import tomlkit

        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        document.update(accord_extra_settings)
        path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def accord_runtime(accord_config: Path) -> Iterator[Runtime]:
    runtime = Runtime(accord_config)
    yield runtime
    runtime.close()


@dataclass(frozen=True)
class _Statement:
    """One statement as the DB-API cursor received it, to be sent again the same way."""

    sql: str
    parameters: Any
    many: bool
    bare: bool  # sent without parameters: "%%" stays as it is


class MigratedSchemas:
    """What ``Migrator.upgrade_schema`` made, kept once per set of revisions for the test
    run (each pytest-xdist worker has its own): running alembic took most of a database
    test's set-up, a copy takes a few milliseconds.

    On SQLite the migrated file is copied (sqlite3's backup API). On PostgreSQL a database
    per test made from a template would be as quick to make, but dropping one forces a
    checkpoint, seconds on a busy server; so each test keeps a schema of its own, and the
    statements alembic sent for the first test are sent again into the next one's.

    Only an empty database is filled this way, and what upgrade_schema does depends only
    on the revision files (the key holds each one's name, size and time); the role table
    depends on the test's settings, so ``Migrator.finish_upgrade`` runs for every test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite_files: dict[Hashable, Path] = {}
        self.postgres_statements: dict[Hashable, list[_Statement]] = {}

    def upgrade(self, runtime: Runtime) -> None:
        """``runtime.migrator.upgrade()``, from a copy where one is kept."""
        db, migrator = runtime.db, runtime.migrator
        db.check_connection()  # an unreachable database fails as the upgrade says it
        url = make_url(db.url)
        if inspect(db.engine).get_table_names():
            migrator.upgrade(report=_quiet)  # not a fresh database: a copy would clobber it
            return
        key = _revisions_key(runtime)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._sqlite(runtime, key, Path(str(url.database)))
        elif url.get_backend_name() == "postgresql":
            self._postgres(runtime, key)
        else:
            migrator.upgrade_schema(report=_quiet)
        migrator.finish_upgrade()

    def _sqlite(self, runtime: Runtime, key: Hashable, path: Path) -> None:
        kept = self.sqlite_files.get(key)
        if kept is None:
            runtime.migrator.upgrade_schema(report=_quiet)
            kept = self.folder / f"migrated-{len(self.sqlite_files)}.db"
            _sqlite_copy(path, kept)
            self.sqlite_files[key] = kept
        else:
            runtime.db.engine.dispose()  # no pooled connection holds the old, empty file
            _sqlite_copy(kept, path)

    def _postgres(self, runtime: Runtime, key: Hashable) -> None:
        db = runtime.db
        kept = self.postgres_statements.get(key)
        if kept is not None:
            connection = db.engine.raw_connection()  # the DB-API level, as recorded
            try:
                with closing(connection.cursor()) as cursor:
                    for statement in kept:
                        if statement.many:
                            cursor.executemany(statement.sql, statement.parameters)
                        elif statement.bare:
                            cursor.execute(statement.sql)
                        else:
                            cursor.execute(statement.sql, statement.parameters)
                connection.commit()
            finally:
                connection.close()
            return
        sent: list[_Statement] = []

        def record(
            conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool
        ) -> None:
            bare = not parameters and bool(getattr(context, "no_parameters", False))
            sent.append(_Statement(sql, parameters, many, bare))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            runtime.migrator.upgrade_schema(report=_quiet)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        with db.engine.connect() as reading:
            schema = reading.execute(text("SELECT current_schema()")).scalar_one()
        # A statement naming this test's schema would not fit the next test's: keep none.
        if not any(
            schema in statement.sql or schema in repr(statement.parameters) for statement in sent
        ):
            self.postgres_statements[key] = sent


def _quiet(line: str) -> None:
    pass


def _sqlite_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source)) as reading, closing(sqlite3.connect(target)) as writing:
        reading.backup(writing)


def _revisions_key(runtime: Runtime) -> Hashable:
    """What upgrade_schema's result depends on: the server, the branches to upgrade, and
    every revision file it can see (a test may write a new one)."""
    migrator = runtime.migrator
    url = make_url(runtime.db.url)
    server = "" if url.get_backend_name() == "sqlite" else url.set(query={}).render_as_string()
    files = []
    for name, folder in sorted(migrator.folders.items()):
        found = sorted(folder.glob("*.py")) if folder.is_dir() else []
        stats = [(path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in found]
        files.append((name, str(folder), tuple(stats)))
    return (url.get_backend_name(), server, tuple(migrator.enabled_branches), tuple(files))


@pytest.fixture(scope="session")
def accord_migrated_schemas(tmp_path_factory: pytest.TempPathFactory) -> MigratedSchemas:
    """The migrated schemas kept for this run (see ``MigratedSchemas``)."""
    return MigratedSchemas(tmp_path_factory.mktemp("accord-migrated"))


@pytest.fixture
def accord_db(accord_runtime: Runtime, accord_migrated_schemas: MigratedSchemas) -> Database:
    """The test's database, migrated for its plugins."""
    accord_migrated_schemas.upgrade(accord_runtime)
    return accord_runtime.db


@pytest.fixture
def accord_session(accord_db: Database) -> Iterator[Session]:
    """A session of the system principal: it passes every access check."""
    with accord_db.session(Principal.system("test")) as session:
        yield session


@pytest.fixture
def accord_as(accord_runtime: Runtime, accord_db: Database) -> Callable[[User], Any]:
    """``with accord_as(user) as session:`` a unit of work acting as ``user``: it sees and
    may change only what the access table gives the user's roles and team."""

    @contextmanager
    def acting(user: User) -> Iterator[Session]:
        with accord_db.session(accord_runtime.principal_for(user.id)) as session:
            yield session

    return acting


@pytest.fixture
def accord_make_user(accord_db: Database) -> Callable[..., User]:
    def make(login: str, *roles: str, password: str = "correct horse battery") -> User:
        with accord_db.session(Principal.system("test")) as session:
            return create_user(session, login, password, roles=roles)

    return make


@pytest.fixture
def accord_cli(accord_config: Path) -> Callable[..., Result]:
    """Run ``accord ARGS`` against the test's accord.toml; returns click's Result."""
    from accord.core.cli import cli

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--config", str(accord_config), *args], input=input)

    return run


def run_jobs(runtime: Runtime, limit: int = 100) -> int:
    """Run what the job runner would run now (events dispatched, due jobs: mail
    deliveries included) in the test's process; returns the number of jobs run."""
    from accord.core.jobs import run_pending

    return run_pending(runtime, limit)


class _PostForms(HTMLParser):
    """The ``<form method="post">`` of a page: each action with the fields it sends as the
    page fills them in (checked boxes, selected options, textarea text)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self.fields: dict[str, str] | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = {key: value or "" for key, value in attrs}
        if tag == "form" and given.get("method", "get").lower() == "post":
            self.fields = self.forms.setdefault(given.get("action", ""), {})
        elif self.fields is None or ("name" not in given and tag != "option"):
            return
        elif tag == "input":
            if given.get("type") not in ("checkbox", "radio") or "checked" in given:
                self.fields[given["name"]] = given.get("value", "")
        elif tag == "select":
            self.select = given["name"]
            self.fields.setdefault(self.select, "")
        elif tag == "option" and self.select is not None and "selected" in given:
            self.fields[self.select] = given.get("value", "")
        elif tag == "textarea":
            self.textarea = given["name"]
            self.fields[self.textarea] = ""

    def handle_data(self, data: str) -> None:
        if self.fields is not None and self.textarea is not None:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.fields = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def signed_in_client(runtime: Runtime, login: str, password: str) -> Any:
    """A Starlette ``TestClient`` of the web app of ``runtime``, signed in as ``login``
    through the login form as a browser is (redirects are not followed). A refused
    sign-in fails the test."""
    from starlette.testclient import TestClient

    from accord.ui import create_app

    client = TestClient(create_app(runtime), follow_redirects=False)
    client.get("/login")
    response = post_form(client, "/login", login=login, password=password)
    if response.status_code != 303:
        pytest.fail(f"signing in as {login!r} was refused ({response.status_code})")
    return client


def post_form(client: Any, path: str, **data: str) -> Any:
    """POST ``data`` as a form to ``path`` with the client's CSRF token in its field."""
    return client.post(path, data={"csrftoken": client.cookies["csrftoken"], **data})


def post_forms(page: str) -> dict[str, dict[str, str]]:
    """The POST forms of ``page`` (HTML) by action, each with the fields it would send."""
    reader = _PostForms()
    reader.feed(page)
    return reader.forms


def submit_form(client: Any, page: str, action: str, **values: str) -> Any:
    """Post the form of ``page`` whose action is ``action`` as a browser without JavaScript
    does: the fields the page filled in (its CSRF token among them) with ``values``
    changed, and no htmx header. ``client`` is a Starlette ``TestClient``; the answer is
    its response. A page without that form fails the test."""
    forms = post_forms(page)
    if action not in forms:
        pytest.fail(f"the page has no POST form to {action!r}; it has {sorted(forms)}")
    request = client.build_request("POST", action, data={**forms[action], **values})
    for header in ("x-csrftoken", "hx-request"):  # a client may send them by default
        request.headers.pop(header, None)
    return client.send(request)


class SMTPServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd, in a thread of the test process).

    ``messages`` holds every message it accepted, parsed (``email.message.EmailMessage``);
    ``refuse_next()`` makes it answer the next delivery with a temporary failure;
    ``reject(address)`` makes it refuse that recipient for good (550);
    ``settings`` is the ``[mail]`` section that sends to it."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port(self.host)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        """(MAIL FROM, RCPT TO) of each message accepted."""
        self._refusals: list[str] = []
        self._rejected: dict[str, str] = {}

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "mail": {
                "transport": "smtp",
                "smtp_host": self.host,
                "smtp_port": self.port,
                "smtp_security": "none",
                "smtp_timeout": 5,
            }
        }

    def refuse_next(self, times: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        self._refusals.extend([reply] * times)

    def reject(self, address: str, reply: str = "") -> None:
        self._rejected[address.lower()] = (
            reply or f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        )

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        refusal = self._rejected.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self._refusals:
            return self._refusals.pop(0)
        content = envelope.original_content or envelope.content
        # Line ends as a file on disk has them, so a test compares plain strings.
        content = content.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A real SMTP server for the test; point a runtime at it with
    ``accord_extra_settings`` returning ``smtp_server.settings``."""
    from aiosmtpd.controller import Controller

    for attempt in range(5):
        server = SMTPServer()
        controller = Controller(server, hostname=server.host, port=server.port)
        try:
            controller.start()
            break
        except OSError:  # another process (a pytest-xdist worker) took the port meanwhile
            if attempt == 4:
                raise
    try:
        yield server
    finally:
        controller.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand what happened to PostgreSQL to the controller, which
    writes the summary (see pytest_testnodedown)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["accord"] = dict(_state)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: run without it, never called
def pytest_testnodedown(node: Any, error: object) -> None:
    worker: dict[str, Any] = getattr(node, "workeroutput", {}).get("accord", {})
    _state.setdefault("postgres_databases", []).extend(worker.get("postgres_databases", []))
    _state["postgres_skipped"] = _state.get("postgres_skipped", 0) + worker.get(
        "postgres_skipped", 0
    )
    if "postgres" in worker:
        _state["postgres"] = worker["postgres"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    databases = _state.get("postgres_databases")
    if databases and not _state.get("postgres_skipped"):
        terminalreporter.write_line(
            f"accord: database tests ran on SQLite and PostgreSQL (throwaway "
            f"database{'s' if len(databases) > 1 else ''} {', '.join(databases)}, dropped)"
        )
    if _state.get("postgres_skipped"):
        terminalreporter.write_line(
            f"accord: {_state['postgres']}; {_state['postgres_skipped']} PostgreSQL "
            "variants SKIPPED, database tests ran on SQLite only",
            yellow=True,
            bold=True,
        )
