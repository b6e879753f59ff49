"""Administration records an invoice by hand (``/views/invoices/new``, the kernel's form of
the invoices view, saved through ``create_invoice``) and corrects one: the checks beyond
the fields' types, the values of a new invoice, and the invoice page's payments with the
form that records one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import (
    FormField,
    FormSection,
    Principal,
    RecordInputError,
    RenderContext,
    principal_of,
    utcnow,
)

from .forms import SWAP_REFUSALS
from .models import Invoice, InvoiceOrigin, InvoiceStatus, Payment
from .receivables import ReceivableError, create_invoice, money
from .security import RECORD_PAYMENTS
from .settings import settings_of

FORM = (
    FormSection(
        "",
        (
            FormField("partner_id", "Customer"),
            FormField("number", "Invoice number"),
            FormField("amount", "Amount", help="What the customer owes, taxes included."),
            FormField("currency", "Currency", help="Three capital letters, such as EUR."),
            FormField("issue_date", "Issued on"),
            FormField("due_date", "Due on"),
        ),
    ),
)
FIXED_ONCE_PAID = ("partner_id", "amount", "currency")


def initial(session: Session, principal: Principal) -> Mapping[str, Any]:
    """Issued today in the company's currency, due after the usual payment days."""
    settings = settings_of(session)
    today = utcnow().date()
    return {
        "currency": settings.currency,
        "issue_date": today,
        "due_date": today + dt.timedelta(days=settings.payment_days),
    }


def validate(session: Session, values: Mapping[str, Any], record: Any) -> Mapping[str, str]:
    """What the typed values may not be; ``record`` is the invoice being corrected."""
    errors: dict[str, str] = {}
    if isinstance(record, Invoice):
        if record.origin != InvoiceOrigin.MANUAL:
            source = "the ERP" if record.origin == InvoiceOrigin.IMPORT else "its order"
            return {"invoice": f"This invoice comes from {source}; correct it there, not here."}
        if record.status == InvoiceStatus.CANCELLED:
            return {"invoice": "A cancelled invoice is not changed."}
    number = str(values.get("number") or "").strip()
    if number:
        taken = select(Invoice.id).where(Invoice.number == number)
        if isinstance(record, Invoice):
            taken = taken.where(Invoice.id != record.id)
        if session.scalar(taken) is not None:
            errors["number"] = f"Invoice {number} exists already."
    amount = values.get("amount")
    if isinstance(amount, Decimal) and amount <= 0:
        errors["amount"] = "The amount must be more than zero."
    currency = str(values.get("currency") or "")
    if currency and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        errors["currency"] = f"Three capital letters such as EUR, got {currency!r}."
    issued, due = values.get("issue_date"), values.get("due_date")
    if isinstance(issued, dt.date) and isinstance(due, dt.date) and due < issued:
        errors["due_date"] = f"It is before the issue date ({issued.isoformat()})."
    if isinstance(record, Invoice) and record.paid > 0:
        for name in FIXED_ONCE_PAID:
            if name in values and values[name] != getattr(record, name):
                errors[name] = (
                    f"Payments are recorded against this invoice ({money(record.paid)} "
                    f"{record.currency}): it keeps its customer, amount and currency."
                )
    return errors


def create(session: Session, principal: Principal, values: Mapping[str, Any]) -> Invoice:
    """The invoice through the same service as the ERP's and the orders' invoices."""
    try:
        return create_invoice(
            session,
            partner_id=values["partner_id"],
            number=values["number"],
            amount=values["amount"],
            currency=values["currency"],
            issue_date=values["issue_date"],
            due_date=values["due_date"],
            origin=InvoiceOrigin.MANUAL,
        )
    except ReceivableError as error:
        raise RecordInputError({"": str(error)}) from None


def render_payments(context: RenderContext, problem: str = "") -> str:
    """The invoice page's payments, what is left to pay, and for holders of the payment
    permission the form that records one."""
    invoice = context.record
    if not isinstance(invoice, Invoice):
        return ""
    payments = context.session.scalars(
        select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.paid_on)
    ).all()
    rows = Markup("").join(
        Markup("<li>{} · {} {}{}</li>").format(
            payment.paid_on.isoformat(),
            money(payment.amount),
            invoice.currency,
            f" · {payment.reference}" if payment.reference else "",
        )
        for payment in payments
    )
    listed = Markup("<ul>{}</ul>").format(rows) if payments else Markup("<p>No payment yet.</p>")
    left = Markup("<p><strong>Left to pay:</strong> {} {}</p>").format(
        money(invoice.balance), invoice.currency
    )
    error = Markup('<p class="error" role="alert">{}</p>').format(problem) if problem else ""
    form = Markup("")
    principal = principal_of(context.session)
    if (
        principal is not None
        and principal.can(RECORD_PAYMENTS)
        and invoice.status == InvoiceStatus.OPEN
    ):
        form = Markup(
            '<form method="post" action="/collections/invoices/{id}/payments" '
            'hx-post="/collections/invoices/{id}/payments" '
            'hx-target="closest .collections-payments" hx-swap="outerHTML" {swap}>{csrf}'
            '<input type="hidden" name="panel" value="invoice">'
            '<label>Amount paid <input name="amount" inputmode="decimal" value="{balance}">'
            "</label>"
            '<label>Paid on <input name="paid_on" type="date" value="{today}"></label>'
            '<label>Reference <input name="reference" maxlength="80"></label>'
            '<button type="submit">Record payment</button></form>'
        ).format(
            id=invoice.id,
            swap=Markup(SWAP_REFUSALS),
            csrf=context.csrf_field(),
            balance=f"{invoice.balance:.2f}",
            today=utcnow().date().isoformat(),
        )
    return str(
        Markup('<div class="collections-payments">{}{}{}{}</div>').format(listed, left, error, form)
    )
