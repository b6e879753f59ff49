"""State machines that plugins declare on their models; every state change goes through
``WorkflowEngine.transition`` (DESIGN rule 4).

A transition checks, in order: the record's state, the actor's permission (``accord.toml``
may name another one), the self-approval rule, the required inputs, the transition's guards
and the plugins' ``accord_before_transition`` vetoes. Then, in the caller's transaction, it
writes the new state, a history row, the audit rows and an outbox event; the
``accord_after_transition`` hooks run once that transaction commits, never if it rolls back.

New records get their initial state from ``WorkflowEngine.start`` (explicit, rather than a
flush listener, so that creating a record reads as what it is; a model's state column has
no default, so a record added without ``start`` and without a state fails at its flush).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import ColumnElement, Row, Table, Update, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from accord.core.access import AccessDeniedError, Principal, principal_of
from accord.core.audit import record_changes
from accord.core.bulk import PreparedInsert
from accord.core.db import utcnow
from accord.core.events import OutboxEvent
from accord.core.workflow.build import Machine, Step, build_machines
from accord.core.workflow.errors import (
    InvalidTransitionError,
    MissingInputError,
    TransitionBlockedError,
    TransitionConflictError,
    TransitionError,
    TransitionNotAllowedError,
    label,
    table_of,
)
from accord.core.workflow.models import TransitionRecord
from accord.core.workflow.transaction import after_commit, expire_on_rollback
from accord.core.workflow.write import StateWrite

if TYPE_CHECKING:
    from pluggy import HookRelay

    from accord.core.manager import AccordPluginManager

log = logging.getLogger("accord.workflow")
R = TypeVar("R")
NO_INPUTS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Available:
    """A transition the record can take from its current state, and whether the session's
    actor may take it now; ``reason`` says why not (shown next to a disabled button)."""

    workflow: str
    name: str
    target: str
    allowed: bool
    reason: str | None
    required_inputs: tuple[str, ...]


_INSERT_HISTORY = PreparedInsert(
    cast(Table, TransitionRecord.__table__),
    (
        "model",
        "record_id",
        "workflow",
        "transition",
        "from_state",
        "to_state",
        "actor",
        "inputs",
        "at",
        "context",
    ),
)
_INSERT_EVENT = PreparedInsert(
    cast(Table, OutboxEvent.__table__), ("name", "payload", "key", "created_at", "dispatched_at")
)
_STATEMENTS_KEPT = 1_000
"""UPDATE statements kept per access condition (one per principal and model); past it the
cache starts again."""


class WorkflowEngine:
    """Runs the workflows of one configuration: build it with ``from_plugins(pm)`` (a
    runtime has one as ``runtime.workflows``)."""

    def __init__(self, machines: Sequence[Machine], hook: HookRelay | None = None) -> None:
        self.machines = {machine.workflow.name: machine for machine in machines}
        self._hook = hook
        self._by_model: dict[type[Any], list[Machine]] = {}
        self._steps: dict[tuple[type[Any], str], tuple[Machine, Step]] = {}
        self._writes = {name: StateWrite.of(machine) for name, machine in self.machines.items()}
        # An UPDATE narrowed by an access condition, by its state column and the condition's id
        # (the policy keeps one condition object per principal, model and operation, and
        # the workflows of one model share it).
        self._narrowed: dict[tuple[str, int], tuple[ColumnElement[bool], Update]] = {}
        for machine in machines:
            self._by_model.setdefault(machine.model, []).append(machine)
            for name, step in machine.steps.items():
                self._steps[(machine.model, name)] = (machine, step)

    @classmethod
    def from_plugins(cls, pm: AccordPluginManager) -> WorkflowEngine:
        """The plugins' workflows with ``accord.toml``'s ``[workflows]`` applied, checked
        now: a mistake fails here, naming the plugin or the setting."""
        return cls(build_machines(pm), pm.hook)

    # --- records --------------------------------------------------------------------------

    def start(self, session: Session, record: R) -> R:
        """Add the new ``record`` to the session in its workflow's initial state (it may
        already hold a valid state, e.g. when imported)."""
        for machine in self._machines(record, "start"):
            state_field = machine.workflow.state_field
            current = getattr(record, state_field)
            if current is None:
                setattr(record, state_field, machine.workflow.initial)
            elif current not in machine.workflow.states:
                raise InvalidTransitionError(
                    label(record),
                    "start",
                    f"{current!r} is not a state of {machine.workflow.name!r}; "
                    f"known: {', '.join(machine.workflow.states)}",
                )
        session.add(record)
        return record

    def transition(self, session: Session, record: object, name: str, /, **inputs: Any) -> None:
        """Move ``record`` through the transition ``name`` as the session's principal,
        with ``inputs`` (``reason="no budget"``), writing to the session's transaction
        now. Raises a ``TransitionError`` whose message names the record, the step and
        the reason; the record then stays as it was. After a ``TransitionConflictError``,
        or an ``AccessDeniedError`` (the access table does not let the user change this
        record), the caller's transaction must roll back.

        The state is written by one UPDATE of the state and the version, narrowed by the
        access table's write condition, not by a flush of the record: a flush costs a
        unit of work for one known column. What a flush would add is done here: the
        version check (no row matched: a conflict, or a record the user may not change),
        the check that the row as written is still one the user may change, the audit
        row of the state, the record's new values in memory."""
        machine, step = self._step(record, name)
        principal = principal_of(session)
        if principal is None:
            raise TransitionNotAllowedError(
                label(record),
                name,
                "this session has no principal; open it with db.session(principal=...)",
            )
        state = inspect(record)
        if state.session is not session:
            raise InvalidTransitionError(
                label(record),
                name,
                "the record does not belong to this session; load it with the session "
                f"(session.get({type(record).__name__}, id)), or add a new one with start()",
            )
        if state.key is None:
            session.flush()  # a new record needs its id for the history and the event
        given: Mapping[str, Any] = MappingProxyType(inputs)
        obstacle = self._obstacle(session, record, step, principal, given, check_inputs=True)
        if obstacle is not None:
            error, reason = obstacle
            raise error(label(record), name, reason)
        if session.dirty or session.new or session.deleted:
            # Other changes, to this record too, are written (and checked, and audited)
            # first, as the flush of the state would have written them along.
            session.flush()

        workflow, transition = step.workflow, step.transition
        source = getattr(record, workflow.state_field)
        record_id = state.identity[0]
        now = utcnow()
        write = self._writes[workflow.name]
        self._write_state(session, record, record_id, machine, step, write, principal, now)
        encoded = json.dumps(inputs, default=str, ensure_ascii=False, sort_keys=True)
        plain = json.loads(encoded) if inputs else {}
        payload = {
            "model": machine.table,
            "id": record_id,
            "from": source,
            "to": transition.target,
            "actor": principal.actor,
            "inputs": plain,
        }
        # Plain INSERTs in the same transaction: neither row is a business record to audit
        # or check, and a unit of work costs three times as much per row.
        connection = session.connection()
        history = (
            machine.table,
            str(record_id),
            workflow.name,
            transition.name,
            source,
            transition.target,
            principal.actor,
            encoded,
            now,
            str(session.info.get("context") or ""),
        )
        _INSERT_HISTORY(connection, [history])
        _INSERT_EVENT(connection, [(step.event, json.dumps(payload), None, now, None)])
        if self._hook is not None and self._hook.accord_after_transition.get_hookimpls():
            arguments = {
                "workflow": workflow,
                "transition": transition,
                "model": machine.table,
                "record_id": record_id,
                "principal": principal,
                "inputs": MappingProxyType(plain),
            }
            after_commit(session, partial(self._after, arguments))

    def _write_state(
        self,
        session: Session,
        record: object,
        record_id: Any,
        machine: Machine,
        step: Step,
        write: StateWrite,
        principal: Principal,
        now: dt.datetime,
    ) -> None:
        """One UPDATE of the state and the version, narrowed to the rows the principal may
        change (the access table's condition, as the data layer applies it to every UPDATE
        statement), then the audit row of the state, in the caller's transaction."""
        table = machine.table
        condition: ColumnElement[bool] | None = None
        if not principal.is_system:
            policy = principal.policy
            if policy is None or not policy.decide(principal.roles, table, "write").allowed:
                raise AccessDeniedError(f"{principal} may not write {table}: no rule grants it")
            condition = policy.criteria(principal, machine.model, "write")
        statement = write.statement if condition is None else self._narrow(write, condition)
        target = step.transition.target
        version = getattr(record, write.version_key)
        parameters = {
            "w_key": record_id,
            "w_version": version,
            "w_state": target,
            "w_next": write.next_version(version),
        }
        connection = session.connection()
        result = connection.execute(statement, parameters)
        if write.refreshed or condition is not None:
            rows = result.all()
            matched, values = len(rows), tuple(rows[0]) if rows else ()
        else:
            matched, values = result.rowcount, ()
        if matched != 1:
            self._refused(session, record, record_id, step, write, principal, version)
        # As after a flush, the row as written must still be one the principal may change
        # (a scope on the state may exclude the target state): the UPDATE returned it.
        if condition is not None and not values[-1]:
            raise AccessDeniedError(
                f"{principal} may not write {label(record)}: in state {target!r} the "
                f"record is outside what its rules allow ({_write_scopes(principal, step)})"
            )
        if write.audited:
            old = getattr(record, write.state_key)
            changes = [(write.state_key, old, target)]
            record_changes(session, machine.model, str(record_id), changes, at=now)
        set_committed_value(record, write.state_key, target)
        set_committed_value(record, write.version_key, parameters["w_next"])
        refreshed = values[: len(write.refreshed)]
        for (key, _), value in zip(write.refreshed, refreshed, strict=True):
            set_committed_value(record, key, value)
        if write.stamped:
            sent = result.last_updated_params()
            assert not isinstance(sent, list)  # one set of parameters, one row
            for key, parameter in write.stamped:
                set_committed_value(record, key, sent[parameter])
        # The record now holds what its transaction wrote; if that transaction, or a
        # savepoint around the step, rolls back, the record is read again.
        expire_on_rollback(session, record)

    def _narrow(self, write: StateWrite, condition: ColumnElement[bool]) -> Update:
        key = (write.state_key, id(condition))
        found = self._narrowed.get(key)
        if found is not None and found[0] is condition:
            return found[1]
        if len(self._narrowed) > _STATEMENTS_KEPT:
            self._narrowed.clear()
        statement = write.narrowed(condition)
        self._narrowed[key] = (condition, statement)
        return statement

    def _refused(
        self,
        session: Session,
        record: object,
        record_id: Any,
        step: Step,
        write: StateWrite,
        principal: Principal,
        version: Any,
    ) -> None:
        """The UPDATE matched no row: the record changed meanwhile (a conflict), or it is
        not one the principal may change (refused as the data layer refuses it)."""
        row = (
            session.connection()
            .execute(select(write.version).where(write.key == record_id))
            .first()
        )
        if row is None or row[0] != version:
            raise TransitionConflictError(
                label(record),
                step.transition.name,
                "it was changed by someone else meanwhile; reload it",
            )
        raise AccessDeniedError(
            f"{principal} may not write {label(record)}: the record is outside what its "
            f"rules allow ({_write_scopes(principal, step)})"
        )

    def _after(self, arguments: Mapping[str, Any]) -> None:
        """Each ``accord_after_transition`` on its own, in pluggy's call order: one that
        fails is logged and does not keep the others from running."""
        assert self._hook is not None
        for impl in reversed(self._hook.accord_after_transition.get_hookimpls()):
            if impl.wrapper or impl.hookwrapper:
                continue  # refused by from_plugins; one registered later has nothing to wrap
            try:
                impl.function(*(arguments[name] for name in impl.argnames))
            except Exception:
                log.exception(
                    "accord_after_transition of %r failed; the transition stays committed",
                    impl.plugin_name,
                )

    def available(self, session: Session, record: object) -> list[Available]:
        """The transitions ``record`` can take from its state, each saying whether the
        session's actor may take it now, and if not, why; guards and vetoes are asked
        with no inputs. A record of no workflow has none."""
        principal = principal_of(session)
        found: list[Available] = []
        writable: bool | None = None
        for machine in self._by_model.get(type(record), []):
            current = getattr(record, machine.workflow.state_field)
            for step in machine.from_state.get(current, ()):
                reason: str | None
                if principal is None:
                    reason = "this session has no principal"
                else:
                    obstacle = self._obstacle(
                        session, record, step, principal, NO_INPUTS, check_inputs=False
                    )
                    reason = obstacle[1] if obstacle else None
                    if reason is None:
                        if writable is None:
                            writable = may_write(session, principal, record, machine)
                        if not writable:
                            reason = f"{principal} may not change this record"
                found.append(
                    Available(
                        workflow=machine.workflow.name,
                        name=step.transition.name,
                        target=step.transition.target,
                        allowed=reason is None,
                        reason=reason,
                        required_inputs=step.transition.required_inputs,
                    )
                )
        return found

    def history(self, session: Session, record: object) -> list[Row[Any]]:
        """The transitions ``record`` went through, oldest first (rows with the columns of
        ``TransitionRecord``). The history is the record's: whoever may read the record may
        read it, and nobody else; the table itself is open to no role but the admin."""
        identity = inspect(record).identity
        if identity is None:
            return []
        mapper = inspect(type(record))
        key = getattr(mapper.class_, mapper.get_property_by_column(mapper.primary_key[0]).key)
        if session.scalar(select(key).where(key == identity[0])) is None:  # access-filtered
            raise AccessDeniedError(
                f"{principal_of(session) or 'a session without a principal'} may not read "
                f"the history of {table_of(record)} #{identity[0]}"
            )
        table = cast(Table, TransitionRecord.__table__)
        history = table.c
        query = (
            select(table)
            .where(history.model == table_of(record), history.record_id == str(identity[0]))
            .order_by(history.at, history.id)
        )
        return list(session.connection().execute(query))

    # --- checks ---------------------------------------------------------------------------

    def _obstacle(
        self,
        session: Session,
        record: object,
        step: Step,
        principal: Principal,
        inputs: Mapping[str, Any],
        *,
        check_inputs: bool,
    ) -> tuple[type[TransitionError], str] | None:
        """What stops ``principal`` from taking ``step`` now: an error type and the reason."""
        workflow, transition = step.workflow, step.transition
        current = getattr(record, workflow.state_field)
        if current not in transition.source:
            starts = " or ".join(repr(state) for state in transition.source)
            return InvalidTransitionError, f"it is {current!r}, and this step starts from {starts}"
        if step.permission is not None and not principal.can(step.permission):
            return TransitionNotAllowedError, (
                f"{principal} lacks the permission {step.permission!r}"
            )
        requester = transition.requester_field
        if (
            requester is not None
            and not step.allow_self_approval
            and principal.user_id is not None
            and getattr(record, requester) == principal.user_id
        ):
            return TransitionNotAllowedError, (
                f"{principal} asked for it and may not approve their own request; another user must"
            )
        if check_inputs:
            missing = [key for key in transition.required_inputs if blank(inputs.get(key))]
            if missing:
                names = ", ".join(repr(key) for key in missing)
                return MissingInputError, f"give {names} (missing or blank)"
        for guard in transition.guards:
            reason = guard.check(session, record, inputs)
            if reason:
                return TransitionBlockedError, reason
        if self._hook is not None:
            vetoes = self._hook.accord_before_transition(
                session=session,
                record=record,
                workflow=workflow,
                transition=transition,
                principal=principal,
                inputs=inputs,
            )
            for reason in vetoes:
                if reason:
                    return TransitionBlockedError, str(reason)
        return None

    def _machines(self, record: object, name: str) -> list[Machine]:
        machines = self._by_model.get(type(record))
        if not machines:
            known = ", ".join(sorted({machine.table for machine in self.machines.values()}))
            raise InvalidTransitionError(
                label(record),
                name,
                f"{table_of(record)} has no workflow; models with one: {known or 'none'}",
            )
        return machines

    def _step(self, record: object, name: str) -> tuple[Machine, Step]:
        found = self._steps.get((type(record), name))
        if found is not None:
            return found
        machines = self._machines(record, name)
        known = ", ".join(step for machine in machines for step in machine.steps)
        workflows = ", ".join(repr(machine.workflow.name) for machine in machines)
        raise InvalidTransitionError(
            label(record), name, f"no such transition in {workflows}; known: {known}"
        )


# --- small helpers --------------------------------------------------------------------------------


def may_write(session: Session, principal: Principal, record: object, machine: Machine) -> bool:
    """Whether the access table lets ``principal`` change this row (DESIGN rule 3: asked of
    the data layer, never re-implemented here)."""
    if principal.is_system:
        return True
    policy = principal.policy
    if policy is None or not policy.decide(principal.roles, machine.table, "write").allowed:
        return False
    condition = policy.criteria(principal, machine.model, "write")
    if condition is None:
        return True
    key = inspect(machine.model).primary_key[0]
    identity = inspect(record).identity
    if identity is None:
        return True  # a new record: the create rules decided when it was added
    query = select(key).where(key == identity[0], condition)
    return session.connection().execute(query).first() is not None


def _write_scopes(principal: Principal, step: Step) -> str:
    """The rules that let ``principal`` write the step's model, as access errors name them."""
    assert principal.policy is not None
    decision = principal.policy.decide(principal.roles, step.workflow.model, "write")
    return ", ".join(f"{rule.name} ({rule.scope})" for rule in decision.grants)


def blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set | frozenset):
        return not value
    return False
