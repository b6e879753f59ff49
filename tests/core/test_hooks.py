"""Each kernel hook, seen from the side of a partner who implements it: the dummy add-on in
tests/dummy_plugin is found like an installed package, and every test checks what its
contribution does once Accord has loaded it. tests/core/test_docs.py fails when a hook has
no ``test_hook_<name>`` here."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from accord.api import (
    DashboardFilters,
    Event,
    MenuItem,
    Partner,
    PartnerKind,
    PluginSettings,
    RenderContext,
    TransitionBlockedError,
    hookimpl,
    timeline,
)
from accord.core.errors import PluginError, SettingsError
from accord.core.manager import create_plugin_manager
from accord.core.plugin import InstalledPlugin, Plugin
from accord.core.runtime import Runtime

DUMMY_HEAD_REVISION = "2f5ce264f219"  # notes have a version and an author

# Tests that never open the database need not run twice.
sqlite_only = pytest.mark.parametrize("accord_backend", ["sqlite"])


# The dummy add-on and its dist-info become importable, as after `pip install`.
pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


def by_name(items: list[Any], name: str) -> Any:
    found = [item for item in items if getattr(item, "name", None) == name]
    assert found, f"{name!r} not among {[getattr(item, 'name', item) for item in items]}"
    return found[0]


def dummy_note(session: Session, partner: Partner, body: str, state: str = "draft") -> Any:
    from accord_dummy.models import DummyNote

    note = DummyNote(partner_id=partner.id, body=body, state=state)
    session.add(note)
    session.flush()
    return note


def customer(session: Session, name: str = "Acme Ltd") -> Partner:
    partner = Partner(kind=PartnerKind.COMPANY, name=name)
    session.add(partner)
    session.flush()
    return partner


def asgi_get(app: Any, path: str, query: str = "") -> tuple[int, str]:
    """One GET through an ASGI app, without an HTTP client library."""
    messages: list[dict[str, Any]] = []
    requested = False
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client hangs up once the whole response has arrived
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, body.decode()


# --- discovery ------------------------------------------------------------------------------


@sqlite_only
def test_dummy_is_found_like_an_installed_package(accord_runtime: Runtime) -> None:
    found = accord_runtime.settings.catalogue["dummy"]

    assert found.origin == "package accord-dummy 1.0.0"
    assert [plugin.name for plugin in accord_runtime.pm.loaded] == ["dummy"]


# --- one test per hook, in the order of core/hookspecs.py ----------------------------------


@sqlite_only
def test_hook_settings_section(accord_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DUMMY__GREETING", "Bonjour")

    section = accord_runtime.settings.section("dummy")

    assert isinstance(section, PluginSettings)
    assert section.greeting == "Bonjour"


@sqlite_only
def test_settings_section_has_defaults_and_refuses_a_misspelled_key(
    accord_runtime: Runtime, accord_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert accord_runtime.settings.section("dummy").greeting == "Hello"

    monkeypatch.setenv("ACCORD_DUMMY__GREETNG", "Hi")
    with pytest.raises(SettingsError, match="ACCORD_DUMMY__GREETNG: unknown key"):
        Runtime(accord_config).settings  # noqa: B018


def test_hook_models(accord_runtime: Runtime, accord_session: Session) -> None:
    assert accord_runtime.pm.owned_tables()["dummy_note"] == "dummy"
    assert inspect(accord_session.connection()).has_table("dummy_note")
    assert accord_runtime.migrator.current()["dummy"] == DUMMY_HEAD_REVISION

    from accord_dummy.models import DummyNote

    partner = customer(accord_session)
    dummy_note(accord_session, partner, "Prefers calls on Tuesday")
    accord_session.delete(partner)
    accord_session.flush()
    assert accord_session.scalars(select(DummyNote)).all() == []  # notes go with their customer


@sqlite_only
def test_hook_permissions(accord_runtime: Runtime) -> None:
    owners = dict(
        (item.name, owner)
        for owner, item in accord_runtime.pm.collect_with_owner("accord_permissions")
    )

    assert owners["dummy.notes.read"] == "dummy"
    assert owners["dummy.notes.write"] == "dummy"
    assert owners["core.partners.read"] == "core"  # the kernel's come first, untouched


def test_hook_roles(accord_runtime: Runtime, accord_make_user: Any) -> None:
    role = by_name(accord_runtime.pm.collect("accord_roles"), "dummy_note_taker")
    declared = {permission.name for permission in accord_runtime.pm.collect("accord_permissions")}
    assert set(role.permissions) <= declared

    user = accord_make_user("nora", "dummy_note_taker")  # the role row exists after upgrade

    assert user.roles == ("dummy_note_taker",)


def test_hook_access_rules(accord_session: Session, accord_make_user: Any, accord_as: Any) -> None:
    taker = accord_make_user("nora", "salesperson", "dummy_note_taker")
    seller = accord_make_user("sam", "salesperson")
    mine = customer(accord_session, "Nora's customer")
    mine.owner_id = taker.id
    dummy_note(accord_session, mine, "visit went well", state="published")
    dummy_note(accord_session, mine, "draft: call back")
    dummy_note(accord_session, customer(accord_session, "Someone else's"), "not yours")
    accord_session.commit()
    from accord_dummy.models import DummyNote

    with accord_as(taker) as session:
        seen = sorted(session.scalars(select(DummyNote.body)))
    assert seen == ["draft: call back", "visit went well"]  # notes follow the customer

    with accord_as(seller) as session:
        assert session.scalars(select(DummyNote.body)).all() == []  # not sam's customer


def test_hook_scopes(accord_session: Session, accord_make_user: Any, accord_as: Any) -> None:
    reader = accord_make_user("rita", "back_office")  # sees every customer, takes no notes
    partner = customer(accord_session)
    dummy_note(accord_session, partner, "published", state="published")
    dummy_note(accord_session, partner, "a draft")
    accord_session.commit()
    from accord_dummy.models import DummyNote

    with accord_as(reader) as session:
        assert session.scalars(select(DummyNote.body)).all() == ["published"]


@sqlite_only
def test_hook_check_settings(accord_config: Path) -> None:
    with accord_config.open("a") as config:
        config.write('\n[dummy]\nreviewer_role = "dummy_reviewr"\n')
    runtime = Runtime(accord_config)
    try:
        with pytest.raises(SettingsError) as caught:
            runtime.policy  # noqa: B018
    finally:
        runtime.close()
    assert str(caught.value).startswith(
        f"{accord_config}, [dummy] reviewer_role: unknown role 'dummy_reviewr'; known: admin"
    )


@sqlite_only
def test_hook_workflows(accord_runtime: Runtime) -> None:
    pm = accord_runtime.pm
    workflow = by_name(pm.collect("accord_workflows"), "dummy.note")
    declared = {permission.name for permission in pm.collect("accord_permissions")}

    assert pm.owned_tables()[workflow.model] == "dummy"
    assert workflow.initial in workflow.states
    publish = by_name(list(workflow.transitions), "publish")
    assert (publish.source, publish.target) == (("draft",), "published")
    assert [guard.name for guard in publish.guards] == ["dummy.customer_active"]
    assert (publish.requester_field, publish.allow_self_approval) == ("author_id", False)
    withdraw = by_name(list(workflow.transitions), "withdraw")
    assert withdraw.required_inputs == ("reason",)
    for transition in workflow.transitions:
        assert set(transition.source) | {transition.target} <= set(workflow.states)
        assert transition.permission in declared
    engine = accord_runtime.workflows  # the engine accepts it: model, states, version column
    assert engine.machines["dummy.note"].steps["publish"].event == "dummy.note.publish"


def test_hook_before_transition(
    accord_runtime: Runtime, accord_session: Session, accord_make_user: Any, accord_as: Any
) -> None:
    from accord_dummy.models import DummyNote

    publisher = accord_make_user("tom", "back_office", "dummy_note_taker")
    partner = customer(accord_session)
    todo = dummy_note(accord_session, partner, "TODO: write up the visit")
    done = dummy_note(accord_session, partner, "Visit went well")
    accord_session.commit()
    engine = accord_runtime.workflows

    with accord_as(publisher) as session:
        note = session.get_one(DummyNote, todo.id)
        [publish] = engine.available(session, note)
        assert (publish.allowed, publish.reason) == (
            False,
            "the note is empty or still says TODO; write it before publishing",
        )
        with pytest.raises(TransitionBlockedError) as vetoed:
            engine.transition(session, note, "publish")
        engine.transition(session, session.get_one(DummyNote, done.id), "publish")

    assert str(vetoed.value) == (
        f"dummy_note #{todo.id}: 'publish' blocked: "
        "the note is empty or still says TODO; write it before publishing"
    )
    accord_session.expire_all()
    assert (todo.state, done.state) == ("draft", "published")


def test_hook_after_transition(
    accord_runtime: Runtime,
    accord_session: Session,
    accord_make_user: Any,
    accord_as: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from accord_dummy.models import DummyNote

    caplog.set_level(logging.INFO, logger="accord_dummy")
    publisher = accord_make_user("tom", "back_office", "dummy_note_taker")
    partner = customer(accord_session)
    kept = dummy_note(accord_session, partner, "Visit went well")
    undone = dummy_note(accord_session, partner, "Wants a demo")
    accord_session.commit()
    engine = accord_runtime.workflows

    with accord_as(publisher) as session:
        engine.transition(session, session.get_one(DummyNote, kept.id), "publish")
        assert caplog.messages == []  # not before the commit
    assert caplog.messages == [f"note #{kept.id} published by user:{publisher.id}:tom"]

    def publish_then_fail() -> None:
        with accord_as(publisher) as session:
            engine.transition(session, session.get_one(DummyNote, undone.id), "publish")
            raise RuntimeError("the request failed after the transition")

    caplog.clear()
    with pytest.raises(RuntimeError):
        publish_then_fail()
    assert caplog.messages == []  # rolled back: nothing happened, nothing announced


def test_hook_event_subscribers(accord_runtime: Runtime, accord_session: Session) -> None:
    subscriber = by_name(
        accord_runtime.pm.collect("accord_event_subscribers"), "dummy.note_on_timeline"
    )
    assert subscriber.event == "dummy.note_published"
    partner = customer(accord_session)
    note = dummy_note(accord_session, partner, "Wants a quote by Friday", state="published")

    subscriber.handle(
        accord_session,
        Event(
            "dummy.note_published",
            {"partner_id": partner.id, "note_id": note.id, "body": note.body},
            occurred_at=dt.datetime.now(dt.UTC),
        ),
    )

    [activity] = timeline(accord_session, partner.id)
    assert (activity.subject, activity.body) == ("Note published", "Wants a quote by Friday")
    assert (activity.source, activity.source_ref) == ("dummy", f"dummy_note:{note.id}")


def test_hook_jobs(accord_runtime: Runtime, accord_session: Session) -> None:
    from accord_dummy.models import DummyNote

    job = by_name(accord_runtime.pm.collect("accord_jobs"), "dummy.purge_drafts")
    assert job.max_attempts == 3
    acme, globex = customer(accord_session, "Acme"), customer(accord_session, "Globex")
    dummy_note(accord_session, acme, "draft of Acme")
    dummy_note(accord_session, acme, "published of Acme", state="published")
    dummy_note(accord_session, globex, "draft of Globex")

    job.run(accord_session, {"partner_id": acme.id})

    left = accord_session.scalars(select(DummyNote.body).order_by(DummyNote.body)).all()
    assert left == ["draft of Globex", "published of Acme"]


@sqlite_only
def test_hook_schedules(accord_runtime: Runtime) -> None:
    pm = accord_runtime.pm
    schedule = by_name(pm.collect("accord_schedules"), "dummy.nightly_purge")

    assert schedule.cron == "0 3 * * *"
    assert by_name(pm.collect("accord_jobs"), schedule.job).name == "dummy.purge_drafts"


@sqlite_only
def test_hook_routes(accord_runtime: Runtime) -> None:
    routes = accord_runtime.pm.collect("accord_routes")
    assert all(isinstance(route, Route) for route in routes)
    app = Starlette(routes=[Mount("/dummy", routes=routes, name="dummy")])

    assert app.url_path_for("dummy:hello") == "/dummy/hello"
    status, body = asgi_get(app, "/dummy/hello", "name=%3Cb%3EAda%3C/b%3E")
    assert status == 200
    assert body == "<p>Hello, &lt;b&gt;Ada&lt;/b&gt;!</p>"


@sqlite_only
def test_hook_public_routes(accord_runtime: Runtime) -> None:
    from starlette.testclient import TestClient

    from accord.ui import create_app

    client = TestClient(create_app(accord_runtime), follow_redirects=False)
    public = client.get("/dummy/greeting")
    assert public.status_code == 200
    assert public.json() == {"greeting": "Hello"}
    # The plugin's other routes still need a signed-in user.
    assert client.get("/dummy/hello").status_code == 303


@sqlite_only
def test_hook_template_folders(accord_runtime: Runtime) -> None:
    [folder] = accord_runtime.pm.collect("accord_template_folders")

    template = folder / "dummy" / "note.html"
    assert template.is_file()
    assert "{{ note.body }}" in template.read_text()


@sqlite_only
def test_hook_static_folders(accord_runtime: Runtime) -> None:
    folder = by_name(accord_runtime.pm.collect("accord_static_folders"), "dummy")
    app = Starlette(routes=[Mount(f"/static/{folder.name}", StaticFiles(directory=folder.path))])

    status, body = asgi_get(app, "/static/dummy/dummy.css")

    assert status == 200
    assert ".dummy-note" in body


@sqlite_only
def test_hook_menu_items(accord_runtime: Runtime) -> None:
    pm = accord_runtime.pm
    item = by_name(pm.collect("accord_menu_items"), "dummy.hello")
    app = Starlette(routes=[Mount("/dummy", routes=pm.collect("accord_routes"), name="dummy")])

    assert item.label == "Hello"
    assert item.path == app.url_path_for("dummy:hello")  # the entry leads to a real page
    assert item.permission in {p.name for p in pm.collect("accord_permissions")}


def test_hook_record_panels(accord_runtime: Runtime, accord_session: Session) -> None:
    panel = by_name(accord_runtime.pm.collect("accord_record_panels"), "dummy.partner_notes")
    assert (panel.model, panel.slot, panel.title) == ("core_partner", "side_panels", "Notes")
    partner = customer(accord_session)

    empty = panel.render(RenderContext(accord_session, None, record=partner))
    dummy_note(accord_session, partner, "<script>alert('x')</script> & co")
    html = panel.render(RenderContext(accord_session, None, record=partner))

    assert empty == "<p>No notes yet.</p>"
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html


def test_hook_dashboard_widgets(accord_runtime: Runtime, accord_session: Session) -> None:
    widget = by_name(accord_runtime.pm.collect("accord_dashboard_widgets"), "dummy.note_count")
    assert widget.permission == "dummy.notes.read"
    partner = customer(accord_session)
    dummy_note(accord_session, partner, "one")
    dummy_note(accord_session, partner, "two")

    html = widget.render(RenderContext(accord_session, None))

    assert html == "<p><strong>2</strong> notes</p>"


def test_hook_dashboard_widgets_draw_charts_for_the_chosen_period(
    accord_runtime: Runtime, accord_session: Session
) -> None:
    widget = by_name(accord_runtime.pm.collect("accord_dashboard_widgets"), "dummy.notes_by_state")
    partner = customer(accord_session)
    dummy_note(accord_session, partner, "one")
    dummy_note(accord_session, partner, "two", state="published")
    this_month = DashboardFilters.this_month()
    long_ago = DashboardFilters("custom", dt.date(2001, 1, 1), dt.date(2001, 12, 31))

    html = widget.render(RenderContext(accord_session, None, filters=this_month))
    empty = widget.render(RenderContext(accord_session, None, filters=long_ago))

    assert "<svg" in html
    assert (
        'aria-label="Bar chart: Notes written in the period, by state. Draft 1, Published 1, '
        in html
    )
    assert '<tr><th scope="row">Withdrawn</th><td>0</td></tr>' in html
    assert empty == '<p class="chart__empty">No notes were written in this period.</p>'


def test_hook_product_lines(accord_runtime: Runtime, accord_session: Session) -> None:
    source = by_name(accord_runtime.pm.collect("accord_product_lines"), "dummy.product_lines")

    assert source.choices(accord_session) == [
        ("dummy.machines", "Machines"),
        ("dummy.spares", "Spare parts"),
    ]


def test_hook_search_providers(accord_runtime: Runtime, accord_session: Session) -> None:
    provider = by_name(accord_runtime.pm.collect("accord_search_providers"), "dummy.notes")
    partner = customer(accord_session)
    first = dummy_note(accord_session, partner, "Invoice 2024-17 is disputed")
    dummy_note(accord_session, partner, "INVOICE address changed", state="published")
    dummy_note(accord_session, partner, "Likes golf")

    hits = provider.search(accord_session, "invoice", 10)
    assert [hit.title for hit in hits] == [
        "Invoice 2024-17 is disputed",
        "INVOICE address changed",
    ]
    assert hits[0].url == f"/partners/{partner.id}#note-{first.id}"
    assert hits[1].subtitle == "published"
    assert len(provider.search(accord_session, "invoice", 1)) == 1
    assert provider.search(accord_session, "%", 10) == []  # a wildcard is just a character


def test_hook_importers(
    accord_runtime: Runtime, accord_session: Session, accord_make_user: Any, accord_as: Any
) -> None:
    from accord_dummy.models import DummyNote

    from accord.api import read_sheet, run_import

    importer = by_name(accord_runtime.pm.collect("accord_importers"), "dummy.notes")
    acme = customer(accord_session)
    acme.email = "info@acme.example"
    accord_session.commit()
    writer = accord_make_user("nora", "dummy_note_taker", "back_office")
    content = (
        b"Note id;E-mail;Note\n"
        b"N1;info@acme.example;Wants a visit in May\n"
        b"N2;nobody@else.example;Lost in the mail\n"
    )

    with accord_as(writer) as session:
        report = run_import(session, importer, read_sheet(content, "notes.csv"), skip_bad_rows=True)
    with accord_as(writer) as session:
        changed = content.replace(b"in May", b"in June")
        again = run_import(session, importer, read_sheet(changed, "notes.csv"), skip_bad_rows=True)

    assert (report.created, [str(error) for error in report.errors]) == (
        1,
        ["row 3, column 'E-mail': no customer you can see has this e-mail"],
    )
    assert (again.created, again.merged) == (0, 1)
    bodies = accord_session.scalars(select(DummyNote.body)).all()
    assert bodies == ["Wants a visit in June"]


@sqlite_only
def test_hook_cli_commands(
    accord_runtime: Runtime,
    accord_cli: Any,
    accord_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [command] = accord_runtime.pm.collect("accord_cli_commands")
    assert isinstance(command, click.Command)

    result = accord_cli("dummy-hello", "--name", "Ada")
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, Ada!\n"

    monkeypatch.setenv("ACCORD_DUMMY__GREETING", "Ciao")
    assert accord_cli("dummy-hello", "--name", "Ada").output == "Ciao, Ada!\n"
    monkeypatch.setenv("ACCORD_CONFIG", str(accord_config))
    assert "dummy-hello" in accord_cli("--help").output


@sqlite_only
def test_help_lists_plugin_commands_of_the_config_given_with_the_option(
    accord_cli: Any,
) -> None:
    assert "dummy-hello" in accord_cli("--help").output


# --- what the manager refuses ---------------------------------------------------------------


class CopycatHooks:
    """A second plugin's hooks that reuse a name the dummy already contributes."""

    @hookimpl
    def accord_menu_items(self) -> list[MenuItem]:
        return [MenuItem("dummy.hello", "Also hello", "/copycat/hello")]


@sqlite_only
def test_a_name_contributed_by_two_plugins_is_refused_naming_both(
    accord_runtime: Runtime,
) -> None:
    pm = create_plugin_manager(accord_runtime.settings)
    pm.register(CopycatHooks(), name="copycat")

    with pytest.raises(PluginError) as refused:
        pm.collect("accord_menu_items")

    message = str(refused.value)
    assert "'dummy.hello'" in message
    assert "'dummy'" in message
    assert "'copycat'" in message


@sqlite_only
def test_a_misspelled_hook_fails_when_the_manager_is_built(
    accord_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "accord_typo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hooks.py").write_text(
        textwrap.dedent(
            """
            from accord.api import hookimpl


            @hookimpl
            def accord_menu_item():
                return []
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    typo = InstalledPlugin(
        Plugin(name="typo", version="1.0.0", summary="Misspelled", package="accord_typo"),
        "accord-typo",
        "1.0.0",
    )

    with pytest.raises(PluginError) as refused:
        create_plugin_manager(accord_runtime.settings, enabled=[typo])

    message = str(refused.value)
    assert "'typo'" in message
    assert "accord_menu_item" in message
    assert "docs/hooks.md" in message


class _Contributor:
    """A plugin object whose hooks return what it is given."""

    def __init__(self, menu: list[MenuItem], folders: list[Path], routes: list[Route]) -> None:
        self.menu, self.folders, self.routes = menu, folders, routes

    @hookimpl
    def accord_menu_items(self) -> list[MenuItem]:
        return self.menu

    @hookimpl
    def accord_template_folders(self) -> list[Path]:
        return self.folders

    @hookimpl
    def accord_routes(self) -> list[Route]:
        return self.routes


@sqlite_only
def test_a_name_two_plugins_contribute_is_refused_but_folders_and_routes_may_repeat(
    accord_runtime: Runtime, tmp_path: Path
) -> None:
    def index(request: Any) -> None: ...

    def plugin(name: str, menu: str) -> _Contributor:
        folder = tmp_path / name / "templates"  # every plugin's folder is called templates
        return _Contributor([MenuItem(menu, "Pipeline", f"/{name}")], [folder], [Route("/", index)])

    pm = create_plugin_manager(accord_runtime.settings, enabled=[])
    pm.register(plugin("leads", "leads.pipeline"), name="leads")
    pm.register(plugin("orders", "orders.list"), name="orders")
    assert len(pm.collect("accord_template_folders")) == 2
    assert [owner for owner, _ in pm.collect_with_owner("accord_routes")] == ["leads", "orders"]

    pm = create_plugin_manager(accord_runtime.settings, enabled=[])
    pm.register(plugin("leads", "pipeline"), name="leads")
    pm.register(plugin("orders", "pipeline"), name="orders")
    with pytest.raises(PluginError, match="'pipeline' is contributed by both 'leads' and 'orders'"):
        pm.collect("accord_menu_items")


def test_hook_model_views(
    accord_runtime: Runtime, accord_session: Session, accord_make_user: Any
) -> None:
    from starlette.testclient import TestClient

    from accord.ui import create_app

    view = by_name(accord_runtime.pm.collect("accord_model_views"), "dummy-notes")
    assert (view.model, view.default_sort, view.permission) == (
        "dummy_note",
        "-id",
        "dummy.notes.read",
    )
    partner = customer(accord_session)
    dummy_note(accord_session, partner, "Call back in May")
    dummy_note(accord_session, partner, "Prefers e-mail", state="published")
    accord_session.commit()
    accord_make_user("nora", "dummy_note_taker", "back_office")  # who sees the customers
    client = TestClient(create_app(accord_runtime), follow_redirects=False)
    client.get("/login")  # sets the CSRF cookie the login form sends back
    login = {"login": "nora", "password": "correct horse battery"}
    signed_in = client.post("/login", data={**login, "csrftoken": client.cookies["csrftoken"]})
    assert signed_in.status_code == 303

    page = client.get("/views/dummy-notes", params={"f_state": "published"})
    export = client.get("/views/dummy-notes.csv", params={"q": "call"})

    assert page.status_code == 200
    assert "Prefers e-mail" in page.text
    assert "Call back in May" not in page.text
    assert export.text.splitlines() == [
        "Note,State,Customer,Author",
        "Call back in May,draft,Acme Ltd,",
    ]


@pytest.mark.usefixtures("welcome_plugin_installed")
@pytest.mark.parametrize("accord_plugins", [["dummy", "welcome"]])
def test_hook_mail_templates(
    accord_runtime: Runtime, accord_db: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from accord.api import send_mail
    from accord.core.access import Principal
    from accord.core.jobs import run_pending

    owners = dict(
        (template.name, owner)
        for owner, template in accord_runtime.pm.collect_with_owner("accord_mail_templates")
    )
    assert owners["welcome.letter"] == "welcome"

    with accord_db.session(Principal.system("test")) as session:
        send_mail(
            session,
            "welcome.letter",
            "buyer@acme.example",
            {"company": "Accord Demo", "customer": "Acme <Ltd>", "manager": "Mia"},
        )
    run_pending(accord_runtime)

    printed = capsys.readouterr().out  # the console transport, the default
    assert "Subject: Welcome to Accord Demo, Acme <Ltd>" in printed
    assert "To: buyer@acme.example" in printed
    assert "<p>Dear Acme &lt;Ltd&gt;,</p>" in printed


@pytest.mark.usefixtures("welcome_plugin_installed")
@pytest.mark.parametrize("accord_plugins", [["dummy", "welcome"]])
def test_hook_demo(accord_runtime: Runtime, accord_db: Any) -> None:
    from accord.api import Activity, User
    from accord.core.access import Principal
    from accord.core.demo import add_plugin_demo_data, seed_company

    with accord_db.session(Principal.system("test")) as session:
        seed_company(session, "correct horse battery")
    lines: list[str] = []

    assert add_plugin_demo_data(accord_runtime, lines.append) == ["welcome"]

    assert lines == ["welcome: logged 12 welcome calls"]
    with accord_db.session(Principal.system("test")) as session:
        calls = session.scalars(select(Activity).where(Activity.source == "welcome")).all()
        owners = {user.id: user.login for user in session.scalars(select(User))}
        assert len(calls) == 12
        assert len({call.partner_id for call in calls}) == 12
        assert {owners[call.user_id] for call in calls} <= {"sam", "sue", "ugo", "dana"}
