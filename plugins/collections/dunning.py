"""Dunning: the scheduled run that reminds customers of overdue invoices, one level at a
time, never the same level twice for an invoice; each reminder is one mail per customer
and level listing its invoices due for that level, through the outbox, an entry on the
customer's timeline and a follow-up task for whoever chases (a setting)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.api import ActivityKind, Partner, User, log_activity, send_mail, utcnow

from .models import DunningNotice, Invoice, InvoiceStatus
from .receivables import money
from .settings import Chaser, CollectionsSettings, DunningLevel, settings_of

RUN_JOB = "collections.dunning_run"
SOURCE = "collections"


@dataclass(frozen=True)
class Reminder:
    """A reminder the run sent, or would send: one per customer and level, listing the
    invoices it reminds of."""

    invoices: tuple[str, ...]
    level: int
    to: str
    chaser: str


def run_dunning(session: Session, payload: Mapping[str, Any]) -> None:
    """The job: today's reminders (``payload["today"]``, an ISO date, for a run on another
    day's behalf)."""
    today = dt.date.fromisoformat(payload["today"]) if payload.get("today") else utcnow().date()
    send_reminders(session, settings_of(session), today)


def due_reminders(
    session: Session, settings: CollectionsSettings, today: dt.date
) -> list[tuple[Invoice, int]]:
    """Each open invoice whose next level is due today, with that level (1-based): the level
    after the last one sent, once the invoice is that level's days past due."""
    levels = settings.dunning_levels
    if not levels:
        return []
    first_due = today - dt.timedelta(days=levels[0].days)
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.status == InvoiceStatus.OPEN, Invoice.due_date <= first_due)
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    if not invoices:
        return []
    sent = dict(
        session.execute(
            select(DunningNotice.invoice_id, func.max(DunningNotice.level))
            .where(DunningNotice.invoice_id.in_([invoice.id for invoice in invoices]))
            .group_by(DunningNotice.invoice_id)
        ).all()
    )
    found = []
    for invoice in invoices:
        level = sent.get(invoice.id, 0) + 1
        if level <= len(levels) and (today - invoice.due_date).days >= levels[level - 1].days:
            found.append((invoice, level))
    return found


def send_reminders(
    session: Session, settings: CollectionsSettings, today: dt.date
) -> Sequence[Reminder]:
    """Send every reminder due today, in the caller's transaction: one mail per customer
    and level, listing its invoices due for that level (oldest due first)."""
    grouped: dict[tuple[int, int], list[Invoice]] = defaultdict(list)
    for invoice, level in due_reminders(session, settings, today):
        grouped[(invoice.partner_id, level)].append(invoice)
    return [
        remind(session, settings, invoices, level, today)
        for (_, level), invoices in sorted(grouped.items())
    ]


def totals(invoices: Sequence[Invoice]) -> str:
    """What is still open, per currency: ``1,700.00 EUR`` or ``1,200.00 EUR + 80.00 USD``."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        sums[invoice.currency] += invoice.balance
    return " + ".join(f"{money(amount)} {currency}" for currency, amount in sorted(sums.items()))


def described(invoices: Sequence[Invoice], today: dt.date) -> str:
    """The reminded invoices in a timeline entry's words."""
    days = max((today - invoice.due_date).days for invoice in invoices)
    if len(invoices) == 1:
        return f"invoice {invoices[0].number} ({totals(invoices)}, {days} days overdue)"
    numbers = ", ".join(invoice.number for invoice in invoices)
    return f"{len(invoices)} invoices ({totals(invoices)}, up to {days} days overdue): {numbers}"


def mail_values(
    partner: Partner, invoices: Sequence[Invoice], level: int, chaser: User | None, today: dt.date
) -> dict[str, Any]:
    listed = [
        {
            "number": invoice.number,
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "days_overdue": (today - invoice.due_date).days,
            "amount": f"{money(invoice.amount)} {invoice.currency}",
            "balance": f"{money(invoice.balance)} {invoice.currency}",
        }
        for invoice in invoices
    ]
    oldest = listed[0]
    return {
        "customer": partner.name,
        "invoices": listed,
        "count": len(listed),
        "total": totals(invoices),
        "level": level,
        "chaser": chaser.name if chaser else "Administration",
        "chaser_email": chaser.email if chaser else "",
        # The oldest invoice's, for templates written for one invoice per mail.
        "invoice": oldest["number"],
        **{key: oldest[key] for key in ("issue_date", "due_date", "days_overdue")},
        **{key: oldest[key] for key in ("amount", "balance")},
    }


def remind(
    session: Session,
    settings: CollectionsSettings,
    invoices: Sequence[Invoice],
    level: int,
    today: dt.date,
) -> Reminder:
    """One reminder of ``level`` to the invoices' customer, listing them all; each invoice
    gets its notice of that level, whose unique key keeps a level from being sent twice."""
    spec: DunningLevel = settings.dunning_levels[level - 1]
    partner = session.get(Partner, invoices[0].partner_id)
    assert partner is not None  # the foreign key keeps it
    chaser = chaser_for(session, settings, partner, level)
    what = described(invoices, today)
    ref = f"collections_invoice:{invoices[0].id}"
    address = partner.email.strip()
    if address:
        ids = ",".join(str(invoice.id) for invoice in invoices)
        digest = hashlib.blake2b(ids.encode(), digest_size=8).hexdigest()
        send_mail(
            session,
            spec.template,
            address,
            mail_values(partner, invoices, level, chaser, today),
            key=f"collections.dunning:{partner.id}:{level}:{digest}",
            reply_to=chaser.email if chaser and chaser.email else None,
        )
        log_activity(
            session,
            partner.id,
            ActivityKind.EMAIL,
            f"Reminder {level} sent for {what}",
            body=f"Sent to {address}" + (f", chased by {chaser.name}" if chaser else ""),
            user_id=chaser.id if chaser else None,
            source=SOURCE,
            source_ref=ref,
        )
        follow_up = f"Follow up reminder {level} of {what}"
    else:
        follow_up = f"Call about {what}: reminder {level} could not be mailed, no e-mail address"
    task = log_activity(
        session,
        partner.id,
        ActivityKind.CALL,
        follow_up,
        user_id=chaser.id if chaser else None,
        source=SOURCE,
        source_ref=ref,
    )
    task.done = False
    task.due_at = dt.datetime.combine(
        today + dt.timedelta(days=settings.follow_up_days), dt.time(9), tzinfo=dt.UTC
    )
    session.add_all(
        DunningNotice(
            invoice_id=invoice.id,
            level=level,
            days_overdue=(today - invoice.due_date).days,
            sent_to=address,
            chaser_id=chaser.id if chaser else None,
        )
        for invoice in invoices
    )
    session.flush()
    return Reminder(
        tuple(invoice.number for invoice in invoices),
        level,
        address,
        chaser.login if chaser else "",
    )


def chaser_for(
    session: Session, settings: CollectionsSettings, partner: Partner, level: int
) -> User | None:
    """Who chases ``partner`` at ``level``: its owner (salesperson, agent) or
    administration, as ``[collections] chaser`` says; the other one when nobody fills it."""
    owner = session.get(User, partner.owner_id) if partner.owner_id is not None else None
    if owner is not None and not owner.active:
        owner = None
    administration = administration_user(session, settings)
    if settings.chaser == Chaser.SALESPERSON:
        return owner or administration
    if settings.chaser == Chaser.ADMINISTRATION_THEN_AGENT and level >= settings.agent_from_level:
        return owner or administration
    return administration or owner


def administration_user(session: Session, settings: CollectionsSettings) -> User | None:
    if settings.administration_login:
        return session.scalar(
            select(User).where(User.login == settings.administration_login, User.active)
        )
    user_role = User.role_rows.property.mapper.class_
    return session.scalar(
        select(User)
        .where(User.active, User.role_rows.any(user_role.role_name == "administration"))
        .order_by(User.id)
        .limit(1)
    )
