"""Fixtures for the browser tests: Accord's web app served by uvicorn on 127.0.0.1 from a
background thread, driven by Debian's headless Chromium through Playwright, on a migrated
SQLite database made by the ``accord.testing`` fixtures.

Chromium is Debian's (`apt-get install chromium chromium-driver`); Playwright never
downloads a browser of its own. Where Chromium or Playwright is missing the browser tests
are skipped with one line saying why, except under CI, where they fail: CI must run them.
Each test's last page is saved as ``test-artifacts/screenshots/<test>.png``.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from accord.core.db import Database
from accord.core.runtime import Runtime

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"  # accord_make_user's default
STEP_TIMEOUT_MS = 5_000  # a page that does not answer in 5 s is a failure, not a wait

# Without Playwright the test modules cannot be imported, and an import error would stop
# the whole run: leave them out. tests/conftest.py's summary says why, and under CI the run
# fails.
collect_ignore_glob = ["test_*.py"] if importlib.util.find_spec("playwright") is None else []


@pytest.fixture
def accord_backend() -> str:
    """Browser tests run on SQLite only: what they check is the web app, and the data layer
    under it runs on both databases in the other tests."""
    return "sqlite"


@pytest.fixture
def live_server(accord_runtime: Runtime, accord_db: Database) -> Iterator[str]:
    """The web app of the test's runtime, served on a free port of 127.0.0.1; its base URL."""
    import uvicorn

    from accord.ui import create_app

    config = uvicorn.Config(
        create_app(accord_runtime), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="accord-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the web app did not start: see uvicorn's log above")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the web app did not start within 10 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            warnings.warn("the web app was still stopping after 10 s", stacklevel=1)


# Playwright's sync API marks its event loop as running in the main thread while it is
# started, and asyncio.run() then refuses to run in any later test: so the browser lives as
# long as this package's tests, not the whole run.
@pytest.fixture(scope="package")
def browser(chromium: Path) -> Iterator[Browser]:
    """Debian's headless Chromium, launched once for all the browser tests (of this
    process: each pytest-xdist worker launches its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(
    browser: Browser, live_server: str, request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) aimed at the live server; at the end the last
    page it showed is saved as a screenshot."""
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    yield context
    _save_screenshot(context, request.node.name)
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def log_in(page: Page) -> Callable[..., None]:
    """``log_in("alice")`` fills in and sends the login form as a user would."""

    def log_in(login: str, password: str = PASSWORD) -> None:
        page.goto("/login")
        page.get_by_label("Login", exact=True).fill(login)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()

    return log_in


def _save_screenshot(context: BrowserContext, test_name: str) -> None:
    from playwright.sync_api import Error

    pages = [page for page in context.pages if not page.is_closed()]
    if not pages:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test_name)}.png"
    try:
        pages[-1].screenshot(path=path, full_page=True)
    except Error as error:  # a screenshot is a help, never a reason to fail the test
        warnings.warn(f"no screenshot for {test_name}: {error}", stacklevel=1)
