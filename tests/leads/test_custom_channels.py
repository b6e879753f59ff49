"""A company's own channels (``[leads] channels``) are what the leads list filters by and
what the lead form offers, not the built-in list: the choices are asked of the settings
on each request."""

from __future__ import annotations

import re
from html import unescape

import pytest
from starlette.testclient import TestClient

from accord.ui import create_app

from .conftest import PASSWORD


@pytest.fixture
def leads_settings_text() -> str:
    return '\n[leads]\nchannels = ["radio", "referral", "trade_fair"]\n'


@pytest.fixture
def sam(accord_runtime, network) -> TestClient:
    client = TestClient(create_app(accord_runtime), follow_redirects=False)
    client.get("/login")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/login", data={"login": "sam", "password": PASSWORD, "csrftoken": token}
    )
    assert response.status_code == 303
    return client


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert select, f"no <select name={name!r}>"
    return [value for value in re.findall(r'<option value="([^"]*)"', select[1]) if value]


def test_the_list_filters_by_the_companys_channels(sam, network, make_lead):
    make_lead(network["sam"], company="Bar Radio", channel="radio")
    make_lead(network["sam"], company="Bar Fiera", channel="trade_fair")

    page = sam.get("/views/leads")
    assert options(page.text, "f_channel") == ["radio", "referral", "trade_fair"]

    radio = sam.get("/views/leads", params={"f_channel": "radio"})
    assert "Bar Radio" in radio.text
    assert "Bar Fiera" not in radio.text

    unknown = sam.get("/views/leads", params={"f_channel": "newsletter"})
    assert unknown.status_code == 400
    assert "Channel: &#39;newsletter&#39; is not one of the choices." in unknown.text


def test_the_lead_form_offers_the_companys_channels(sam, network):
    form = sam.get("/views/leads/new")
    assert options(form.text, "channel") == ["radio", "referral", "trade_fair"]

    wrong = sam.post(
        "/views/leads/new",
        data={"csrftoken": sam.cookies["csrftoken"], "company": "Bar Blog", "channel": "blog"},
    )
    assert wrong.status_code == 422
    found = re.search(
        r'<small id="field-channel-error" class="field-error">([^<]*)</small>', wrong.text
    )
    assert found
    assert unescape(found[1]) == "Pick one of the choices."
