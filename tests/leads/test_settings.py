"""The [leads] section: safe defaults, and a wrong value stops the start-up naming the key."""

from __future__ import annotations

import pytest

from accord.core.errors import SettingsError
from accord.core.settings import load_settings
from accord.plugins.leads.settings import LeadsSettings, parse_postcode_range


def settings_with(accord_config, text: str):
    accord_config.write_text(accord_config.read_text() + text)
    return load_settings(accord_config)


@pytest.fixture
def leads_settings_text() -> str:
    return ""


sqlite_only = pytest.mark.parametrize("accord_backend", ["sqlite"])  # no database needed


@sqlite_only
def test_the_defaults_hold_every_channel_and_safe_policies(accord_config):
    section = load_settings(accord_config).section("leads")
    assert isinstance(section, LeadsSettings)
    assert len(section.channels) == 15
    assert "trade_fair" in section.channels
    assert section.qualifying_roles == ("telemarketer", "back_office", "sales_manager")
    assert section.assignment == ()
    assert section.stage_probability("proposal") == 50


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[leads]\nchannels = ["Trade Fair"]\n',
            "[leads] channels: 'Trade Fair': use lowercase letters, digits and '_'",
        ),
        ("[leads]\ndisqualify_reasons = []\n", "[leads] disqualify_reasons: must hold at least"),
        (
            '[[leads.assignment]]\nname = "Milan"\nchannels = ["fax"]\nuser = "ugo"\n',
            "assignment rule #1 'Milan': unknown channel 'fax'; known: social, web_form",
        ),
        (
            '[[leads.assignment]]\nname = "Milan"\npostcodes = ["20199-20100"]\nuser = "ugo"\n',
            "postcode range '20199-20100': the first postcode is after the second",
        ),
        (
            '[[leads.assignment]]\nname = "Both"\nteam = "North"\nuser = "ugo"\n',
            "rule 'Both': give either team (round robin) or user, not both or none",
        ),
        (
            '[[leads.assignment]]\nname = "Italy"\ncountries = ["Italy"]\nuser = "ugo"\n',
            "country 'Italy': use the two-letter ISO code",
        ),
        (
            '[leads.web_forms.site-1]\ntitle = "Shop"\nredirect = "/thanks"\n',
            "'/thanks': give a full address",
        ),
        ('[leads]\nweb_rate_limit = "lots"\n', "[leads] web_rate_limit: write a rate such as"),
        (
            "[leads.stage_probabilities]\nwon = 100\n",
            "unknown stage 'won'; the open stages are qualification, proposal, negotiation",
        ),
        (
            '[[leads.scoring]]\nfield = "shoe_size"\npoints = 5\n',
            "scoring rule #1: unknown field 'shoe_size'",
        ),
    ],
)
@sqlite_only
def test_a_wrong_setting_stops_the_start_up_naming_it(accord_config, text, message):
    with pytest.raises(SettingsError) as caught:
        settings_with(accord_config, text)
    assert str(accord_config) in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("span", "inside", "outside"),
    [
        ("20100-20199", ["20100", "20121", "20199"], ["20099", "20200", "2012", "", "MI"]),
        ("SW1-SW9", ["SW1A 1AA", "SW9"], ["W1", "SE1"]),
        ("75320", ["75320", "753 20"], ["75321"]),
    ],
)
def test_postcode_ranges(span, inside, outside):
    found = parse_postcode_range(span)
    assert all(found.contains(code) for code in inside)
    assert not any(found.contains(code) for code in outside)


@sqlite_only
def test_a_qualifying_role_no_plugin_declares_stops_the_start_up(accord_config):
    from accord.core.runtime import Runtime
    from accord.ui import create_app

    accord_config.write_text(
        accord_config.read_text() + '[leads]\nqualifying_roles = ["telemarketing"]\n'
    )
    runtime = Runtime(accord_config)
    try:
        with pytest.raises(SettingsError) as caught:
            create_app(runtime)
    finally:
        runtime.close()
    assert str(caught.value).startswith(
        f"{accord_config}, [leads] qualifying_roles: unknown role 'telemarketing'; known: admin"
    )
