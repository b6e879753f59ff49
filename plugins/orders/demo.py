"""The orders area of the demo company: a catalogue over four product lines, a price list
for distributors, offers in every state (one waiting for sales management's approval of
its discount), eighteen months of orders confirmed, shipped with tracking numbers and
serials, delivered and invoiced, and a web-store order arriving through the intake."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy.orm import Session

from accord.api import DemoContext, Runtime, runtime_of

from .intake import receive
from .models import (
    CustomerTerms,
    Order,
    PriceList,
    PriceListItem,
    Product,
    UnitTracking,
)
from .offers import LineInput, create_offer, decide, submit
from .ordering import ShipmentInput, UnitInput, confirm, create_order, order_from_offer, ship

CATALOGUE = [
    # sku, name, line, list price, cost, tracking, standard
    ("PUMP-100", "Centrifugal pump 100", "Pumps", "1200", "720", UnitTracking.SERIAL, True),
    ("PUMP-250", "Centrifugal pump 250", "Pumps", "2900", "1650", UnitTracking.SERIAL, True),
    ("PUMP-SKID", "Pump skid, made to order", "Pumps", "14000", "9100", UnitTracking.NONE, False),
    ("VALV-20", "Ball valve DN20", "Valves", "85", "38", UnitTracking.NONE, True),
    ("VALV-50", "Butterfly valve DN50", "Valves", "240", "120", UnitTracking.NONE, True),
    ("CTRL-7", "Pump controller 7", "Controls", "650", "310", UnitTracking.SERIAL, True),
    ("CTRL-HMI", 'Touch panel 10"', "Controls", "980", "520", UnitTracking.SERIAL, True),
    ("SCADA-LIC", "SCADA licence, one site", "Software", "1500", "90", UnitTracking.LICENCE, True),
    ("SCADA-SUP", "SCADA support, one year", "Software", "600", "150", UnitTracking.NONE, True),
]
OFFER_STATES = [
    "draft",
    "submitted",
    "approved",
    "sent",
    "accepted",
    "ordered",
    "rejected",
    "expired",
]


def seed(demo: DemoContext) -> None:
    session, rng = demo.session, demo.rng
    runtime = runtime_of(session)
    engine = runtime.workflows
    products = []
    for sku, name, line, price, cost, tracking, standard in CATALOGUE:
        product = Product(
            sku=sku,
            name=name,
            product_line=line,
            list_price=Decimal(price),
            cost=Decimal(cost),
            stock=Decimal(rng.randint(200, 400)),
            tracking=tracking,
            standard=standard,
            lead_time_days=0 if standard else 60,
        )
        session.add(product)
        products.append(product)
    session.flush()
    stocked = [product for product in products if product.standard]
    distributors = PriceList(name="Distributors", customer_group="distributors", currency="EUR")
    distributors.items = [
        PriceListItem(product_id=product.id, price=(product.list_price * Decimal("0.8")))
        for product in stocked
    ]
    session.add(distributors)
    dana = demo.users["dana"]
    for customer in demo.customers:
        if customer.owner_id == dana.id:
            session.add(CustomerTerms(partner_id=customer.id, customer_group="distributors"))
    session.flush()
    demo.report(f"{len(products)} products in 4 product lines, a distributors' price list")

    def lines(count: int, discount_up_to: int = 8) -> list[LineInput]:
        return [
            LineInput(
                Decimal(rng.randint(1, 6)),
                product_id=product.id,
                discount_percent=Decimal(rng.randint(0, discount_up_to)),
            )
            for product in rng.sample(stocked, count)
        ]

    # Orders over eighteen months, for the dashboards' year on year.
    today = dt.date.today()
    owners = [demo.users[login] for login in ("sam", "sue", "ugo", "dana")]
    by_owner = {user.id: [c for c in demo.customers if c.owner_id == user.id] for user in owners}
    shipped = 0
    for index in range(90):
        owner = rng.choice(owners)
        customer = rng.choice(by_owner[owner.id] or list(demo.customers))
        on = today - dt.timedelta(days=rng.randint(0, 540))
        order = create_order(
            runtime,
            session,
            partner_id=customer.id,
            lines=lines(rng.randint(1, 3)),
            owner_id=owner.id,
            team_id=owner.team_id,
            ordered_on=on,
        )
        if index % 9 == 0:
            continue  # a few drafts wait for the back office
        confirm(runtime, session, order)
        if index % 9 == 1:
            continue  # in the shipping queue
        parcel_and_close(runtime, session, order, rng, full=index % 9 != 2)
        shipped += 1
        if order.state == "shipped" and on < today - dt.timedelta(days=20):
            engine.transition(session, order, "deliver")
            if on < today - dt.timedelta(days=45):
                engine.transition(session, order, "invoice")
    demo.report(f"90 orders over 18 months, {shipped} shipped with tracking numbers and serials")

    # An offer in every state; the submitted one waits for sales management.
    sam, mia, bea = demo.users["sam"], demo.users["mia"], demo.users["bea"]
    sams = by_owner.get(sam.id) or list(demo.customers)
    for state in OFFER_STATES:
        big = state in ("submitted", "approved")
        offer = create_offer(
            runtime,
            session,
            partner_id=rng.choice(sams).id,
            lines=lines(2, discount_up_to=25 if big else 8),
            owner_id=sam.id,
            team_id=sam.team_id,
        )
        if big:
            offer.lines[0].discount_percent = Decimal("22")
        session.flush()
        if state == "draft":
            continue
        for approval in submit(runtime, session, offer):
            approval.requested_by_id = sam.id
            if state != "submitted":
                decide(runtime, session, approval, grant=True, note="fine for this customer")
                approval.decided_by_id = mia.id if approval.role == "sales_manager" else bea.id
        if state == "submitted":
            continue
        if state == "expired":
            engine.transition(session, offer, "expire")
            continue
        if state == "approved":
            continue
        engine.transition(session, offer, "send")
        if state == "rejected":
            engine.transition(session, offer, "reject", reason="went with a cheaper supplier")
        elif state in ("accepted", "ordered"):
            engine.transition(session, offer, "accept")
            if state == "ordered":
                order_from_offer(runtime, session, offer)
    demo.report("8 offers, one in each state; one waits for sales management")

    # A customer who also buys in the web store: the intake finds it by its e-mail.
    buyer = rng.choice([customer for customer in demo.customers if customer.email])
    result = receive(
        runtime,
        session,
        {
            "store_order_id": "WEB-2026-0042",
            "currency": "EUR",
            "customer": {
                "id": "store-7781",
                "name": buyer.name,
                "email": buyer.email,
                "address": {
                    "street": "Strandvägen 12",
                    "city": "Stockholm",
                    "postcode": "114 56",
                    "country": "SE",
                },
            },
            "lines": [
                {"sku": "VALV-20", "quantity": 4, "unit_price": "85.00"},
                {"sku": "SCADA-SUP", "quantity": 1, "unit_price": "600.00"},
            ],
            "tracking_token": "newsletter-november",
        },
    )
    demo.report(
        f"a web-store order of {buyer.name} through the intake: "
        f"{result.order.number} ({result.order.state})"
    )


def parcel_and_close(
    runtime: Runtime, session: Session, order: Order, rng: random.Random, *, full: bool
) -> None:
    """Ship an order, all of it or one unit short of it, with serials and licence keys."""
    quantities: dict[int, Decimal] = {}
    units: dict[int, list[UnitInput]] = {}
    for line in order.lines:
        quantity = line.quantity if full else max(line.quantity - 1, Decimal(1))
        quantities[line.id] = quantity
        tracking = line.product.tracking if line.product else UnitTracking.NONE
        count = int(quantity)
        if tracking == UnitTracking.SERIAL:
            units[line.id] = [
                UnitInput(serial_number=f"{line.sku}-{order.id:05d}-{n + 1:02d}")
                for n in range(count)
            ]
        elif tracking == UnitTracking.LICENCE:
            units[line.id] = [
                UnitInput(licence_key=f"LIC-{rng.getrandbits(48):012X}") for _ in range(count)
            ]
    carrier = rng.choice(["DHL", "UPS", "GLS", "BRT"])
    ship(
        runtime,
        session,
        order,
        ShipmentInput(
            tracking_number=f"{carrier[:2]}{rng.getrandbits(40):012d}",
            carrier=carrier,
            quantities=quantities,
            units=units,
        ),
    )
