"""The credit block on an order's page: the reason while the block stands, and for a holder
of the override permission a form that confirms the order anyway, giving the reason as the
``credit_override`` input of the ``confirm`` step (so the history keeps it)."""

from __future__ import annotations

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessDeniedError,
    Principal,
    RecordPanel,
    RenderContext,
    TransitionError,
    principal_of,
    render_context,
    runtime_of,
)
from accord.plugins.orders.api import Order, OrderError, confirm

from .blocking import confirmation_block
from .credit import OVERRIDE_INPUT
from .forms import SWAP_REFUSALS
from .security import OVERRIDE_BLOCK


def block_panel(context: RenderContext, order: Order, principal: Principal, error: str = "") -> str:
    if order.state != "draft":
        return ""
    reason = confirmation_block(context.session, order, principal, {})
    if reason is None:
        return ""
    problem = Markup('<p class="error" role="alert">{}</p>').format(error) if error else ""
    form = Markup("")
    if principal.can(OVERRIDE_BLOCK):
        form = Markup(
            '<form hx-post="/collections/orders/{id}/override" hx-target="closest .credit-block"'
            ' hx-swap="outerHTML" {swap} method="post"'
            ' action="/collections/orders/{id}/override">{csrf}'
            '<label for="credit-override-{id}">Confirm anyway, because</label>'
            '<textarea id="credit-override-{id}" name="{name}" required rows="2"></textarea>'
            '<button type="submit">Confirm despite the credit block</button></form>'
        ).format(
            id=order.id,
            name=OVERRIDE_INPUT,
            swap=Markup(SWAP_REFUSALS),
            csrf=context.csrf_field(),
        )
    return str(
        Markup(
            '<div class="credit-block"><p><strong>Credit block:</strong> {}</p>{}{}</div>'
        ).format(reason, problem, form)
    )


def render_order_block(context: RenderContext) -> str:
    principal = principal_of(context.session)
    if not isinstance(context.record, Order) or principal is None:
        return ""
    return block_panel(context, context.record, principal)


def override_confirmation(request: Request, reason: str) -> Response:
    """Confirm the order despite the credit block, as the signed-in user."""
    session: Session = request.state.session
    principal: Principal = request.state.principal
    order = session.get(Order, int(request.path_params["order_id"]))
    if order is None:
        return HTMLResponse("No such order, or not one you may see.", status_code=404)
    if not reason:
        context = render_context(request, order)
        return HTMLResponse(block_panel(context, order, principal, "Give the reason."), 422)
    try:
        # Through the orders' own confirmation: availability is asked first and the
        # order's confirmation time and user are kept, as for any confirmation.
        confirm(runtime_of(session), session, order, **{OVERRIDE_INPUT: reason})
    except (TransitionError, AccessDeniedError, OrderError) as refused:
        session.rollback()
        message = getattr(refused, "reason", str(refused))
        order = session.get(Order, order.id)
        assert order is not None
        context = render_context(request, order)
        return HTMLResponse(block_panel(context, order, principal, message), 422)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(request.headers.get("referer") or "/", status_code=303)


async def override_endpoint(request: Request) -> Response:
    form = await request.form()
    reason = str(form.get(OVERRIDE_INPUT) or "").strip()
    return await run_in_threadpool(override_confirmation, request, reason)


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/orders/{order_id:int}/override",
            override_endpoint,
            methods=["POST"],
            name="override_confirmation",
        )
    ]


def panels() -> list[RecordPanel]:
    return [
        RecordPanel(
            "collections.order_credit_block",
            model="orders_order",
            title="Credit",
            render=render_order_block,
            slot="alerts",
            order=10,
        )
    ]
