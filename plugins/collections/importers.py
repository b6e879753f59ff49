"""Imports through the kernel's import framework (CSV or XLSX, a dry run, a report naming
each bad row): invoices exported by the ERP, and the ratings file of a credit-rating
provider. Customers are found by their ERP number or their VAT number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accord.api import (
    Importer,
    ImportField,
    ImportRow,
    Partner,
    Refused,
    Written,
    import_parsers,
)

from .models import CreditLine, InvoiceOrigin
from .receivables import ReceivableError, create_invoice, register_payment
from .security import MANAGE_CREDIT, RECORD_PAYMENTS

ERP = "erp"
"""The system name of the ERP's customer numbers (core_partner_external_id.system)."""


def find_customer(session: Session, reference: str) -> Partner | None:
    """The customer whose ERP number or VAT number is ``reference``."""
    external = Partner.external_ids.property.mapper.class_
    return session.scalar(
        select(Partner)
        .where(
            or_(
                Partner.vat_number == reference,
                Partner.external_ids.any((external.system == ERP) & (external.value == reference)),
            )
        )
        .order_by(Partner.id)
        .limit(1)
    )


def _currency(cell: str) -> str:
    if len(cell) != 3 or not cell.isalpha():
        raise ValueError(f"{cell!r} is not a currency code; write it as EUR")
    return cell.upper()


def write_invoices(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    done: list[Written | Refused] = []
    for row in rows:
        values = row.values
        if row.record_id is not None:
            done.append(
                Refused(
                    "this invoice was imported before with other values; correct it in "
                    "Accord or cancel it, an import does not change a booked invoice",
                    "number",
                )
            )
            continue
        customer = find_customer(session, values["customer"])
        if customer is None:
            done.append(
                Refused(f"no customer with ERP or VAT number {values['customer']!r}", "customer")
            )
            continue
        issued: dt.date = values["issue_date"]
        due: dt.date = values.get("due_date") or issued
        try:
            with session.begin_nested():
                invoice = create_invoice(
                    session,
                    partner_id=customer.id,
                    number=values["number"],
                    amount=values["amount"],
                    currency=values.get("currency") or "EUR",
                    issue_date=issued,
                    due_date=due,
                    origin=InvoiceOrigin.IMPORT,
                )
                paid: Decimal | None = values.get("paid")
                if paid:
                    register_payment(
                        session, invoice.id, paid, values.get("paid_on") or issued, "ERP import"
                    )
        except ReceivableError as error:
            field = "paid" if "payment" in str(error) else "amount"
            done.append(Refused(str(error), field))
            continue
        done.append(Written("created", invoice.id))
    return done


def write_ratings(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    done: list[Written | Refused] = []
    for row in rows:
        values = row.values
        customer = find_customer(session, values["customer"])
        if customer is None:
            done.append(
                Refused(f"no customer with ERP or VAT number {values['customer']!r}", "customer")
            )
            continue
        line = session.get(CreditLine, customer.id)
        action: str = "merged"
        if line is None:
            line = CreditLine(partner_id=customer.id)
            session.add(line)
            action = "created"
        line.rating = values["rating"]
        line.rating_source = values.get("provider") or line.rating_source
        line.rated_on = values.get("rated_on") or dt.date.today()
        if values.get("credit_limit") is not None:
            line.credit_limit = values["credit_limit"]
        session.flush()
        done.append(Written("created" if action == "created" else "merged", customer.id))
    return done


def importers() -> Sequence[Importer]:
    customer = ImportField(
        "customer",
        "Customer (ERP or VAT number)",
        required=True,
        aliases=("customer number", "vat", "vat number", "debtor"),
    )
    return [
        Importer(
            "collections.invoices",
            title="Invoices from the ERP",
            model="collections_invoice",
            fields=(
                ImportField("number", "Invoice number", required=True, aliases=("invoice",)),
                customer,
                ImportField("amount", "Amount", required=True, parse=import_parsers.amount),
                ImportField("currency", "Currency", parse=_currency),
                ImportField(
                    "issue_date",
                    "Issue date",
                    required=True,
                    parse=import_parsers.date,
                    aliases=("date", "invoice date"),
                ),
                ImportField("due_date", "Due date", parse=import_parsers.date, aliases=("due",)),
                ImportField("paid", "Paid so far", parse=import_parsers.amount),
                ImportField("paid_on", "Paid on", parse=import_parsers.date),
            ),
            write=write_invoices,
            external_id="number",
            permission=RECORD_PAYMENTS,
            summary="Open and paid invoices exported by the ERP; a customer is found by its "
            "ERP number or VAT number",
        ),
        Importer(
            "collections.ratings",
            title="Credit ratings",
            model="collections_credit_line",
            fields=(
                customer,
                ImportField(
                    "rating",
                    "Rating",
                    required=True,
                    parse=import_parsers.text(10),
                    aliases=("grade", "score"),
                ),
                ImportField(
                    "credit_limit",
                    "Credit line",
                    parse=import_parsers.amount,
                    aliases=("limit", "credit limit"),
                ),
                ImportField("rated_on", "Rated on", parse=import_parsers.date, aliases=("date",)),
                ImportField(
                    "provider",
                    "Provider",
                    parse=import_parsers.text(60),
                    aliases=("source", "agency"),
                ),
            ),
            write=write_ratings,
            permission=MANAGE_CREDIT,
            summary="A credit-rating provider's file: a rating (and optionally a credit line) "
            "per customer",
        ),
    ]
