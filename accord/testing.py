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
- ``accord_session``: a session of the system principal on it, committed at the end.
- ``accord_as``: ``with accord_as(user) as session:`` acts as that user, rules applied.
- ``accord_make_user``: creates users with roles.
- ``accord_cli``: runs ``accord ...`` commands against ``accord_config``.
- ``accord_extra_settings``: sections merged into the test's ``accord.toml``; override it in
  a test module (``return smtp_server.settings`` points ``[mail]`` at the test's server).
- ``smtp_server``: a real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives
  in ``.messages``.

``run_jobs(runtime)`` runs what the job runner would run now (mail deliveries included).
``submit_form(client, page, action, **values)`` posts a page's form as a browser without
JavaScript does, and ``post_forms(page)`` lists what each form would send.
"""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
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
    _state["postgres_ok"] = server.database
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


@pytest.fixture
def accord_db(accord_runtime: Runtime) -> Database:
    """The test's database, migrated for its plugins."""
    accord_runtime.migrator.upgrade(report=lambda line: None)
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

    server = SMTPServer()
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "postgres_ok" in _state:
        terminalreporter.write_line(
            f"accord: database tests ran on SQLite and PostgreSQL "
            f"(throwaway database {_state['postgres_ok']}, dropped)"
        )
    elif _state.get("postgres_skipped"):
        terminalreporter.write_line(
            f"accord: {_state['postgres']}; {_state['postgres_skipped']} PostgreSQL "
            "variants SKIPPED, database tests ran on SQLite only",
            yellow=True,
            bold=True,
        )
