"""Orders from entry to invoice, as the back office and the customer notice them: the
availability check before confirmation, the shipping queue, parcels with tracking numbers
and the serial number or licence key of each unit, stock going down, the timeline and
the events other plugins hear; and two clerks confirming the same order at once."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.api import (
    Activity,
    InvalidTransitionError,
    MissingInputError,
    Runtime,
    TransitionBlockedError,
    TransitionConflictError,
    TransitionNotAllowedError,
)
from accord.core.events import OutboxEvent
from accord.core.jobs import run_pending
from accord.plugins.orders.api import (
    DeliveredUnit,
    LineInput,
    Offer,
    Order,
    OrderError,
    Product,
    ShipmentInput,
    UnitInput,
    confirm,
    create_offer,
    create_order,
    order_amount,
    order_from_offer,
    ship,
    submit,
)

from .conftest import Company


def place(company: Company, login: str = "sam", **quantities: str) -> int:
    """An order of ``SKU=quantity`` (dashes spelled as underscores) entered by ``login``."""
    with company.as_(login) as session:
        lines = [
            LineInput(Decimal(quantity), product_id=company.products[sku.replace("_", "-")])
            for sku, quantity in quantities.items()
        ]
        order = create_order(company.runtime, session, partner_id=company.customer_id, lines=lines)
        return order.id


def confirm_as(company: Company, login: str, order_id: int) -> str:
    with company.as_(login) as session:
        order = session.get(Order, order_id)
        assert order is not None
        confirm(company.runtime, session, order)
        return order.state


def state_of(company: Company, order_id: int) -> str:
    with company.system() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.state


def test_the_back_office_confirms_an_order_whose_goods_are_in_stock(company: Company) -> None:
    order_id = place(company, PUMP_100="2", CTRL_7="1")
    assert confirm_as(company, "bea", order_id) == "confirmed"
    with company.system() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert order.amount == Decimal("2250.00") == order_amount(order)
        assert order.cost == Decimal("1300.00")
        assert order.confirmed_by_id == company.users["bea"].id
        assert "PUMP-100: 10 pcs free in stock" in order.availability_note


def test_a_salesperson_cannot_confirm_an_order(company: Company) -> None:
    order_id = place(company, PUMP_100="1")
    with pytest.raises(TransitionNotAllowedError, match=r"orders\.orders\.confirm"):
        confirm_as(company, "sam", order_id)
    assert state_of(company, order_id) == "draft"


def test_an_order_short_of_stock_stays_in_draft_saying_what_is_missing(company: Company) -> None:
    order_id = place(company, PUMP_100="11")
    with pytest.raises(TransitionBlockedError, match=r"not available: Pump 100 \(only 10 pcs"):
        confirm_as(company, "bea", order_id)
    assert state_of(company, order_id) == "draft"


def test_confirmed_orders_hold_their_stock_until_they_ship(company: Company) -> None:
    first = place(company, PUMP_100="8")
    confirm_as(company, "bea", first)
    second = place(company, PUMP_100="3")
    with pytest.raises(TransitionBlockedError, match="only 2 pcs free"):
        confirm_as(company, "bea", second)


def ship_as(company: Company, login: str, order_id: int, parcel: dict[str, Any]) -> str:
    with company.as_(login) as session:
        order = session.get(Order, order_id)
        assert order is not None
        by_sku = {line.sku: line.id for line in order.lines}
        ship(
            company.runtime,
            session,
            order,
            ShipmentInput(
                tracking_number=parcel["tracking"],
                carrier="DHL",
                quantities={by_sku[sku]: Decimal(q) for sku, q in parcel["quantities"].items()},
                units={by_sku[sku]: units for sku, units in parcel.get("units", {}).items()},
            ),
        )
        return order.state


def test_an_order_ships_in_parts_with_a_serial_number_per_unit(company: Company) -> None:
    order_id = place(company, PUMP_100="2", CTRL_7="3")
    confirm_as(company, "bea", order_id)
    serials = [UnitInput(serial_number="C7-0001"), UnitInput(serial_number="C7-0002")]
    state = ship_as(
        company,
        "bea",
        order_id,
        {
            "tracking": "1Z999",
            "quantities": {"PUMP-100": "2", "CTRL-7": "2"},
            "units": {"CTRL-7": serials},
        },
    )
    assert state == "partially_shipped"
    state = ship_as(
        company,
        "bea",
        order_id,
        {
            "tracking": "1Z1000",
            "quantities": {"CTRL-7": "1"},
            "units": {"CTRL-7": [UnitInput(serial_number="C7-0003")]},
        },
    )
    assert state == "shipped"
    with company.system() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert [shipment.tracking_number for shipment in order.shipments] == ["1Z999", "1Z1000"]
        assert set(session.scalars(select(DeliveredUnit.serial_number))) == {
            "C7-0001",
            "C7-0002",
            "C7-0003",
        }
        stock = {
            sku: on_hand for sku, on_hand in session.execute(select(Product.sku, Product.stock))
        }
        assert stock["PUMP-100"] == Decimal("8")
        assert stock["CTRL-7"] == Decimal("2")


@pytest.mark.parametrize(
    ("parcel", "message"),
    [
        ({"tracking": " ", "quantities": {"CTRL-7": "1"}}, "give the parcel's tracking number"),
        ({"tracking": "T1", "quantities": {"CTRL-7": "3"}}, "ship between 0 and 2"),
        (
            {
                "tracking": "T1",
                "quantities": {"CTRL-7": "2"},
                "units": {"CTRL-7": [UnitInput(serial_number="S1")]},
            },
            "give one serial number per unit shipped",
        ),
        (
            {
                "tracking": "T1",
                "quantities": {"CTRL-7": "2"},
                "units": {"CTRL-7": [UnitInput(serial_number="S1"), UnitInput(serial_number="S1")]},
            },
            "the same serial number is given twice",
        ),
        ({"tracking": "T1", "quantities": {"CTRL-7": "0"}}, "the parcel ships nothing"),
    ],
    ids=["no-tracking", "too-many", "serial-missing", "serial-twice", "nothing"],
)
def test_a_wrong_parcel_is_refused_and_changes_nothing(
    company: Company, parcel: dict[str, Any], message: str
) -> None:
    order_id = place(company, CTRL_7="2")
    confirm_as(company, "bea", order_id)
    with pytest.raises(OrderError, match=message):
        ship_as(company, "bea", order_id, parcel)
    with company.system() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert order.state == "confirmed"
        assert order.shipments == []
        assert order.lines[0].shipped_quantity == 0
        product = session.get(Product, company.products["CTRL-7"])
        assert product is not None
        assert product.stock == Decimal("5")


def test_a_licence_key_is_recorded_per_licence_delivered(company: Company) -> None:
    order_id = place(company, SCADA_LIC="2")
    confirm_as(company, "bea", order_id)
    keys = [UnitInput(licence_key="AAAA-1111"), UnitInput(licence_key="BBBB-2222")]
    ship_as(
        company,
        "bea",
        order_id,
        {"tracking": "EMAIL", "quantities": {"SCADA-LIC": "2"}, "units": {"SCADA-LIC": keys}},
    )
    with company.system() as session:
        assert set(session.scalars(select(DeliveredUnit.licence_key))) == {"AAAA-1111", "BBBB-2222"}


def test_cancelling_needs_a_reason_and_is_refused_once_part_has_shipped(company: Company) -> None:
    order_id = place(company, PUMP_100="2")
    confirm_as(company, "bea", order_id)
    engine = company.runtime.workflows
    with company.as_("bea") as session:
        order = session.get(Order, order_id)
        with pytest.raises(MissingInputError, match="reason"):
            engine.transition(session, order, "cancel")
    ship_as(company, "bea", order_id, {"tracking": "T1", "quantities": {"PUMP-100": "1"}})
    with company.as_("bea") as session:
        order = session.get(Order, order_id)
        assert order is not None
        with pytest.raises(InvalidTransitionError, match="it is 'partially_shipped'"):
            engine.transition(session, order, "cancel", reason="customer changed their mind")


def test_an_accepted_offer_becomes_an_order_with_its_prices_and_discounts(
    company: Company,
) -> None:
    engine = company.runtime.workflows
    with company.as_("sam") as session:
        offer = create_offer(
            company.runtime,
            session,
            partner_id=company.customer_id,
            lines=[
                LineInput(
                    Decimal("2"),
                    product_id=company.products["PUMP-100"],
                    discount_percent=Decimal("5"),
                )
            ],
        )
        offer_id = offer.id
    with company.as_("sam") as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        approvals = submit(company.runtime, session, offer)
    with company.as_("bea") as session:
        from accord.plugins.orders.api import OfferApproval, decide

        for approval in approvals:
            row = session.get(OfferApproval, approval.id)
            assert row is not None
            decide(company.runtime, session, row, grant=True)
    with company.as_("sam") as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None
        engine.transition(session, offer, "send")
        engine.transition(session, offer, "accept")
        order = order_from_offer(company.runtime, session, offer)
        assert offer.state == "ordered"
        assert order.offer_id == offer_id
        assert order.lines[0].discount_percent == Decimal("5")
        assert order.amount == Decimal("1900.00")


def test_the_timeline_and_subscribers_hear_of_the_order(company: Company) -> None:
    order_id = place(company, PUMP_100="1")
    confirm_as(company, "bea", order_id)
    ship_as(company, "bea", order_id, {"tracking": "1Z42", "quantities": {"PUMP-100": "1"}})
    run_pending(company.runtime)
    with company.system() as session:
        names = set(session.scalars(select(OutboxEvent.name)))
        assert {"orders.order_placed", "orders.order_confirmed", "orders.shipment_sent"} <= names
        subjects = session.scalars(
            select(Activity.subject).where(Activity.partner_id == company.customer_id)
        ).all()
        number = session.get(Order, order_id).number  # type: ignore[union-attr]
    assert f"Order {number} confirmed" in subjects
    assert f"Order {number} shipped" in subjects
    assert any(subject.startswith(f"Order {number} placed") for subject in subjects)


@pytest.mark.parametrize("accord_backend", ["postgresql"])
def test_two_clerks_confirming_the_same_order_one_wins_the_other_is_told(
    company: Company, accord_config: Path, at_once: Any
) -> None:
    order_id = place(company, PUMP_100="1")
    users = iter([company.users["bea"].id, company.users["bob"].id])
    both_loaded = threading.Barrier(2)

    def work(runtime: Runtime) -> str:
        user_id = next(users)
        try:
            with runtime.db.session(runtime.principal_for(user_id)) as session:
                order = session.get(Order, order_id)
                assert order is not None
                both_loaded.wait()  # each has the order on screen before either confirms
                confirm(runtime, session, order)
            return "confirmed"
        except TransitionConflictError as error:
            return str(error)

    results = at_once(accord_config, work)
    assert sorted(results)[0] == "confirmed"
    assert "was changed by someone else meanwhile; reload it" in sorted(results)[1]
    assert state_of(company, order_id) == "confirmed"
