"""The web store's orders arriving with no human in the loop (POST /orders/intake with an
API key): the customer is created or updated, the order is confirmed into the shipping
queue, the buyer gets the confirmation mail, campaigns hear of the tracked-link token; the
same store order posted twice is one order; a malformed one is refused naming the field,
and nothing is written."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from accord.api import Partner
from accord.core.events import OutboxEvent
from accord.core.security import create_api_key, create_user
from accord.plugins.orders.api import Order
from accord.testing import run_jobs
from accord.ui import create_app

from .conftest import Company

STORE_ORDER: dict[str, Any] = {
    "store_order_id": "WS-10042",
    "placed_at": "2026-11-23T09:30:00Z",
    "currency": "EUR",
    "customer": {
        "id": "C-881",
        "name": "Anna Berg",
        "email": "anna.berg@example.se",
        "phone": "+46 70 123 45 67",
        "address": {
            "street": "Storgatan 1",
            "city": "Malmö",
            "postcode": "211 34",
            "country": "SE",
        },
    },
    "lines": [
        {"sku": "PUMP-100", "quantity": 1, "unit_price": "950.00"},
        {"sku": "CTRL-7", "quantity": 2, "unit_price": "240.00", "discount_percent": "5"},
    ],
    "tracking_token": "nl-nov-7f3a",
}


@pytest.fixture
def accord_extra_settings(smtp_server: Any) -> dict[str, Any]:
    return dict(smtp_server.settings)


def api_client(company: Company, *roles: str, login: str = "store") -> TestClient:
    with company.system() as session:
        user = create_user(session, login, "correct horse battery", roles=roles)
        _, token = create_api_key(session, user, "web store")
    client = TestClient(create_app(company.runtime), follow_redirects=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def store(company: Company) -> TestClient:
    return api_client(company, "orders_webstore")


def counts(company: Company) -> tuple[int, int]:
    with company.system() as session:
        orders = session.scalar(select(func.count()).select_from(Order))
        partners = session.scalar(select(func.count()).select_from(Partner))
        return int(orders or 0), int(partners or 0)


def test_a_store_order_becomes_a_confirmed_order_of_a_new_customer(
    company: Company, store: TestClient, smtp_server: Any
) -> None:
    response = store.post("/orders/intake", json=STORE_ORDER)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "confirmed"
    assert body["created"] is True
    assert body["amount"] == "1406.00"  # 950 + 2 x 240 less 5 %
    with company.system() as session:
        order = session.get(Order, body["id"])
        assert order is not None
        assert order.number == body["order"]
        assert order.external_ref == "WS-10042"
        assert order.campaign_token == "nl-nov-7f3a"
        customer = session.get(Partner, order.partner_id)
        assert customer is not None
        assert (customer.name, customer.email) == ("Anna Berg", "anna.berg@example.se")
        assert [(e.system, e.value) for e in customer.external_ids] == [("webstore", "C-881")]
        assert customer.addresses[0].city == "Malmö"
        placed = session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.name == "orders.order_placed")
        ).all()
    assert any('"campaign_token": "nl-nov-7f3a"' in payload for payload in placed)
    run_jobs(company.runtime)
    [message] = smtp_server.messages
    assert message["To"] == "anna.berg@example.se"
    assert message["Subject"] == f"Your order {body['order']} is confirmed"
    assert "2 x Controller 7" in message.get_content()


def test_the_same_store_order_posted_twice_is_one_order(
    company: Company, store: TestClient, smtp_server: Any
) -> None:
    first = store.post("/orders/intake", json=STORE_ORDER)
    again = store.post("/orders/intake", json=STORE_ORDER)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["order"] == first.json()["order"]
    assert again.json()["created"] is False
    assert counts(company) == (1, 2)  # the company's customer and the buyer
    run_jobs(company.runtime)
    assert len(smtp_server.messages) == 1


def test_a_returning_buyer_is_updated_not_duplicated(company: Company, store: TestClient) -> None:
    assert store.post("/orders/intake", json=STORE_ORDER).status_code == 201
    second = copy.deepcopy(STORE_ORDER)
    second["store_order_id"] = "WS-10043"
    second["customer"]["phone"] = "+46 70 999 00 00"
    second["customer"]["address"]["city"] = "Lund"
    assert store.post("/orders/intake", json=second).status_code == 201
    assert counts(company) == (2, 2)
    with company.system() as session:
        buyer = session.scalar(select(Partner).where(Partner.email == "anna.berg@example.se"))
        assert buyer is not None
        assert buyer.phone == "+46 70 999 00 00"
        assert [address.city for address in buyer.addresses] == ["Lund"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda o: o["customer"].pop("email"), "customer.email", "Field required"),
        (lambda o: o["lines"][1].update(quantity=0), "lines[1].quantity", "greater than 0"),
        (lambda o: o["lines"][0].update(sku="NOPE-1"), "lines[0].sku", "no product with SKU"),
        (lambda o: o.update(currency="USD"), "currency", "this store sells in EUR"),
        (lambda o: o.update(lines=[]), "lines", "at least 1 item"),
        (lambda o: o.update(placed_at="2026-11-23T09:30:00"), "placed_at", "time zone"),
    ],
    ids=["no-email", "zero-quantity", "unknown-sku", "currency", "no-lines", "naive-time"],
)
def test_a_malformed_store_order_is_refused_naming_the_field_and_creates_nothing(
    company: Company, store: TestClient, change: Any, field: str, message: str
) -> None:
    payload = copy.deepcopy(STORE_ORDER)
    change(payload)
    response = store.post("/orders/intake", json=payload)
    assert response.status_code == 422, response.text
    errors = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert field in errors
    assert message in errors[field]
    assert counts(company) == (0, 1)


def test_a_body_that_is_not_json_is_refused(company: Company, store: TestClient) -> None:
    response = store.post(
        "/orders/intake", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]


def test_a_key_without_the_intake_permission_is_refused(company: Company) -> None:
    client = api_client(company, "salesperson", login="sally")
    response = client.post("/orders/intake", json=STORE_ORDER)
    assert response.status_code == 403
    assert "orders.intake" in response.json()["error"]
    assert counts(company) == (0, 1)


def test_without_a_key_the_store_is_not_let_in(company: Company) -> None:
    client = TestClient(create_app(company.runtime), follow_redirects=False)
    response = client.post(
        "/orders/intake", json=STORE_ORDER, headers={"Authorization": "Bearer accord_nope_nope"}
    )
    assert response.status_code == 401
    assert counts(company) == (0, 1)


def test_an_order_short_of_stock_waits_in_draft_for_the_back_office(
    company: Company, store: TestClient, smtp_server: Any
) -> None:
    payload = copy.deepcopy(STORE_ORDER)
    payload["lines"][0]["quantity"] = 50
    response = store.post("/orders/intake", json=payload)
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "draft"
    assert "Pump 100" in response.json()["held"]
    run_jobs(company.runtime)
    assert smtp_server.messages == []
