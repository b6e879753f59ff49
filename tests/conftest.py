"""Shared fixtures: Accord's own tests use the fixtures of ``accord.testing`` (loaded through
its pytest11 entry point), exactly as a partner's add-on does."""

from pathlib import Path

import pytest

DUMMY_PLUGIN = Path(__file__).parent / "dummy_plugin"


@pytest.fixture
def dummy_plugin_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes the dummy add-on (a package with its own dist-info, outside the source tree)
    visible to entry-point discovery, as `pip install` would."""
    monkeypatch.syspath_prepend(str(DUMMY_PLUGIN))
