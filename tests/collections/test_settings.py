"""The [collections] section: the documented example is valid, and a wrong value stops the
start-up naming the key."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from accord.core.errors import SettingsError
from accord.core.runtime import Runtime
from accord.plugins.collections.settings import Chaser, CollectionsSettings

INTEGRATOR = Path(__file__).parents[2] / "docs" / "integrator.md"


def documented_example() -> str:
    text = INTEGRATOR.read_text()
    match = re.search(r"<!-- collections settings -->\n```toml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/integrator.md lost its [collections] example"
    return match[1]


def test_the_documented_example_is_valid():
    settings = CollectionsSettings(**tomllib.loads(documented_example())["collections"])
    assert settings.default_credit_limit == Decimal("20000")
    assert settings.chaser == Chaser.ADMINISTRATION
    assert [level.days for level in settings.dunning_levels] == [7, 21]


def test_defaults_are_safe():
    settings = CollectionsSettings()
    assert settings.default_credit_limit is None  # no limit unless the company sets one
    assert [level.days for level in settings.dunning_levels] == [7, 21, 45]


@pytest.fixture
def accord_plugins():
    return ["orders", "collections"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[collections.dunning_levels]]\ndays = 21\ntemplate = "a"\n'
            '[[collections.dunning_levels]]\ndays = 7\ntemplate = "b"\n',
            "dunning_levels: the days must increase from one level to the next, got 21, 7",
        ),
        ('[collections]\nchaser = "the intern"\n', "chaser"),
        ("[collections]\nblock_overdue_days = -1\n", "block_overdue_days"),
        (
            '[collections]\nchaser = "administration_then_agent"\nagent_from_level = 4\n',
            "agent_from_level: 4 is above the last dunning level (3)",
        ),
    ],
)
def test_a_wrong_value_stops_the_start_up_naming_it(accord_config, toml, message):
    accord_config.write_text(accord_config.read_text() + "\n" + toml)
    with pytest.raises(SettingsError) as error:
        Runtime(accord_config).settings  # noqa: B018
    assert message in str(error.value)
    assert "collections" in str(error.value)
