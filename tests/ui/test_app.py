"""The shell around every page: plugins' menu items, widgets, routes, templates and static
files; htmx fragments; error pages; the request's unit of work; the job runner."""

import logging
import re
import threading

from sqlalchemy import select, text
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from accord.core.access import AccessDeniedError
from accord.core.contributions import DashboardWidget, MenuItem
from accord.core.partners import Partner, PartnerKind
from accord.ui import flash, page

from .conftest import template_folder


def test_menu_item_is_hidden_from_a_role_without_its_permission(logged_in):
    note_taker = logged_in("nora", "dummy_note_taker")
    assert '<a href="/dummy/hello">Hello</a>' in note_taker.get("/").text
    salesperson = logged_in("sam", "salesperson")
    page = salesperson.get("/")
    assert page.status_code == 200
    assert "/dummy/hello" not in page.text


def test_a_list_entry_is_shown_only_to_roles_whose_rows_may_read_the_model(logged_in):
    # The note taker holds core.partners.read but no access row on customers.
    assert "/views/partners" not in logged_in("nora", "dummy_note_taker").get("/").text
    assert (
        '<a href="/views/partners">Customers</a>' in logged_in("sam", "salesperson").get("/").text
    )


def test_menu_is_ordered_and_marks_the_current_page(add_plugin, logged_in):
    add_plugin(
        menu_items=[
            MenuItem("extra.reports", "Reports", "/extra/reports", order=20),
            MenuItem("extra.password", "My password", "/account/password", order=10),
        ]
    )
    client = logged_in("nora", "dummy_note_taker")
    page = client.get("/account/password").text
    labels = re.findall(r'<li><a href="[^"]*"(?: aria-current="page")?>([^<]+)</a></li>', page)
    assert labels[:3] == ["My password", "Reports", "Hello"]
    assert '<a href="/account/password" aria-current="page">My password</a>' in page
    assert 'aria-current="page"' not in client.get("/").text


def test_dashboard_shows_the_widgets_the_user_may_see(logged_in):
    client = logged_in("nora", "dummy_note_taker")
    page = client.get("/")
    assert '<h2 id="widget-dummy-note_count-title">Notes</h2>' in page.text
    assert "<p><strong>0</strong> notes</p>" in page.text
    other = logged_in("sam", "salesperson").get("/")
    assert "widget-dummy-note_count" not in other.text
    assert "widget-core-new_customers" in other.text  # the kernel's own tiles
    nobody = logged_in("ned").get("/")
    assert "Nothing here yet" in nobody.text


def test_a_failing_widget_leaves_the_rest_of_the_dashboard(add_plugin, logged_in, caplog):
    def broken(context):
        raise RuntimeError("widget exploded")

    add_plugin(dashboard_widgets=[DashboardWidget("extra.broken", "Broken", render=broken)])
    client = logged_in("nora", "dummy_note_taker")
    with caplog.at_level(logging.ERROR, logger="accord.ui"):
        page = client.get("/")
    assert page.status_code == 200
    assert "This tile could not be shown just now" in page.text
    assert "<p><strong>0</strong> notes</p>" in page.text
    assert "widget exploded" not in page.text
    assert "extra.broken" in caplog.text


def test_a_widget_whose_query_fails_spoils_no_other_tile(add_plugin, logged_in):
    def bad_query(context):
        context.session.execute(text("SELECT no_such_column FROM core_user"))
        return "<p>never</p>"

    add_plugin(
        dashboard_widgets=[DashboardWidget("extra.bad_query", "Bad", render=bad_query, order=1)]
    )
    client = logged_in("nora", "dummy_note_taker")
    page = client.get("/")
    assert page.status_code == 200
    assert "This tile could not be shown just now" in page.text
    assert "<p><strong>0</strong> notes</p>" in page.text, "the next tile still works"


def test_htmx_request_gets_only_the_page_content(logged_in):
    client = logged_in("nora", "dummy_note_taker")
    fragment = client.get("/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<h1>Dashboard</h1>")
    assert "<html" not in fragment.text
    assert "topbar" not in fragment.text
    boosted = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert boosted.text.startswith("<!doctype html>")


def test_a_plugin_template_overrides_the_kernels(add_plugin, tmp_path, logged_in):
    folder = template_folder(
        tmp_path,
        {
            "dashboard.html": (
                '{% extends "base.html" %}{% block content %}'
                "<h1>Acme's own dashboard</h1>{% endblock %}"
            )
        },
    )
    add_plugin(template_folders=[folder])
    client = logged_in("nora", "dummy_note_taker")
    page = client.get("/")
    assert "<h1>Acme's own dashboard</h1>" in page.text
    assert "Skip to content" in page.text, "still inside the kernel's layout"
    fragment = client.get("/", headers={"HX-Request": "true"})
    assert fragment.text == "<h1>Acme's own dashboard</h1>"


def test_a_later_plugin_overrides_the_template_of_an_earlier_one(add_plugin, tmp_path, logged_in):
    def dashboard_saying(words):
        return '{% extends "base.html" %}{% block content %}' + words + "{% endblock %}"

    first = template_folder(tmp_path / "first", {"dashboard.html": dashboard_saying("first")})
    second = template_folder(tmp_path / "second", {"dashboard.html": dashboard_saying("second")})
    add_plugin("first", template_folders=[first])
    add_plugin("second", template_folders=[second])
    client = logged_in("nora", "dummy_note_taker")
    assert client.get("/", headers={"HX-Request": "true"}).text == "second"


def test_a_plugins_view_renders_its_page_inside_the_layout(add_plugin, tmp_path, logged_in):
    def customers(request):
        flash(request, "Customer list refreshed.")
        return page(request, "extra/customers.html", {"names": ["Acme <Ltd>", "Globex"]})

    folder = template_folder(
        tmp_path,
        {
            "extra/customers.html": (
                '{% extends "base.html" %}{% block title %}Customers{% endblock %}'
                "{% block content %}<h1>Customers</h1><ul>"
                "{% for name in names %}<li>{{ name }}</li>{% endfor %}</ul>"
                "<a href=\"{{ url_for('extra:customers') }}\">again</a>{% endblock %}"
            )
        },
    )
    add_plugin(routes=[Route("/customers", customers, name="customers")], template_folders=[folder])
    client = logged_in("nora", "dummy_note_taker")
    response = client.get("/extra/customers")
    assert response.status_code == 200
    assert "<title>Customers · Accord</title>" in response.text
    assert "<li>Acme &lt;Ltd&gt;</li>" in response.text
    assert '<a href="/extra/customers">again</a>' in response.text
    assert "Account of nora" in response.text
    assert "Customer list refreshed." in response.text
    assert "Customer list refreshed." not in client.get("/").text, "shown once"
    fragment = client.get("/extra/customers", headers={"HX-Request": "true"})
    assert fragment.text.startswith("<h1>Customers</h1>")


def test_plugin_routes_are_mounted_under_the_plugins_name(logged_in):
    client = logged_in("nora", "dummy_note_taker")
    response = client.get("/dummy/hello", params={"name": "<b>you</b>"})
    assert response.status_code == 200
    assert response.text == "<p>Hello, &lt;b&gt;you&lt;/b&gt;!</p>"


def test_two_plugins_may_name_a_route_alike(add_plugin, logged_in):
    add_plugin(
        "leads", routes=[Route("/", lambda request: PlainTextResponse("leads"), name="index")]
    )
    add_plugin("orders", routes=[Route("/", lambda r: PlainTextResponse("orders"), name="index")])
    client = logged_in("nora", "dummy_note_taker")
    assert client.get("/leads/").text == "leads"
    assert client.get("/orders/").text == "orders"


def test_static_files_of_the_ui_and_the_plugins_need_no_login(client):
    css = client.get("/static/accord/accord.css")
    assert css.status_code == 200
    assert ":focus-visible" in css.text
    assert client.get("/static/dummy/dummy.css").status_code == 200
    assert client.get("/static/accord/nothing.css").status_code == 404


def test_unknown_page_gets_a_friendly_404(logged_in):
    client = logged_in("nora", "dummy_note_taker")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Skip to content" in response.text
    assert "Traceback" not in response.text


def test_refused_access_gets_a_friendly_403(add_plugin, logged_in):
    def secret(request):
        raise AccessDeniedError("user 'nora' may not read orders_order #7")

    add_plugin(routes=[Route("/secret", secret)])
    client = logged_in("nora", "dummy_note_taker")
    response = client.get("/extra/secret")
    assert response.status_code == 403
    assert "You may not see this page" in response.text
    assert "orders_order" not in response.text


def test_server_error_page_shows_no_traceback_and_the_error_is_logged(
    add_plugin, logged_in, caplog
):
    def broken(request):
        raise RuntimeError("database password is hunter2")

    add_plugin(routes=[Route("/broken", broken)])
    client = logged_in("nora", "dummy_note_taker", raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="accord.ui"):
        response = client.get("/extra/broken")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "hunter2" in caplog.text


def test_a_successful_request_commits_and_a_failed_one_changes_nothing(
    add_plugin, logged_in, accord_session
):
    def create(request):
        session = request.state.session
        session.add(Partner(kind=PartnerKind.COMPANY, name=request.query_params["name"]))
        session.flush()
        if "fail" in request.query_params:
            raise HTTPException(400)
        return PlainTextResponse("created")

    add_plugin(routes=[Route("/create", create)])
    client = logged_in("boss", "admin")
    assert client.get("/extra/create", params={"name": "Kept"}).status_code == 200
    failed = client.get("/extra/create", params={"name": "Dropped", "fail": "1"})
    assert failed.status_code == 400
    names = accord_session.scalars(select(Partner.name)).all()
    assert names == ["Kept"]


def test_the_request_acts_as_the_signed_in_user(add_plugin, logged_in):
    def who(request):
        principal = request.state.principal
        return PlainTextResponse(f"{principal.actor} {sorted(principal.roles)}")

    add_plugin(routes=[Route("/who", who)])
    client = logged_in("nora", "dummy_note_taker")
    assert client.get("/extra/who").text.endswith(":nora ['dummy_note_taker']")


def test_the_job_runner_runs_while_the_app_does(make_client):
    def runners():
        return [thread for thread in threading.enumerate() if thread.name == "accord-jobs"]

    before = len(runners())
    with make_client():
        assert len(runners()) == before + 1
    assert len(runners()) == before


def test_serve_refuses_an_unknown_app_factory_in_one_line(accord_cli, accord_db):
    result = accord_cli("serve", "--app", "accord.nowhere:create_app")
    assert result.exit_code != 0
    assert "Error: --app 'accord.nowhere:create_app'" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_database_that_is_not_migrated(accord_cli, accord_runtime):
    result = accord_cli("serve", "--port", "1")
    assert result.exit_code == 1
    assert "run `accord db upgrade` first" in result.output
    assert "Traceback" not in result.output
