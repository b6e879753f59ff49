"""What collections shows: the lists of invoices and credit lines, the credit, open
invoices and aging panels of the customer page, and the dashboard tiles (aging, DSO,
overdue by salesperson). Everything reads through the user's session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import select

from accord.api import (
    DashboardWidget,
    ListColumn,
    ListFilter,
    ModelView,
    RecordPanel,
    RenderContext,
    chart,
    principal_of,
    utcnow,
)

from . import invoice_form
from .aging import BUCKETS, aging, dso, overdue_by_salesperson
from .forms import credit_form, payment_form
from .models import CreditLine, Invoice, InvoiceStatus
from .receivables import money
from .security import READ
from .settings import settings_of

OPEN_SHOWN = 10
"""Open invoices listed on the customer page; the rest are in the invoice list."""


def model_views() -> Sequence[ModelView]:
    return [
        ModelView(
            "invoices",
            model="collections_invoice",
            title="Invoices",
            columns=(
                ListColumn("number", "Number", sortable=True),
                ListColumn("partner_id", "Customer"),
                ListColumn("issue_date", "Issued", sortable=True),
                ListColumn("due_date", "Due", sortable=True),
                ListColumn("currency", "Currency"),
                ListColumn("amount", "Amount"),
                ListColumn("paid", "Paid"),
                ListColumn("status", "Status"),
                ListColumn("origin", "Origin"),
            ),
            default_columns=("number", "partner_id", "due_date", "amount", "paid", "status"),
            search=("number",),
            filters=(
                ListFilter(
                    "status",
                    "Status",
                    choices=tuple((status.value, status.value.title()) for status in InvoiceStatus),
                ),
            ),
            default_sort="due_date",
            permission=READ,
            form=invoice_form.FORM,
            detail=(
                "number",
                "partner_id",
                "amount",
                "paid",
                "currency",
                "issue_date",
                "due_date",
                "status",
                "origin",
            ),
            validate=invoice_form.validate,
            initial=invoice_form.initial,
            create=invoice_form.create,
        ),
    ]


def _today() -> dt.date:
    return utcnow().date()


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, numeric: int = 0) -> Markup:
    """A small table; the last ``numeric`` columns are right-aligned figures."""
    first = len(headers) - numeric
    head = Markup("").join(
        Markup('<th scope="col"{}>{}</th>').format(
            Markup(' class="num"') if index >= first else "", header
        )
        for index, header in enumerate(headers)
    )
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(
            Markup("").join(
                Markup("<td{}>{}</td>").format(
                    Markup(' class="num"') if index >= first else "", cell
                )
                for index, cell in enumerate(row)
            )
        )
        for row in rows
    )
    return Markup(
        '<table class="compact"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
    ).format(head, body)


def _problem(problem: str) -> Markup:
    return Markup('<p class="error" role="alert">{}</p>').format(problem) if problem else Markup("")


def render_credit(context: RenderContext, problem: str = "") -> str:
    """The customer's credit line, rating, what it owes and what is left of the line; the
    form that changes them, for those who may."""
    partner_id = getattr(context.record, "id", None)
    if partner_id is None:
        return ""
    settings = settings_of(context.session)
    line = context.session.get(CreditLine, partner_id)
    limit = line.credit_limit if line is not None and line.credit_limit is not None else None
    source = "own line" if limit is not None else "company default"
    if limit is None:
        limit = settings.default_credit_limit
    owed = aging(context.session, _today(), partner_id=partner_id, currency=settings.currency)
    unit = settings.currency
    rows: list[tuple[str, str]] = [
        ("Credit line", f"{money(limit)} {unit} ({source})" if limit is not None else "no limit"),
        ("Open invoices", f"{money(owed.total)} {unit}"),
        ("Overdue", f"{money(owed.overdue)} {unit}"),
    ]
    if limit is not None:
        rows.append(("Available", f"{money(limit - owed.total)} {unit}"))
    if line is not None and line.rating:
        rated = f" ({line.rating_source}, {line.rated_on.isoformat()})" if line.rated_on else ""
        rows.append(("Rating", f"{line.rating}{rated}"))
    facts = Markup('<dl class="facts">{}</dl>').format(
        Markup("").join(Markup("<dt>{}</dt><dd>{}</dd>").format(k, v) for k, v in rows)
    )
    form = credit_form(partner_id, line, principal_of(context.session), context.csrf_field())
    return str(
        Markup('<div class="collections-credit">{}{}{}</div>').format(
            facts, _problem(problem), form
        )
    )


def render_open_invoices(context: RenderContext, problem: str = "") -> str:
    """The customer's open invoices, oldest due first, each with a payment form for those
    who may record payments."""
    partner_id = getattr(context.record, "id", None)
    if partner_id is None:
        return ""
    today = _today()
    invoices = context.session.scalars(
        select(Invoice)
        .where(Invoice.partner_id == partner_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
        .limit(OPEN_SHOWN + 1)
    ).all()
    wrap = Markup('<div class="collections-invoices">{}{}</div>')
    if not invoices:
        return str(wrap.format(_problem(problem), Markup('<p class="empty">No open invoices.</p>')))
    principal = principal_of(context.session)
    csrf = context.csrf_field()
    rows = [
        (
            invoice.number,
            invoice.due_date.isoformat(),
            f"{(today - invoice.due_date).days} days late"
            if invoice.due_date < today
            else "not due",
            f"{money(invoice.balance)} {invoice.currency}",
            payment_form(invoice, principal, csrf),
        )
        for invoice in invoices[:OPEN_SHOWN]
    ]
    more = (
        Markup('<p><a href="/views/invoices?status=open">All open invoices</a></p>')
        if len(invoices) > OPEN_SHOWN
        else Markup("")
    )
    table = _table(("Invoice", "Due", "", "Open", ""), rows)
    return str(wrap.format(_problem(problem), table + more))


def render_partner_aging(context: RenderContext) -> str:
    partner_id = getattr(context.record, "id", None)
    if partner_id is None:
        return ""
    settings = settings_of(context.session)
    result = aging(context.session, _today(), partner_id=partner_id, currency=settings.currency)
    return str(_aging_table(result.buckets, settings.currency))


BUCKET_LABELS = {"current": "Not yet due", "90+": "Over 90 days"}


def _aging_table(buckets: dict[str, Decimal], unit: str) -> Markup:
    rows = [
        (BUCKET_LABELS.get(name, f"{name} days"), f"{money(buckets[name])} {unit}")
        for name in BUCKETS
    ]
    rows.append(("Total", f"{money(sum(buckets.values(), Decimal('0')))} {unit}"))
    return _table(("Days past due", "Open"), rows, numeric=1)


def _as_of(context: RenderContext) -> dt.date:
    """The last day of the chosen period, or today while the period runs."""
    return min(context.filters.end, _today())


def _teams(context: RenderContext) -> frozenset[int] | None:
    return context.filters.team_ids if context.filters.team_id is not None else None


def _euros(value: float) -> str:
    return money(Decimal(str(value)))


def render_aging_widget(context: RenderContext) -> str:
    """Open receivables by days past due at the end of the period, for the chosen team."""
    settings = settings_of(context.session)
    as_of = _as_of(context)
    result = aging(context.session, as_of, currency=settings.currency, team_ids=_teams(context))
    labels = [BUCKET_LABELS.get(name, f"{name} days") for name in BUCKETS]
    drawn = chart(
        "bar",
        labels,
        {f"Open ({settings.currency})": [float(result.buckets[name]) for name in BUCKETS]},
        title=f"Open receivables by days past due on {as_of.isoformat()}",
        empty="Nothing is owed.",
        value_format=_euros,
    )
    total = Markup('<p class="note">{} {} open on {}, {} {} overdue</p>').format(
        money(result.total),
        settings.currency,
        as_of.isoformat(),
        money(result.overdue),
        settings.currency,
    )
    return str(drawn + total)


def render_dso_widget(context: RenderContext) -> str:
    """Receivables at the end of the period over the period's sales, in days."""
    settings = settings_of(context.session)
    as_of = _as_of(context)
    days = max((as_of - context.filters.start).days + 1, 1)
    figure = dso(context.session, as_of, days, currency=settings.currency, team_ids=_teams(context))
    shown = f"{figure} days" if figure is not None else "no sales in the period"
    return str(
        Markup(
            '<p class="figure">{}</p>'
            '<p class="note">Receivables on {} over the sales of the {} days before</p>'
        ).format(shown, as_of.isoformat(), days)
    )


def render_overdue_widget(context: RenderContext) -> str:
    settings = settings_of(context.session)
    rows = overdue_by_salesperson(
        context.session, _as_of(context), currency=settings.currency, team_ids=_teams(context)
    )
    return str(
        chart(
            "bar",
            [row.owner for row in rows],
            {f"Overdue ({settings.currency})": [float(row.amount) for row in rows]},
            title="Overdue receivables by salesperson",
            empty="Nothing overdue.",
            value_format=_euros,
        )
    )


def record_panels() -> Sequence[RecordPanel]:
    return [
        RecordPanel(
            "collections.credit",
            model="core_partner",
            title="Credit",
            render=render_credit,
            order=40,
        ),
        RecordPanel(
            "collections.open_invoices",
            model="core_partner",
            title="Open invoices",
            render=render_open_invoices,
            order=41,
        ),
        RecordPanel(
            "collections.aging",
            model="core_partner",
            title="Aging",
            render=render_partner_aging,
            order=42,
        ),
        RecordPanel(
            "collections.invoice_payments",
            model="collections_invoice",
            title="Payments",
            render=invoice_form.render_payments,
            order=10,
        ),
    ]


def dashboard_widgets() -> Sequence[DashboardWidget]:
    return [
        DashboardWidget(
            "collections.aging",
            "Receivables by days past due",
            render_aging_widget,
            permission=READ,
        ),
        DashboardWidget(
            "collections.dso", "Days sales outstanding", render_dso_widget, permission=READ
        ),
        DashboardWidget(
            "collections.overdue_by_salesperson",
            "Overdue by salesperson",
            render_overdue_widget,
            permission=READ,
        ),
    ]
