"""The offer and order pages show what other plugins add to offers and orders
(``accord_record_panels``), in the same slots as every record page: an alert above the
lines, a tab below them, a side panel beside them; a panel that fails is named and the page
and the other panels still show (on PostgreSQL too, where a failed statement would abort
the request's transaction without its savepoint)."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from accord.api import Partner, RecordPanel, RenderContext, hookimpl
from accord.plugins.orders.api import LineInput, Offer, Order, create_offer, create_order
from accord.testing import signed_in_client

from .conftest import Company

PASSWORD = "correct horse battery"


class PanelPlugin:
    def __init__(self, panels: list[RecordPanel]) -> None:
        self.panels = panels

    @hookimpl
    def accord_record_panels(self) -> list[RecordPanel]:
        return self.panels


def broken(context: RenderContext) -> str:
    context.session.execute(text("SELECT * FROM no_such_table"))
    return "never"


def customer_of(context: RenderContext) -> str:
    # Reads after the broken panel: only its savepoint keeps this working on PostgreSQL.
    record = context.record
    assert isinstance(record, Offer | Order)
    name = context.session.scalar(select(Partner.name).where(Partner.id == record.partner_id))
    return f"<p>Delivery notes for {name}</p>"


def browser(company: Company, login: str) -> TestClient:
    return signed_in_client(company.runtime, login, PASSWORD)


@pytest.fixture
def documents(company: Company) -> dict[str, int]:
    """A draft offer and a draft order of Sam's for Garda Srl."""
    line = [LineInput(quantity=Decimal(1), product_id=company.products["PUMP-100"])]
    with company.as_("sam") as session:
        offer = create_offer(company.runtime, session, partner_id=company.customer_id, lines=line)
        order = create_order(company.runtime, session, partner_id=company.customer_id, lines=line)
        return {"offer": offer.id, "order": order.id}


def test_without_other_plugins_the_order_and_offer_pages_show_no_panels(
    company: Company, documents: dict[str, int]
) -> None:
    sam = browser(company, "sam")
    for path in (f"/orders/orders/{documents['order']}", f"/orders/offers/{documents['offer']}"):
        page = sam.get(path)
        assert page.status_code == 200, page.text
        assert "PUMP-100" in page.text
        assert "data-panel=" not in page.text
        assert "record-side" not in page.text


@pytest.mark.parametrize("model", ["orders_order", "orders_offer"])
def test_other_plugins_panels_fill_their_slots_and_a_failing_one_is_isolated(
    company: Company, documents: dict[str, int], model: str, caplog: pytest.LogCaptureFixture
) -> None:
    company.runtime.pm.register(
        PanelPlugin(
            [
                RecordPanel("extra.broken", model, "Broken", broken, slot="side_panels"),
                RecordPanel("extra.notes", model, "Delivery", customer_of, slot="tabs"),
                RecordPanel(
                    "extra.warning", model, "Warning", lambda c: "<p>Check the pallet</p>", "alerts"
                ),
                RecordPanel(
                    "extra.call",
                    model,
                    "Call",
                    lambda c: "<a href='tel:1'>Call the buyer</a>",
                    slot="header_actions",
                ),
                RecordPanel("extra.elsewhere", "core_partner", "Elsewhere", lambda c: "<p>no</p>"),
            ]
        ),
        name="extra",
    )
    path = (
        f"/orders/orders/{documents['order']}"
        if model == "orders_order"
        else f"/orders/offers/{documents['offer']}"
    )
    with caplog.at_level(logging.ERROR, logger="accord.ui"):
        page = browser(company, "sam").get(path)

    assert page.status_code == 200, page.text
    assert "record panel 'extra.broken' failed" in caplog.text
    assert "This panel could not be shown just now; the error has been logged." in page.text
    assert "<p>Delivery notes for Garda Srl</p>" in page.text
    assert '<h2 id="panel-extra-notes-title">Delivery</h2>' in page.text
    assert 'class="record-alert" role="note" id="panel-extra-warning"' in page.text
    assert "<a href='tel:1'>Call the buyer</a>" in page.text
    assert "<p>no</p>" not in page.text
    # the alert comes before the lines, the tab after them
    assert page.text.index("Check the pallet") < page.text.index("PUMP-100")
    assert page.text.index("Delivery notes") > page.text.index("PUMP-100")
