"""Administration keeps the books from the customer page: a payment against an open
invoice, and the customer's credit line and rating. Each form posts to a route of this
plugin that writes through the user's session and answers with the panel redrawn (htmx) or
a redirect back to the customer page; bad input is named and changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.api import AccessDeniedError, Partner, Principal, render_context, utcnow

from .models import CreditLine, Invoice
from .receivables import ReceivableError, register_payment
from .security import MANAGE_CREDIT, RECORD_PAYMENTS

SWAP_REFUSALS = (
    'hx-on::before-swap="if (event.detail.xhr.status === 422) '
    '{ event.detail.shouldSwap = true; event.detail.isError = false; }"'
)


def payment_form(invoice: Invoice, principal: Principal | None, csrf: Markup) -> Markup:
    """A one-line form under an open invoice, for holders of the payment permission;
    ``csrf`` is the panel's ``RenderContext.csrf_field()``."""
    if principal is None or not principal.can(RECORD_PAYMENTS):
        return Markup("")
    return Markup(
        '<form class="inline" method="post" action="/collections/invoices/{id}/payments" '
        'hx-post="/collections/invoices/{id}/payments" hx-target="closest .collections-invoices" '
        'hx-swap="outerHTML" {swap}>{csrf}'
        '<label>Paid <input name="amount" inputmode="decimal" size="9" value="{balance}" '
        'aria-label="Amount paid on {number}"></label> '
        '<label>on <input name="paid_on" type="date" value="{today}"></label> '
        '<input name="reference" size="10" placeholder="reference" aria-label="Reference"> '
        '<button type="submit">Record payment</button></form>'
    ).format(
        id=invoice.id,
        swap=Markup(SWAP_REFUSALS),
        csrf=csrf,
        balance=f"{invoice.balance:.2f}",
        number=invoice.number,
        today=utcnow().date().isoformat(),
    )


def credit_form(
    partner_id: int, line: CreditLine | None, principal: Principal | None, csrf: Markup
) -> Markup:
    if principal is None or not principal.can(MANAGE_CREDIT):
        return Markup("")
    limit = "" if line is None or line.credit_limit is None else f"{line.credit_limit:.2f}"
    return Markup(
        '<form method="post" action="/collections/partners/{id}/credit" '
        'hx-post="/collections/partners/{id}/credit" hx-target="closest .collections-credit" '
        'hx-swap="outerHTML" {swap}>{csrf}'
        '<label>Credit line <input name="credit_limit" inputmode="decimal" size="10" '
        'value="{limit}" placeholder="company default"></label> '
        '<label>Rating <input name="rating" size="4" maxlength="10" value="{rating}"></label> '
        '<button type="submit">Save</button></form>'
    ).format(
        id=partner_id,
        swap=Markup(SWAP_REFUSALS),
        csrf=csrf,
        limit=limit,
        rating=line.rating if line is not None else "",
    )


def _answer(request: Request, back: str, panel: str, status: int = 200) -> Response:
    if request.headers.get("hx-request") == "true":
        return HTMLResponse(panel, status_code=status)
    if status != 200:
        return HTMLResponse(panel, status_code=status)
    return RedirectResponse(back, status_code=303)


def record_payment(request: Request, invoice_id: int, form: Mapping[str, str]) -> Response:
    """Book a payment from the customer page's open invoices or from the invoice's page
    (``panel=invoice``), answering with that panel redrawn."""
    from .invoice_form import render_payments
    from .views import render_open_invoices

    session: Session = request.state.session
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        return HTMLResponse("No such invoice, or not one you may see.", status_code=404)
    partner_id = invoice.partner_id
    on_invoice = form.get("panel") == "invoice"
    back = f"/views/invoices/{invoice_id}" if on_invoice else f"/partners/{partner_id}"

    def panel(problem: str = "") -> str:
        if on_invoice:
            found = session.get(Invoice, invoice_id)
            return render_payments(render_context(request, found), problem)
        partner = session.get(Partner, partner_id)
        return render_open_invoices(render_context(request, partner), problem)

    try:
        paid_on = dt.date.fromisoformat(form.get("paid_on", "").strip())
    except ValueError:
        problem = f"Paid on: {form.get('paid_on', '')!r} is not a date (YYYY-MM-DD)."
        return _answer(request, back, panel(problem), 422)
    try:
        register_payment(
            session, invoice_id, form.get("amount", ""), paid_on, form.get("reference", "").strip()
        )
    except (ReceivableError, AccessDeniedError) as error:
        session.rollback()
        return _answer(request, back, panel(str(error)), 422)
    return _answer(request, back, panel())


def save_credit_line(request: Request, partner_id: int, form: Mapping[str, str]) -> Response:
    from .views import render_credit

    session: Session = request.state.session
    principal: Principal = request.state.principal
    partner = session.get(Partner, partner_id)
    if partner is None:
        return HTMLResponse("No such customer, or not one you may see.", status_code=404)
    context = render_context(request, partner)
    if not principal.can(MANAGE_CREDIT):
        problem = f"{principal} may not set credit lines (it takes {MANAGE_CREDIT!r})."
        return _answer(request, f"/partners/{partner_id}", render_credit(context, problem), 422)
    raw = form.get("credit_limit", "").strip().replace(",", "")
    limit: Decimal | None = None
    if raw:
        try:
            limit = Decimal(raw)
        except InvalidOperation:
            limit = Decimal("NaN")
        if not limit.is_finite() or limit < 0 or limit != limit.quantize(Decimal("0.01")):
            problem = f"Credit line: {raw!r} is not an amount of zero or more with two decimals."
            return _answer(request, f"/partners/{partner_id}", render_credit(context, problem), 422)
    rating = form.get("rating", "").strip()
    if len(rating) > 10:
        problem = f"Rating: at most 10 characters, got {len(rating)}."
        return _answer(request, f"/partners/{partner_id}", render_credit(context, problem), 422)
    try:
        line = session.get(CreditLine, partner_id)
        if line is None:
            line = CreditLine(partner_id=partner_id)
            session.add(line)
        line.credit_limit = limit
        if rating != line.rating:
            line.rating, line.rating_source, line.rated_on = rating, "manual", utcnow().date()
        session.flush()
    except AccessDeniedError as error:
        session.rollback()
        return _answer(request, f"/partners/{partner_id}", render_credit(context, str(error)), 422)
    return _answer(request, f"/partners/{partner_id}", render_credit(context))


async def payment_endpoint(request: Request) -> Response:
    form = {key: str(value) for key, value in (await request.form()).items()}
    return await run_in_threadpool(
        record_payment, request, int(request.path_params["invoice_id"]), form
    )


async def credit_endpoint(request: Request) -> Response:
    form = {key: str(value) for key, value in (await request.form()).items()}
    return await run_in_threadpool(
        save_credit_line, request, int(request.path_params["partner_id"]), form
    )


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/invoices/{invoice_id:int}/payments",
            payment_endpoint,
            methods=["POST"],
            name="record_payment",
        ),
        Route(
            "/partners/{partner_id:int}/credit",
            credit_endpoint,
            methods=["POST"],
            name="save_credit_line",
        ),
    ]
