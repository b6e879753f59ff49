"""Shared fixtures: Accord's own tests use the fixtures of ``accord.testing`` (loaded through
its pytest11 entry point), exactly as a partner's add-on does."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from accord.core.runtime import Runtime

T = TypeVar("T")

DUMMY_PLUGIN = Path(__file__).parent / "dummy_plugin"
WELCOME_PLUGIN = Path(__file__).parent / "welcome_plugin"


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
