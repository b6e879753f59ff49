"""The veto on order confirmation (``accord_before_transition`` on ``orders.order``'s
``confirm``): the orders plugin knows nothing of credit. An authorised user confirms
despite the block by giving the transition the input ``credit_override`` with a reason;
the workflow history keeps that input, and the override is recorded, audited and shown
on the customer's timeline once the confirmation is committed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, event, exists, func, select, type_coerce
from sqlalchemy.orm import Session

from accord.api import ActivityKind, Event, Principal, log_activity, utcnow
from accord.plugins.orders.api import ORDER_WORKFLOW, SOLD_ORDER_STATES, Order, order_amount

from .credit import OVERRIDE_INPUT, CreditPosition, block_reasons, books, credit_position
from .models import CreditOverride, Invoice, Money
from .security import OVERRIDE_BLOCK
from .settings import CollectionsSettings, settings_of

CONFIRM = "confirm"
ZERO = Decimal("0.00")


def uninvoiced_orders(
    session: Session, partner_id: int, currency: str, *, besides: int | None = None
) -> Decimal:
    """Confirmed (or shipped, or delivered) orders of the customer that no invoice bills
    yet: sold on credit, not receivable yet."""
    query: Select[Decimal] = select(type_coerce(func.sum(Order.amount), Money)).where(
        Order.partner_id == partner_id,
        Order.currency == currency,
        Order.state.in_(SOLD_ORDER_STATES),
        Order.state != "invoiced",
        ~exists().where(Invoice.order_id == Order.id),
    )
    if besides is not None:
        query = query.where(Order.id != besides)
    return session.scalar(query) or ZERO


POSITIONS = "collections.credit_positions"
"""Where a session keeps the positions it read (``session.info``) until anything writes."""


@dataclass
class Remembered:
    """The positions read on one connection since its last write."""

    connection: Connection | None = None
    positions: dict[tuple[int, int | None], CreditPosition] = field(default_factory=dict)

    def forget_on_write(
        self, conn: Connection, cursor: object, statement: str, *args: object
    ) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            self.positions.clear()


def remembered(session: Session) -> dict[tuple[int, int | None], CreditPosition]:
    """The positions this session read since anything was last written on its connection:
    a board asks the credit check once per card, often for the same customer. Any other
    statement than a SELECT (an ORM flush, a workflow step's UPDATE, a savepoint) and
    another connection (a new transaction) forget them, so a check never misses a change
    it could see."""
    state = session.info.get(POSITIONS)
    if not isinstance(state, Remembered):
        state = Remembered()
        session.info[POSITIONS] = state
    connection = session.connection()
    if state.connection is not connection:
        state.positions.clear()
        state.connection = connection
        event.listen(connection, "before_cursor_execute", state.forget_on_write)
    return state.positions


def customer_position(
    session: Session, partner_id: int, settings: CollectionsSettings, *, besides: int | None = None
) -> CreditPosition:
    """The customer's credit position, read in full (whoever asks), counting its confirmed
    orders not invoiced yet except order ``besides``."""
    cache = remembered(session)
    found = cache.get((partner_id, besides))
    if found is not None:
        return found
    today = utcnow().date()
    with books(session) as everything:
        pending = uninvoiced_orders(everything, partner_id, settings.currency, besides=besides)
        position = credit_position(everything, partner_id, settings, today, open_orders=pending)
    cache[(partner_id, besides)] = position
    return position


def position_for(session: Session, order: Order, settings: CollectionsSettings) -> CreditPosition:
    """The customer's credit position besides ``order``, read in full. A draft is not
    counted anyway, so all the drafts of a customer share one position (and one read)."""
    besides = order.id if order.state in SOLD_ORDER_STATES else None
    return customer_position(session, order.partner_id, settings, besides=besides)


def confirmation_block(
    session: Session, order: Order, principal: Principal, inputs: Mapping[str, Any]
) -> str | None:
    """Why ``order`` may not be confirmed now, or None. An override reason given by a
    holder of the override permission lets it pass."""
    settings = settings_of(session)
    position = position_for(session, order, settings)
    reasons = block_reasons(position, order_amount(order), order.currency, settings)
    if not reasons:
        return None
    message = "; ".join(reasons)
    override = str(inputs.get(OVERRIDE_INPUT) or "").strip()
    if override and principal.can(OVERRIDE_BLOCK):
        return None
    if override:
        return (
            f"{message}. {principal} may not override the credit block: it takes the "
            f"permission {OVERRIDE_BLOCK!r}"
        )
    return f"{message}. Administration may confirm it anyway with a credit override and its reason"


def before_transition(
    session: Session,
    record: object,
    workflow_name: str,
    transition_name: str,
    principal: Principal,
    inputs: Mapping[str, Any],
) -> str | None:
    if workflow_name != ORDER_WORKFLOW or transition_name != CONFIRM:
        return None
    assert isinstance(record, Order)
    return confirmation_block(session, record, principal, inputs)


def record_override(session: Session, event: Event) -> None:
    """Subscriber of ``orders.order.confirm``: when the confirmation came with a credit
    override that the block needed, keep who overrode it, why and what it overrode."""
    reason = str((event.payload.get("inputs") or {}).get(OVERRIDE_INPUT) or "").strip()
    if not reason:
        return
    order = session.get(Order, event.payload["id"])
    if order is None:
        return
    settings = settings_of(session)
    position = position_for(session, order, settings)
    reasons = block_reasons(position, order_amount(order), order.currency, settings)
    block = "; ".join(reasons) or "no block stood when the override was recorded"
    actor = str(event.payload.get("actor") or "")
    session.add(
        CreditOverride(
            partner_id=order.partner_id, order_id=order.id, actor=actor, reason=reason, block=block
        )
    )
    who = actor.split(":")[-1] if actor.startswith("user:") else actor
    log_activity(
        session,
        order.partner_id,
        ActivityKind.SYSTEM,
        f"Credit block overridden by {who} to confirm order {order.number}",
        body=f"Reason: {reason}\nBlock: {block}",
        source="collections",
        source_ref=f"orders_order:{order.id}",
    )
