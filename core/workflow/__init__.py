"""State machines that plugins declare on their models; every state change goes through
``WorkflowEngine.transition`` (DESIGN rule 4).

The parts: ``models`` (the history table, ``WorkflowMixin``), ``errors`` (why a step did
not happen), ``build`` (the plugins' workflows checked and bound at start-up), ``write``
(the one UPDATE of a state), ``engine`` (``start``, ``transition``, ``available``,
``history``) and ``transaction`` (work tied to the commit or rollback of the caller's
transaction).
"""

from accord.core.workflow.engine import Available, WorkflowEngine
from accord.core.workflow.errors import (
    InvalidTransitionError,
    MissingInputError,
    TransitionBlockedError,
    TransitionConflictError,
    TransitionError,
    TransitionNotAllowedError,
)
from accord.core.workflow.models import TransitionRecord, WorkflowMixin

__all__ = [
    "Available",
    "InvalidTransitionError",
    "MissingInputError",
    "TransitionBlockedError",
    "TransitionConflictError",
    "TransitionError",
    "TransitionNotAllowedError",
    "TransitionRecord",
    "WorkflowEngine",
    "WorkflowMixin",
]
