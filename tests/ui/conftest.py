"""The web app on the test database, with the dummy add-on enabled (it contributes a menu
item, a dashboard widget, a route, templates and static files), and a browser-like client."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from accord.api import hookimpl
from accord.ui import create_app

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _dummy_addon(dummy_plugin_installed):
    """Installed before the runtime reads its settings, so the add-on is found."""


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


class ExtraPlugin:
    """Hooks a test adds to the runtime's plugin manager before the app is built."""

    def __init__(self, routes=(), template_folders=(), menu_items=(), dashboard_widgets=()):
        self.routes = list(routes)
        self.template_folders = list(template_folders)
        self.menu_items = list(menu_items)
        self.dashboard_widgets = list(dashboard_widgets)

    @hookimpl
    def accord_routes(self):
        return self.routes

    @hookimpl
    def accord_menu_items(self):
        return self.menu_items

    @hookimpl
    def accord_dashboard_widgets(self):
        return self.dashboard_widgets

    @hookimpl
    def accord_template_folders(self):
        return self.template_folders


@pytest.fixture
def add_plugin(accord_runtime) -> Callable[..., None]:
    def add(name: str = "extra", **hooks: Any) -> None:
        accord_runtime.pm.register(ExtraPlugin(**hooks), name=name)

    return add


@pytest.fixture
def make_client(accord_runtime, accord_db) -> Callable[..., TestClient]:
    def make(**options: Any) -> TestClient:
        app_options = {key: options.pop(key) for key in ("secure_cookies",) if key in options}
        app = create_app(accord_runtime, **app_options)
        return TestClient(app, follow_redirects=False, **options)

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    """Without ``with``: the app's lifespan (the job runner) is not started."""
    return make_client()


def csrf_token(client: TestClient) -> str:
    """The token a page's forms carry: the CSRF cookie, set by any page."""
    if "csrftoken" not in client.cookies:
        client.get("/login")
    return client.cookies["csrftoken"]


def log_in(client: TestClient, login: str, password: str = PASSWORD, **extra: str):
    data = {"login": login, "password": password, "csrftoken": csrf_token(client), **extra}
    return client.post("/login", data=data)


@pytest.fixture
def logged_in(make_client, accord_make_user) -> Callable[..., TestClient]:
    """``logged_in("alice", "salesperson")``: a new client (so a new app, with the plugins
    added so far), signed in as a new user."""

    def sign_in(login: str, *roles: str, **client_options: Any) -> TestClient:
        accord_make_user(login, *roles)
        client = make_client(**client_options)
        response = log_in(client, login)
        assert response.status_code == 303, response.text
        return client

    return sign_in


def template_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "override_templates"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder
