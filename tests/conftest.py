"""Shared fixtures: Accord's own tests use the fixtures of ``accord.testing`` (loaded through
its pytest11 entry point), exactly as a partner's add-on does.

The whole suite runs spread over the CPUs (pytest-xdist); a run that names its tests
(``pytest tests/core/test_cli.py``) runs in one process, and ``-n N`` chooses. Hooks that
write the summary or decide the exit status live here, not in tests/browser/conftest.py:
under xdist only this conftest is loaded in the controlling process."""

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from accord.core.runtime import Runtime

T = TypeVar("T")

DUMMY_PLUGIN = Path(__file__).parent / "dummy_plugin"
WELCOME_PLUGIN = Path(__file__).parent / "welcome_plugin"

# The browser tests (tests/browser) drive Debian's Chromium through Playwright.
CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT_MISSING = importlib.util.find_spec("playwright") is None
if PLAYWRIGHT_MISSING:
    BROWSER_UNAVAILABLE: str | None = (
        "playwright is not installed: it belongs in pyproject's test extra; meanwhile "
        "`.venv/bin/pip install playwright` (never `playwright install`: Chromium is Debian's)"
    )
elif not CHROMIUM.exists():
    BROWSER_UNAVAILABLE = f"{CHROMIUM} not found: `apt-get install chromium chromium-driver`"
else:
    BROWSER_UNAVAILABLE = None
ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads -n
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite (no test named on the command line) runs on every CPU."""
    if (
        config.pluginmanager.has_plugin("xdist")
        and not hasattr(config, "workerinput")
        and config.option.numprocesses is None
        and config.args_source is pytest.Config.ArgsSource.TESTPATHS
        and not config.option.collectonly
        and not config.option.usepdb
    ):
        config.option.numprocesses = "auto"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if PLAYWRIGHT_MISSING and ON_CI and exitstatus in (0, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not BROWSER_UNAVAILABLE:
        return
    if ON_CI:  # where the browser tests must run; with Chromium missing they have failed
        if PLAYWRIGHT_MISSING:
            terminalreporter.write_line(
                f"accord: browser tests NOT RUN, and CI must run them: {BROWSER_UNAVAILABLE}",
                red=True,
                bold=True,
            )
        return
    skipped = sum(
        "tests/browser/" in report.nodeid for report in terminalreporter.stats.get("skipped", [])
    )
    what = f"{skipped} browser tests SKIPPED" if skipped else "browser tests NOT COLLECTED"
    terminalreporter.write_line(f"accord: {what}: {BROWSER_UNAVAILABLE}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium for the browser tests: they are skipped where it or Playwright is
    missing, and fail under CI, which must run them."""
    if BROWSER_UNAVAILABLE:
        if ON_CI:
            pytest.fail(f"browser tests cannot run on CI: {BROWSER_UNAVAILABLE}", pytrace=False)
        pytest.skip(BROWSER_UNAVAILABLE)
    return CHROMIUM


@pytest.fixture
def dummy_plugin_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the dummy add-on (a package with its own dist-info, outside the source tree)
    visible to entry-point discovery, as `pip install` would."""
    monkeypatch.syspath_prepend(str(DUMMY_PLUGIN))


@pytest.fixture
def welcome_plugin_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the welcome add-on (mail templates and demo data, tests/welcome_plugin)
    visible to entry-point discovery, as `pip install` would."""
    monkeypatch.syspath_prepend(str(WELCOME_PLUGIN))


@pytest.fixture
def at_once() -> Callable[..., list[object]]:
    """``at_once(config, work)``: see :func:`run_at_once`."""
    return run_at_once


def run_at_once(config: Path, work: Callable[[Runtime], T], processes: int = 2) -> list[T]:
    """Run ``work`` in ``processes`` threads at the same moment, each with its own Runtime
    (its own engine and connections, as separate processes would have); their results."""
    runtimes = [Runtime(config) for _ in range(processes)]
    together = threading.Barrier(processes)
    results: list[T] = []

    def run(runtime: Runtime) -> None:
        together.wait()
        results.append(work(runtime))

    threads = [threading.Thread(target=run, args=(runtime,)) for runtime in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for runtime in runtimes:
        runtime.close()
    return results
