"""The orders area's pages: an offer (its lines, approvals and steps, and a printable
copy), an order (availability, confirmation, parcels with tracking
numbers and serials), and the shipping queue. Everything is read and written through the
request's session; a step goes through the workflow engine, inside a savepoint, so that a
refused step changes nothing and is told to the user."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessDeniedError,
    AccordError,
    Partner,
    Principal,
    TransitionError,
    User,
    runtime_of,
)
from accord.ui.panels import record_slots
from accord.ui.site import flash, page

from .forms import edit_document, new_document
from .models import Offer, OfferApproval, Order, UnitTracking
from .offers import decide, revise, submit
from .ordering import ShipmentInput, UnitInput, confirm, order_from_offer, ship
from .workflows import (
    AVAILABILITY_UNCHECKED,
    KIND_TITLES,
    NOT_AVAILABLE,
    NOT_ROUTED,
    OPEN_ORDER_STATES,
    role_title,
)

T = TypeVar("T")
QUEUE_SIZE = 200


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def principal_of_request(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def found(session: Session, model: type[T], record_id: int, what: str) -> T:
    record = session.get(model, record_id)
    if record is None:
        raise HTTPException(404, f"There is no such {what}, or you may not see it.")
    return record


def attempt(request: Request, work: Callable[[], Any], done: str) -> bool:
    """Run ``work`` in a savepoint: on a refused step or bad input nothing of it stays,
    and the user is told why; on success ``done`` is flashed."""
    session = session_of(request)
    try:
        with session.begin_nested():
            work()
    except (TransitionError, AccordError, AccessDeniedError) as error:
        reason = getattr(error, "reason", None) or str(error)
        flash(request, reason, "error")
        return False
    flash(request, done)
    return True


def back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def decimal_of(raw: str, where: str, default: Decimal | None = None) -> Decimal | None:
    text = raw.strip().replace(",", ".")
    if not text:
        return default
    try:
        return Decimal(text)
    except InvalidOperation:
        raise AccordError(f"{where}: {raw!r} is not a number") from None


# --- offers ---------------------------------------------------------------------------------


def offer_values(request: Request, offer_id: int) -> dict[str, Any]:
    session = session_of(request)
    runtime = runtime_of(session)
    offer = found(session, Offer, offer_id, "offer")
    principal = principal_of_request(request)
    customer = session.get(Partner, offer.partner_id)
    approvals = [
        {
            "row": approval,
            "kind": KIND_TITLES[approval.kind],
            "role": role_title(approval.role),
            "steps": {
                step.name: step
                for step in runtime.workflows.available(session, approval)
                if approval.state == "pending"
            },
        }
        for approval in offer.approvals
    ]
    steps = {step.name: step for step in runtime.workflows.available(session, offer)}
    submit_step = steps.get("submit")
    if submit_step is not None and submit_step.reason == NOT_ROUTED:
        # This page's submit routes the offer first (offers.submit), which is what the
        # guard waits for: only the other obstacles count here.
        steps["submit"] = dataclasses.replace(submit_step, allowed=True, reason=None)
    margin = offer.amount - offer.cost if offer.cost else None
    return {
        "offer": offer,
        "customer": customer,
        "approvals": approvals,
        "steps": steps,
        "margin": margin,
        "order_id": session.scalar(select(Order.id).where(Order.offer_id == offer.id)),
        "owner": session.get(User, offer.owner_id) if offer.owner_id else None,
        "may_order": principal.can("orders.orders.write"),
        "may_edit": offer.state == "draft" and principal.can("orders.offers.write"),
    }


def offer_page_values(request: Request, offer_id: int) -> dict[str, Any]:
    """The offer's values and the panels every enabled plugin adds to offers."""
    values = offer_values(request, offer_id)
    values["slots"] = record_slots(request, Offer.__tablename__, values["offer"])
    return values


async def offer_page(request: Request) -> Response:
    offer_id = int(request.path_params["offer_id"])
    values = await run_in_threadpool(offer_page_values, request, offer_id)
    return page(request, "orders/offer.html", values)


async def offer_print(request: Request) -> Response:
    offer_id = int(request.path_params["offer_id"])
    values = await run_in_threadpool(offer_values, request, offer_id)
    return page(request, "orders/offer_print.html", values)


OFFER_STEPS = {"send": "sent", "accept": "accepted", "reject": "rejected"}


async def offer_action(request: Request) -> Response:
    offer_id = int(request.path_params["offer_id"])
    action = request.path_params["action"]
    form = await request.form()
    session = session_of(request)
    path = f"/orders/offers/{offer_id}"

    def run() -> str | None:
        runtime = runtime_of(session)
        offer = found(session, Offer, offer_id, "offer")
        made: list[int] = []
        if action == "submit":
            attempt(request, lambda: submit(runtime, session, offer), "Submitted for approval.")
        elif action == "revise":
            attempt(request, lambda: revise(runtime, session, offer), "Back to draft.")
        elif action == "order":
            done = attempt(
                request,
                lambda: made.append(order_from_offer(runtime, session, offer).id),
                "The order is made; the back office confirms it.",
            )
            return f"/orders/orders/{made[0]}" if done else None
        elif action in OFFER_STEPS:
            inputs = {"reason": str(form.get("reason", ""))} if action == "reject" else {}
            attempt(
                request,
                lambda: runtime.workflows.transition(session, offer, action, **inputs),
                f"The offer is {OFFER_STEPS[action]}.",
            )
        else:
            raise HTTPException(404)
        return None

    target = await run_in_threadpool(run)
    return back(target or path)


async def approval_action(request: Request) -> Response:
    approval_id = int(request.path_params["approval_id"])
    form = await request.form()
    grant = form.get("decision") == "grant"
    note = str(form.get("note", ""))
    session = session_of(request)

    def run() -> int:
        approval = found(session, OfferApproval, approval_id, "approval")
        attempt(
            request,
            lambda: decide(runtime_of(session), session, approval, grant=grant, note=note),
            "Approval granted." if grant else "Approval refused; the salesperson revises it.",
        )
        return approval.offer_id

    offer_id = await run_in_threadpool(run)
    return back(f"/orders/offers/{offer_id}")


# --- orders ---------------------------------------------------------------------------------


def order_values(request: Request, order_id: int) -> dict[str, Any]:
    session = session_of(request)
    runtime = runtime_of(session)
    order = found(session, Order, order_id, "order")
    units = {
        shipment.id: [unit for unit in shipment_units(session, shipment.id)]
        for shipment in order.shipments
    }
    steps = {step.name: step for step in runtime.workflows.available(session, order)}
    confirm_step = steps.get("confirm")
    reason = confirm_step.reason if confirm_step is not None else None
    if reason is not None and (
        reason == AVAILABILITY_UNCHECKED or reason.startswith(NOT_AVAILABLE)
    ):
        # This page's confirm asks the availability provider again first; the answer it
        # gets, not the last one, decides (and is shown if it blocks).
        assert confirm_step is not None
        steps["confirm"] = dataclasses.replace(confirm_step, allowed=True, reason=None)
    return {
        "order": order,
        "slots": record_slots(request, Order.__tablename__, order),
        "customer": session.get(Partner, order.partner_id),
        "steps": steps,
        "units": units,
        "margin": order.amount - order.cost,
        "tracked": {
            line.id: (line.product.tracking if line.product else UnitTracking.NONE)
            for line in order.lines
        },
        "may_edit": order.state == "draft"
        and principal_of_request(request).can("orders.orders.write"),
        "may_ship": principal_of_request(request).can("orders.orders.ship")
        and order.state in OPEN_ORDER_STATES,
    }


def shipment_units(session: Session, shipment_id: int) -> list[Any]:
    from .models import DeliveredUnit

    return list(
        session.scalars(
            select(DeliveredUnit)
            .where(DeliveredUnit.shipment_id == shipment_id)
            .order_by(DeliveredUnit.id)
        )
    )


async def order_page(request: Request) -> Response:
    order_id = int(request.path_params["order_id"])
    values = await run_in_threadpool(order_values, request, order_id)
    return page(request, "orders/order.html", values)


ORDER_STEPS = {"deliver": "delivered", "invoice": "invoiced", "cancel": "cancelled"}


def parcel_from_form(order: Order, form: FormData) -> ShipmentInput:
    quantities: dict[int, Decimal] = {}
    units: dict[int, list[UnitInput]] = {}
    for line in order.lines:
        where = f"line {line.position} ({line.description})"
        quantity = decimal_of(str(form.get(f"ship_{line.id}", "")), where, Decimal("0"))
        assert quantity is not None
        quantities[line.id] = quantity
        given = [
            text.strip()
            for text in str(form.get(f"units_{line.id}", "")).replace(",", "\n").splitlines()
            if text.strip()
        ]
        tracking = line.product.tracking if line.product else UnitTracking.NONE
        if tracking == UnitTracking.SERIAL:
            units[line.id] = [UnitInput(serial_number=value) for value in given]
        elif tracking == UnitTracking.LICENCE:
            units[line.id] = [UnitInput(licence_key=value) for value in given]
    return ShipmentInput(
        tracking_number=str(form.get("tracking_number", "")),
        carrier=str(form.get("carrier", "")),
        quantities=quantities,
        units=units,
    )


async def order_action(request: Request) -> Response:
    order_id = int(request.path_params["order_id"])
    action = request.path_params["action"]
    form = await request.form()
    session = session_of(request)

    def run() -> None:
        runtime = runtime_of(session)
        order = found(session, Order, order_id, "order")
        if action == "confirm":
            attempt(
                request,
                lambda: confirm(runtime, session, order),
                "Confirmed: the order is in the shipping queue.",
            )
        elif action == "ship":
            attempt(
                request,
                lambda: ship(runtime, session, order, parcel_from_form(order, form)),
                "The parcel is recorded.",
            )
        elif action in ORDER_STEPS:
            inputs = {"reason": str(form.get("reason", ""))} if action == "cancel" else {}
            attempt(
                request,
                lambda: runtime.workflows.transition(session, order, action, **inputs),
                f"The order is {ORDER_STEPS[action]}.",
            )
        else:
            raise HTTPException(404)

    await run_in_threadpool(run)
    return back(f"/orders/orders/{order_id}")


def queue_values(request: Request) -> dict[str, Any]:
    """Confirmed orders still to ship, oldest first: what operations packs next."""
    session = session_of(request)
    rows = session.execute(
        select(Order, Partner.name)
        .join(Partner, Partner.id == Order.partner_id)
        .where(Order.state.in_(OPEN_ORDER_STATES))
        .order_by(Order.confirmed_at, Order.id)
        .limit(QUEUE_SIZE + 1)
    ).all()
    return {"rows": rows[:QUEUE_SIZE], "more": len(rows) > QUEUE_SIZE}


async def shipping_queue(request: Request) -> Response:
    values = await run_in_threadpool(queue_values, request)
    return page(request, "orders/queue.html", values)


def lookup_values(request: Request) -> dict[str, Any]:
    from .search import lookup

    session = session_of(request)
    text = request.query_params.get("q", "").strip()
    raw_partner = request.query_params.get("partner_id", "")
    partner = session.get(Partner, int(raw_partner)) if raw_partner.isdigit() else None
    if raw_partner and partner is None:
        raise HTTPException(404, "There is no such customer, or you may not see it.")
    hits = lookup(session, text, 50, partner.id if partner else None) if len(text) >= 2 else []
    return {"q": text, "partner": partner, "hits": hits}


async def order_lookup(request: Request) -> Response:
    """Customer service's lookup: an order by number, tracking number, serial number or
    licence key, among all orders or one customer's (from the customer page)."""
    values = await run_in_threadpool(lookup_values, request)
    return page(request, "orders/lookup.html", values)


def routes() -> list[BaseRoute]:
    return [
        Route("/new/{kind}", new_document, methods=["GET", "POST"], name="new"),
        Route("/{kind}s/{record_id:int}/edit", edit_document, methods=["GET", "POST"], name="edit"),
        Route("/offers/{offer_id:int}", offer_page, name="offer"),
        Route("/offers/{offer_id:int}/print", offer_print, name="offer_print"),
        Route(
            "/offers/{offer_id:int}/{action}", offer_action, methods=["POST"], name="offer_action"
        ),
        Route("/approvals/{approval_id:int}", approval_action, methods=["POST"], name="approval"),
        Route("/orders/{order_id:int}", order_page, name="order"),
        Route(
            "/orders/{order_id:int}/{action}", order_action, methods=["POST"], name="order_action"
        ),
        Route("/queue", shipping_queue, name="queue"),
        Route("/lookup", order_lookup, name="lookup"),
    ]
