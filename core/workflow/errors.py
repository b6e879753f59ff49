"""Why a transition did not happen: one error type per kind of refusal, each naming the
record, the step and the reason."""

from __future__ import annotations

from sqlalchemy import inspect

from accord.core.errors import AccordError


class TransitionError(AccordError):
    """A transition did not happen; the message names the record, the transition and why.

    ``reason`` is the why alone, for a UI that shows the record and step elsewhere."""

    verb = "refused"

    def __init__(self, record: str, transition: str, reason: str) -> None:
        super().__init__(f"{record}: {transition!r} {self.verb}: {reason}")
        self.record = record
        self.transition = transition
        self.reason = reason


class TransitionNotAllowedError(TransitionError):
    """The actor may not perform the step: it lacks the permission, or it asked for the
    step itself and the step needs someone else."""

    verb = "not allowed"


class TransitionBlockedError(TransitionError):
    """A guard or a plugin's ``accord_before_transition`` stopped the step; ``reason`` is
    theirs, as given."""

    verb = "blocked"


class MissingInputError(TransitionError):
    """A required input of the step was not given, or was blank."""

    verb = "needs input"


class InvalidTransitionError(TransitionError):
    """No such step for this record, or not from the state it is in."""

    verb = "not possible"


class TransitionConflictError(TransitionError):
    """Someone else changed the record between loading it and this transition."""

    verb = "not applied"


def table_of(record: object) -> str:
    return str(getattr(type(record), "__tablename__", type(record).__name__))


def label(record: object) -> str:
    """How messages name a record: ``dummy_note #12``."""
    state = inspect(record, raiseerr=False)
    identity = state.identity if state is not None else None
    if identity is None:
        return f"a new {table_of(record)}"
    return f"{table_of(record)} #{','.join(str(part) for part in identity)}"
