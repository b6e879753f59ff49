"""Offers: making one, routing it to its approvers by the company's approval policy, the
approvers' decisions, and the way back to draft."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import AccordError, Runtime, principal_of, utcnow

from .models import ApprovalKind, Offer, OfferApproval, OfferLine, Product
from .numbers import assign_number, next_number
from .pricing import offer_totals, price_for
from .settings import OrdersSettings
from .workflows import offer_fingerprint


class OfferError(AccordError):
    """An offer cannot be made or changed as asked; the message says why."""


@dataclass(frozen=True)
class LineInput:
    """A line to offer or order: a product (its price for the customer unless given), or a
    free description, which makes a non-standard line."""

    quantity: Decimal
    product_id: int | None = None
    description: str = ""
    unit_price: Decimal | None = None
    discount_percent: Decimal = Decimal("0")


@dataclass(frozen=True)
class Route:
    """An approval the policy asks for: what, from which role, and why."""

    kind: ApprovalKind
    role: str
    reason: str


def settings_of(runtime: Runtime) -> OrdersSettings:
    return cast(OrdersSettings, runtime.settings.section("orders"))


def create_offer(
    runtime: Runtime,
    session: Session,
    *,
    partner_id: int,
    lines: Sequence[LineInput],
    owner_id: int | None = None,
    team_id: int | None = None,
    note: str = "",
) -> Offer:
    """A draft offer for the customer, owned by the acting user unless ``owner_id`` says
    otherwise, valid for ``[orders] offer_validity_days``."""
    settings = settings_of(runtime)
    principal = principal_of(session)
    if owner_id is None and principal is not None:
        owner_id = principal.user_id
        team_id = team_id if team_id is not None else principal.team_id
    offer = Offer(
        number=next_number(session, Offer, settings.offer_prefix),
        partner_id=partner_id,
        owner_id=owner_id,
        team_id=team_id,
        currency=settings.currency,
        valid_until=dt.date.today() + dt.timedelta(days=settings.offer_validity_days),
        note=note,
    )
    runtime.workflows.start(session, offer)
    assign_number(session, offer, settings.offer_prefix)
    for line in lines:
        add_offer_line(session, offer, line)
    return offer


def add_offer_line(session: Session, offer: Offer, line: LineInput) -> OfferLine:
    """Add a line to a draft offer; quantities, prices and discounts are checked."""
    if offer.state != "draft":
        raise OfferError(f"offer {offer.number}: lines change only in draft (it is {offer.state})")
    where = f"offer {offer.number}, line {len(offer.lines) + 1}"
    if line.quantity <= 0:
        raise OfferError(f"{where}: quantity must be more than 0, got {line.quantity}")
    if not Decimal("0") <= line.discount_percent <= Decimal("100"):
        raise OfferError(
            f"{where}: discount must be between 0 and 100, got {line.discount_percent}"
        )
    product = session.get(Product, line.product_id) if line.product_id is not None else None
    if line.product_id is not None and product is None:
        raise OfferError(f"{where}: no product #{line.product_id}")
    if product is None and not line.description.strip():
        raise OfferError(f"{where}: give a product or describe what is offered")
    if product is None and line.unit_price is None:
        raise OfferError(f"{where}: a line without a product needs a unit price")
    unit_price = line.unit_price
    if unit_price is None:
        assert product is not None
        unit_price = price_for(session, offer.partner_id, product)
    if unit_price < 0:
        raise OfferError(f"{where}: unit price must not be negative, got {unit_price}")
    row = OfferLine(
        position=len(offer.lines) + 1,
        product_id=product.id if product else None,
        description=line.description.strip() or (product.name if product else ""),
        quantity=line.quantity,
        unit_price=unit_price,
        discount_percent=line.discount_percent,
        unit_cost=product.cost if product and product.standard else None,
        standard=bool(product and product.standard),
        lead_time_days=product.lead_time_days if product else None,
    )
    offer.lines.append(row)
    offer_totals(offer, offer.lines)
    session.flush()
    return row


def change_offer(session: Session, offer: Offer, *, lines: Sequence[LineInput], note: str) -> Offer:
    """Replace a draft offer's lines and its note (what the salesperson edits before
    submitting it, or after taking it back to draft): the lines are checked as new ones,
    the totals recomputed, and the offer is routed anew when it is submitted."""
    if offer.state != "draft":
        raise OfferError(
            f"offer {offer.number}: it changes only in draft (it is {offer.state}); take it "
            "back to draft first"
        )
    if not lines:
        raise OfferError(f"offer {offer.number}: an offer needs at least one line")
    offer.lines.clear()
    session.flush()
    for line in lines:
        add_offer_line(session, offer, line)
    offer.note = note
    session.flush()
    return offer


def route_offer(settings: OrdersSettings, offer: Offer) -> list[Route]:
    """The approvals the company's policy asks of this offer (``[orders]``: the preset,
    the discount threshold and each step's role)."""
    routing = settings.routing
    routes: list[Route] = []
    threshold = settings.discount_threshold
    discounted = [line for line in offer.lines if line.discount_percent > threshold]
    if discounted and routing.discount:
        worst = max(line.discount_percent for line in discounted)
        where = ", ".join(f"line {line.position}" for line in discounted)
        routes.append(
            Route(
                ApprovalKind.DISCOUNT,
                routing.discount,
                f"{where}: discount up to {worst.normalize():f}% "
                f"(above {threshold.normalize():f}%)",
            )
        )
    special = [line for line in offer.lines if not line.standard]
    if special and routing.feasibility:
        where = ", ".join(f"line {line.position} ({line.description})" for line in special)
        routes.append(
            Route(ApprovalKind.FEASIBILITY, routing.feasibility, f"non-standard: {where}")
        )
    goods = [line for line in offer.lines if line.product_id is not None and line.standard]
    if goods and routing.availability:
        routes.append(
            Route(
                ApprovalKind.AVAILABILITY,
                routing.availability,
                f"{len(goods)} line(s) of stocked products",
            )
        )
    return routes


def submit(runtime: Runtime, session: Session, offer: Offer) -> list[OfferApproval]:
    """Submit a draft offer: create the approvals the policy asks for, each routed to its
    role; with none to ask, the offer is approved at once. Returns the new approvals."""
    principal = principal_of(session)
    user_id = principal.user_id if principal is not None else None
    known_roles = set(runtime.policy.roles)
    fingerprint = offer_fingerprint(session, offer.id)
    approvals: list[OfferApproval] = []
    for route in route_offer(settings_of(runtime), offer):
        if route.role not in known_roles:
            raise OfferError(
                f"accord.toml, [orders] {route.kind.value}_approver: unknown role "
                f"{route.role!r}; known: {', '.join(sorted(known_roles))}"
            )
        approval = OfferApproval(
            offer_id=offer.id,
            kind=route.kind,
            role=route.role,
            reason=route.reason[:300],
            fingerprint=fingerprint,
            requested_by_id=user_id,
        )
        runtime.workflows.start(session, approval)
        approvals.append(approval)
    offer.submitted_by_id = user_id
    offer.routed_fingerprint = fingerprint
    session.flush()
    runtime.workflows.transition(session, offer, "submit")
    if not approvals:
        runtime.workflows.transition(session, offer, "approve")
    return approvals


def decide(
    runtime: Runtime,
    session: Session,
    approval: OfferApproval,
    *,
    grant: bool,
    note: str = "",
) -> Offer:
    """Grant or refuse an approval as the acting user (who must wear its role and may not
    be the offer's submitter unless the company allows it). The last grant approves the
    offer; a refusal leaves it waiting for its salesperson to revise it."""
    engine = runtime.workflows
    approval.note = note.strip()
    if grant:
        engine.transition(session, approval, "grant")
    else:
        engine.transition(session, approval, "refuse", reason=note)
    principal = principal_of(session)
    approval.decided_by_id = principal.user_id if principal is not None else None
    approval.decided_at = utcnow()
    session.flush()
    offer = session.get(Offer, approval.offer_id)
    if offer is None:
        raise OfferError(f"approval #{approval.id}: its offer is gone")
    if grant and offer.state == "submitted":
        available = {step.name: step for step in engine.available(session, offer)}
        step = available.get("approve")
        if step is not None and step.allowed:
            engine.transition(session, offer, "approve")
    return offer


def revise(runtime: Runtime, session: Session, offer: Offer) -> None:
    """Back to draft, to change it: approvals still pending are withdrawn."""
    engine = runtime.workflows
    pending = session.scalars(
        select(OfferApproval).where(
            OfferApproval.offer_id == offer.id, OfferApproval.state == "pending"
        )
    ).all()
    for approval in pending:
        engine.transition(session, approval, "withdraw")
    engine.transition(session, offer, "revise")


def expire_offers(runtime: Runtime, session: Session, today: dt.date | None = None) -> int:
    """Offers approved or sent whose validity ended before ``today`` become expired (the
    daily job ``orders.expire_offers``); returns how many."""
    day = today or dt.date.today()
    due = session.scalars(
        select(Offer)
        .where(Offer.state.in_(("approved", "sent")), Offer.valid_until < day)
        .order_by(Offer.id)
    ).all()
    for offer in due:
        runtime.workflows.transition(session, offer, "expire")
    return len(due)
