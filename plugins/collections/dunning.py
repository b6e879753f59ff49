"""Dunning: the scheduled run that reminds customers of overdue invoices, one level at a
time, never the same level twice, each reminder a mail through the outbox, an entry on
the customer's timeline and a follow-up task for whoever chases (a setting)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    """A reminder the run sent, or would send."""

    invoice: str
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
    """Send every reminder due today, in the caller's transaction."""
    sent = []
    for invoice, level in due_reminders(session, settings, today):
        sent.append(remind(session, settings, invoice, level, today))
    return sent


def remind(
    session: Session, settings: CollectionsSettings, invoice: Invoice, level: int, today: dt.date
) -> Reminder:
    spec: DunningLevel = settings.dunning_levels[level - 1]
    partner = session.get(Partner, invoice.partner_id)
    assert partner is not None  # the foreign key keeps it
    chaser = chaser_for(session, settings, partner, level)
    days = (today - invoice.due_date).days
    balance = f"{money(invoice.balance)} {invoice.currency}"
    what = f"invoice {invoice.number} ({balance}, {days} days overdue)"
    ref = f"collections_invoice:{invoice.id}"
    address = partner.email.strip()
    if address:
        send_mail(
            session,
            spec.template,
            address,
            {
                "customer": partner.name,
                "invoice": invoice.number,
                "issue_date": invoice.issue_date.isoformat(),
                "due_date": invoice.due_date.isoformat(),
                "days_overdue": days,
                "amount": f"{money(invoice.amount)} {invoice.currency}",
                "balance": balance,
                "level": level,
                "chaser": chaser.name if chaser else "Administration",
                "chaser_email": chaser.email if chaser else "",
            },
            key=f"collections.dunning:{invoice.id}:{level}",
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
    session.add(
        DunningNotice(
            invoice_id=invoice.id,
            level=level,
            days_overdue=days,
            sent_to=address,
            chaser_id=chaser.id if chaser else None,
        )
    )
    session.flush()
    return Reminder(invoice.number, level, address, chaser.login if chaser else "")


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
