"""Work tied to the fate of a session's transaction: calls run once it commits, and
records read again if it (or a savepoint around the work) rolls back."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("accord.workflow")

_PENDING = "accord_workflow_after_commit"

_LISTENING: weakref.WeakSet[Any] = weakref.WeakSet()
"""The session classes (and bare sessions) whose commits and rollbacks are followed."""

Pending = tuple[SessionTransaction, Callable[[], object] | None, Callable[[], object] | None]
"""The transaction something was done in, what to run once it commits, and what to run if
it (or a savepoint around it) rolls back."""


def after_commit(session: Session, call: Callable[[], object]) -> None:
    """Run ``call`` once the session's transaction commits; forget it if the transaction,
    or the savepoint it was registered in, rolls back. An exception is logged."""
    _register(session, call, None)


def expire_on_rollback(session: Session, record: object) -> None:
    """Have ``record`` read again if the session's transaction, or the savepoint it is in
    now, rolls back: its attributes hold values only that transaction wrote."""
    _register(session, None, partial(_expire, session, record))


def _register(
    session: Session,
    on_commit: Callable[[], object] | None,
    on_rollback: Callable[[], object] | None,
) -> None:
    pending: list[Pending] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        # A sessionmaker makes sessions of its own subclass: listen there, once per
        # sessionmaker; a bare Session only on itself, never on every Session. Not asked of
        # event.contains(): it answers by id(), and a new class may reuse a dead one's.
        target: Any = type(session) if type(session) is not Session else session
        if target not in _LISTENING:
            event.listen(target, "after_commit", _run_pending)
            event.listen(target, "after_soft_rollback", _drop_rolled_back)
            _LISTENING.add(target)
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None  # a statement just ran in it
    pending.append((transaction, on_commit, on_rollback))


def _run_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: its calls wait for the real commit
    pending: list[Pending] | None = session.info.get(_PENDING)
    if not pending:
        return
    calls = [call for _, call, _ in pending if call is not None]
    pending.clear()
    for call in calls:
        try:
            call()
        except Exception:
            log.exception("a call after commit failed; the transaction stays committed")


def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[Pending] | None = session.info.get(_PENDING)
    if not pending:
        return
    kept = []
    for entry in pending:
        if not _within(entry[0], previous_transaction):
            kept.append(entry)
        elif entry[2] is not None:
            entry[2]()
    pending[:] = kept


def _expire(session: Session, record: object) -> None:
    with suppress(InvalidRequestError):  # no longer in the session: nothing holds its state
        session.expire(record)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False
