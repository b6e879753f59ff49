"""The [campaigns] section: a mistake stops the start-up naming the key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from accord.plugins.campaigns.api import CampaignsSettings


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"attribution_model": "u_shaped"}, "'u_shaped' is not an attribution model"),
        ({"public_url": "crm.example.com"}, "write the full address"),
        ({"attribution_window_days": 0}, "attribution_window_days"),
        ({"channels": []}, "name at least one channel"),
    ],
)
def test_wrong_settings_are_named(values, message):
    with pytest.raises(ValidationError, match=message):
        CampaignsSettings(**values)


def test_the_defaults_are_safe():
    settings = CampaignsSettings()
    assert (settings.attribution_model, settings.attribution_window_days) == ("linear", 180)
