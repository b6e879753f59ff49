"""What the user is told when a workflow step they asked for from a page did not happen,
and the HTTP status that goes with it: shared by the boards and the record pages so that a
refusal reads the same everywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from accord.core.access import AccessDeniedError
from accord.core.workflow import (
    Available,
    InvalidTransitionError,
    TransitionConflictError,
    TransitionError,
    TransitionNotAllowedError,
    WorkflowEngine,
)

REFUSALS = (TransitionError, AccessDeniedError)
"""What ``WorkflowEngine.transition`` raises when a step does not happen."""


def refusal(error: Exception, label: str, where: str) -> tuple[int, str]:
    """The status and the message of a step ``label`` refused with ``error``; ``where`` is
    what is shown afresh (``"the board"``, ``"the page"``). 409 when the record changed
    meanwhile, 403 when the user may not, 422 when a guard, a veto or an input stops it."""
    if isinstance(error, TransitionConflictError):
        return 409, f"{label}: this record was changed by someone else; {where} is reloaded."
    if isinstance(error, TransitionNotAllowedError):
        return 403, f"{label} is not allowed: {error.reason}."
    if isinstance(error, AccessDeniedError):
        return 403, f"{label} is not allowed: your roles do not let you change this record."
    if isinstance(error, InvalidTransitionError):
        return 409, f"{label} is not possible now: {error.reason}; {where} is reloaded."
    if isinstance(error, TransitionError):  # blocked by a guard or a veto, or missing input
        return 422, f"{label} refused: {error.reason}."
    raise error


def attempt(
    session: Session,
    workflows: WorkflowEngine,
    record: Any,
    name: str,
    inputs: Mapping[str, str],
    label: str,
    where: str,
) -> tuple[int, str] | None:
    """Take step ``name``; ``None`` when it happened, else the status and message of the
    refusal, with the unit of work rolled back (so what is shown next is read afresh)."""
    try:
        workflows.transition(session, record, name, **inputs)
    except REFUSALS as error:
        session.rollback()
        return refusal(error, label, where)
    return None


def held_back(actions: Sequence[Available], may_take: Mapping[str, bool]) -> list[Available]:
    """The steps a user could take but for a guard, a veto or the four-eyes rule: worth
    showing with their reason; ``may_take`` says per step whether the user holds its
    permission and may change the record (steps they never could take are not shown)."""
    return [action for action in actions if not action.allowed and may_take.get(action.name)]
