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
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    String,
    Table,
    Text,
    Update,
    bindparam,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Mapped, Mapper, Session, SessionTransaction, declared_attr, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from accord.core.access import AccessDeniedError, Principal, principal_of
from accord.core.audit import UNKNOWN_ACTOR, AuditEntry, is_audited
from accord.core.contributions import Transition, Workflow
from accord.core.db import Base, intpk, utcnow
from accord.core.errors import AccordError, PluginError, SettingsError
from accord.core.events import OutboxEvent

if TYPE_CHECKING:
    from pluggy import HookRelay

    from accord.core.manager import AccordPluginManager
    from accord.core.settings import TransitionSetting

log = logging.getLogger("accord.workflow")
R = TypeVar("R")
NO_INPUTS: Mapping[str, Any] = MappingProxyType({})


class TransitionRecord(Base):
    """One transition a record went through: who moved it from which state to which, when,
    and with what inputs (a loss reason, an approval note). Append-only."""

    __tablename__ = "core_workflow_history"
    __table_args__ = (Index("ix_core_workflow_history_record", "model", "record_id", "at", "id"),)
    __audited__ = False  # the history is itself the record of the change

    id: Mapped[intpk]
    model: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[str] = mapped_column(String(120))
    workflow: Mapped[str] = mapped_column(String(120))
    transition: Mapped[str] = mapped_column(String(80))
    from_state: Mapped[str] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    context: Mapped[str] = mapped_column(String(120), default="")


class WorkflowMixin:
    """The columns of a workflow model: its ``state`` (indexed, lists filter on it) and a
    ``version`` counter that SQLAlchemy checks and bumps on every UPDATE, so that of two
    users moving the same record at once, only the first succeeds."""

    state: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 (declared_attr gets the class)
        # Declarative swaps the mixin's column for the model's own copy.
        return {"version_id_col": cls.version}


# --- errors ---------------------------------------------------------------------------------


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


# --- what the engine knows --------------------------------------------------------------


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


@dataclass(frozen=True)
class Step:
    """A transition as this configuration runs it: settings applied, event name made."""

    workflow: Workflow
    transition: Transition
    permission: str | None
    allow_self_approval: bool
    event: str


@dataclass(frozen=True)
class Machine:
    """A workflow bound to its model, with its steps by name and by source state."""

    workflow: Workflow
    model: type[Any]
    table: str
    steps: dict[str, Step]
    from_state: dict[str, tuple[Step, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class StateWrite:
    """How a transition writes one workflow's state: one UPDATE of the state and the
    version, matched on the primary key and the version the record was loaded with."""

    table: Table
    key: ColumnElement[Any]
    state_key: str
    version: ColumnElement[Any]
    version_key: str
    next_version: Callable[[Any], Any]
    stamped: tuple[tuple[str, str], ...]
    """Columns that SQLAlchemy sets on every UPDATE from Python (``updated_at``): their
    attribute, and their parameter in the executed statement."""
    refreshed: tuple[tuple[str, Column[Any]], ...]
    """Columns the database sets on every UPDATE: their attribute, and the column that
    the statement returns."""
    unnarrowed: Update
    """The UPDATE, without RETURNING."""
    statement: Update
    """The UPDATE for a principal who may change every row: it returns ``refreshed``."""
    audited: bool

    def narrowed(self, condition: ColumnElement[bool]) -> Update:
        """The UPDATE of a row that ``condition`` selects, returning ``refreshed`` and
        whether the row as written still meets ``condition``."""
        columns = [column for _, column in self.refreshed]
        return self.unnarrowed.where(condition).returning(*columns, condition.label("writable"))

    @classmethod
    def of(cls, machine: Machine) -> StateWrite:
        """For a model ``check_workflow`` accepted: one table, one key, a version that
        SQLAlchemy counts."""
        mapper: Mapper[Any] = inspect(machine.model)
        version, generator = mapper.version_id_col, mapper.version_id_generator
        table = mapper.local_table
        # check_workflow refused every other model
        assert version is not None
        assert callable(generator)
        assert isinstance(table, Table)
        key = mapper.primary_key[0]
        state = mapper.columns[machine.workflow.state_field]
        stamped, refreshed = [], []
        for column in table.columns:
            attribute = mapper.get_property_by_column(column).key
            default = column.onupdate
            if default is not None and (default.is_scalar or default.is_callable):
                stamped.append((attribute, column.key))
            elif default is not None or column.server_onupdate is not None:
                refreshed.append((attribute, column))
        unnarrowed = (
            update(table)
            .where(key == bindparam("w_key"), version == bindparam("w_version"))
            .values({state: bindparam("w_state"), version: bindparam("w_next")})
        )
        statement = unnarrowed
        if refreshed:
            statement = statement.returning(*(column for _, column in refreshed))
        return cls(
            table=table,
            key=key,
            state_key=machine.workflow.state_field,
            version=version,
            version_key=mapper.get_property_by_column(version).key,
            next_version=generator,
            stamped=tuple(stamped),
            refreshed=tuple(refreshed),
            unnarrowed=unnarrowed,
            statement=statement,
            audited=is_audited(machine.model),
        )


_PENDING = "accord_workflow_after_commit"
_INSERT_HISTORY = insert(cast(Table, TransitionRecord.__table__))
_INSERT_EVENT = insert(cast(Table, OutboxEvent.__table__))
_INSERT_AUDIT = insert(cast(Table, AuditEntry.__table__))
_STATEMENTS_KEPT = 1_000
"""UPDATE statements kept per access condition (one per principal and model); past it the
cache starts again."""


def outbox_row(name: str, payload: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The outbox row ``accord.core.events.emit`` would add, as INSERT parameters."""
    return {
        "name": name,
        "payload": json.dumps(payload),
        "key": None,
        "created_at": now,
        "dispatched_at": None,
    }


class WorkflowEngine:
    """Runs the workflows of one configuration: build it with ``from_plugins(pm)`` (a
    runtime has one as ``runtime.workflows``)."""

    def __init__(self, machines: Sequence[Machine], hook: HookRelay | None = None) -> None:
        self.machines = {machine.workflow.name: machine for machine in machines}
        self._hook = hook
        self._by_model: dict[type[Any], list[Machine]] = {}
        self._steps: dict[tuple[type[Any], str], tuple[Machine, Step]] = {}
        self._writes = {name: StateWrite.of(machine) for name, machine in self.machines.items()}
        # An UPDATE narrowed by an access condition, by the condition's id (the policy keeps
        # one condition object per principal, model and operation).
        self._narrowed: dict[int, tuple[ColumnElement[bool], Update]] = {}
        for machine in machines:
            self._by_model.setdefault(machine.model, []).append(machine)
            for name, step in machine.steps.items():
                self._steps[(machine.model, name)] = (machine, step)

    @classmethod
    def from_plugins(cls, pm: AccordPluginManager) -> WorkflowEngine:
        """The plugins' workflows with ``accord.toml``'s ``[workflows]`` applied, checked
        now: a mistake fails here, naming the plugin or the setting."""
        settings = pm.settings
        models = {
            str(model.__tablename__): model
            for model in pm.collect("accord_models")
            if isinstance(model, type) and hasattr(model, "__tablename__")
        }
        permissions = {permission.name for permission in pm.collect("accord_permissions")}
        owners = pm.owned_tables()
        config = str(settings.config)
        machines: list[Machine] = []
        for owner, workflow in pm.collect_with_owner("accord_workflows"):
            check_workflow(owner, workflow, models, permissions, owners)
            overrides = settings.workflows.get(workflow.name, {})
            machines.append(bind(workflow, models[workflow.model], overrides, permissions, config))
        declared = {machine.workflow.name for machine in machines}
        for name in settings.workflows:
            if name not in declared:
                raise SettingsError(
                    f"{config}, [workflows.{_toml(name)}]: no plugin declares the workflow "
                    f"{name!r}; known: {', '.join(sorted(declared)) or 'none'}"
                )
        check_models(machines)
        for impl in pm.hook.accord_after_transition.get_hookimpls():
            if impl.wrapper or impl.hookwrapper:
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: accord_after_transition cannot be a "
                    "wrapper; its implementations run one by one, so that one failing "
                    "does not stop the others"
                )
        return cls(machines, pm.hook)

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
        connection.execute(
            _INSERT_HISTORY,
            {
                "model": machine.table,
                "record_id": str(record_id),
                "workflow": workflow.name,
                "transition": transition.name,
                "from_state": source,
                "to_state": transition.target,
                "actor": principal.actor,
                "inputs": encoded,
                "at": now,
                "context": str(session.info.get("context") or ""),
            },
        )
        connection.execute(_INSERT_EVENT, outbox_row(step.event, payload, now))
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
            connection.execute(
                _INSERT_AUDIT,
                {
                    "model": write.table.name,
                    "record_id": str(record_id),
                    "field": write.state_key,
                    "old_value": json.dumps(getattr(record, write.state_key), ensure_ascii=False),
                    "new_value": json.dumps(target, ensure_ascii=False),
                    "action": "update",
                    "actor": str(session.info.get("actor") or UNKNOWN_ACTOR),
                    "at": now,
                    "context": str(session.info.get("context") or ""),
                },
            )
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
        _register(session, None, partial(_expire, session, record))

    def _narrow(self, write: StateWrite, condition: ColumnElement[bool]) -> Update:
        found = self._narrowed.get(id(condition))
        if found is not None and found[0] is condition:
            return found[1]
        if len(self._narrowed) > _STATEMENTS_KEPT:
            self._narrowed.clear()
        statement = write.narrowed(condition)
        self._narrowed[id(condition)] = (condition, statement)
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

    def history(self, session: Session, record: object) -> list[TransitionRecord]:
        """The transitions ``record`` went through, oldest first."""
        identity = inspect(record).identity
        if identity is None:
            return []
        query = (
            select(TransitionRecord)
            .where(
                TransitionRecord.model == table_of(record),
                TransitionRecord.record_id == str(identity[0]),
            )
            .order_by(TransitionRecord.at, TransitionRecord.id)
        )
        return list(session.scalars(query))

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


# --- after commit ---------------------------------------------------------------------------


def after_commit(session: Session, call: Callable[[], object]) -> None:
    """Run ``call`` once the session's transaction commits; forget it if the transaction,
    or the savepoint it was registered in, rolls back. An exception is logged."""
    _register(session, call, None)


_LISTENING: weakref.WeakSet[Any] = weakref.WeakSet()
"""The session classes (and bare sessions) whose commits and rollbacks are followed."""

Pending = tuple[SessionTransaction, Callable[[], object] | None, Callable[[], object] | None]
"""The transaction something was done in, what to run once it commits, and what to run if
it (or a savepoint around it) rolls back."""


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


# --- building -------------------------------------------------------------------------------


def check_workflow(
    owner: str,
    workflow: Workflow,
    models: Mapping[str, type[Any]],
    permissions: set[str],
    owners: Mapping[str, str],
) -> None:
    """Refuse a malformed workflow, naming its plugin and what to change."""

    def fail(reason: str) -> None:
        raise PluginError(f"plugin {owner!r}, workflow {workflow.name!r}: {reason}")

    model = models.get(workflow.model)
    if model is None:
        fail(f"unknown model {workflow.model!r}; known: {', '.join(sorted(models))}")
        return
    if owners.get(workflow.model) != owner:
        fail(
            f"model {workflow.model!r} belongs to {owners.get(workflow.model)!r}; a plugin "
            "runs workflows over its own tables only (DESIGN rule 2)"
        )
    mapper: Mapper[Any] = inspect(model)
    columns = set(mapper.column_attrs.keys())
    if len(mapper.primary_key) != 1:
        fail(f"model {workflow.model!r} needs a single-column primary key")
    if workflow.state_field not in columns:
        fail(f"model {workflow.model!r} has no state column {workflow.state_field!r}")
    if mapper.version_id_col is None:
        fail(
            f"model {workflow.model!r} has no version column; add accord.api.WorkflowMixin "
            "to it (an integer `version` used as version_id_col), so that two users "
            "cannot both move the same record"
        )
    elif mapper.version_id_generator is False:
        fail(
            f"model {workflow.model!r} has its version set by the database "
            "(version_id_generator=False); a transition sets the next version itself: "
            "drop the setting, as accord.api.WorkflowMixin does"
        )
    if not isinstance(mapper.local_table, Table) or mapper.inherits is not None:
        fail(f"model {workflow.model!r} must be mapped to one table of its own")
    states = workflow.states
    if isinstance(states, str) or not states or len(set(states)) != len(states):
        fail(f"states must be a tuple of distinct names, got {states!r}")
    if workflow.initial not in states:
        fail(f"initial state {workflow.initial!r} is not among states {states!r}")
    seen: set[str] = set()
    for transition in workflow.transitions:
        where = f"transition {transition.name!r}"
        if transition.name in seen:
            fail(f"{where} is declared twice; transition names are unique per workflow")
        seen.add(transition.name)
        if isinstance(transition.source, str) or not transition.source:
            fail(f"{where}: source must be a tuple of states, e.g. ({workflow.initial!r},)")
        for state in (*transition.source, transition.target):
            if state not in states:
                fail(f"{where}: state {state!r} is not among states {states!r}")
        if transition.permission is not None and transition.permission not in permissions:
            fail(f"{where}: unknown permission {transition.permission!r}")
        if transition.requester_field is not None and transition.requester_field not in columns:
            fail(f"{where}: model {workflow.model!r} has no column {transition.requester_field!r}")
        if isinstance(transition.required_inputs, str):
            example = transition.required_inputs
            fail(f"{where}: required_inputs must be a tuple of names, e.g. ({example!r},)")


def bind(
    workflow: Workflow,
    model: type[Any],
    overrides: Mapping[str, TransitionSetting],
    permissions: set[str],
    config: str,
) -> Machine:
    """The workflow as this configuration runs it, with its ``[workflows]`` settings."""
    by_name = {transition.name: transition for transition in workflow.transitions}
    section = f"workflows.{_toml(workflow.name)}"
    for name in overrides:
        if name not in by_name:
            raise SettingsError(
                f"{config}, [{section}.{_toml(name)}]: workflow {workflow.name!r} has no "
                f"transition {name!r}; known: {', '.join(by_name)}"
            )
    steps: dict[str, Step] = {}
    for transition in workflow.transitions:
        setting = overrides.get(transition.name)
        permission = transition.permission
        allow_self = transition.allow_self_approval
        where = f"{config}, [{section}.{_toml(transition.name)}]"
        if setting is not None and setting.permission is not None:
            if setting.permission not in permissions:
                raise SettingsError(
                    f"{where} permission: unknown permission {setting.permission!r}; "
                    f"known: {', '.join(sorted(permissions))}"
                )
            permission = setting.permission
        if setting is not None and setting.allow_self_approval is not None:
            if transition.requester_field is None:
                raise SettingsError(
                    f"{where} allow_self_approval: this transition records no requester, "
                    "so there is no self-approval to allow or refuse; remove the key"
                )
            allow_self = setting.allow_self_approval
        steps[transition.name] = Step(
            workflow=workflow,
            transition=transition,
            permission=permission,
            allow_self_approval=allow_self,
            event=f"{workflow.name}.{transition.name}",
        )
    from_state: dict[str, list[Step]] = {}
    for step in steps.values():
        for state in step.transition.source:
            from_state.setdefault(state, []).append(step)
    return Machine(
        workflow=workflow,
        model=model,
        table=str(model.__tablename__),
        steps=steps,
        from_state={state: tuple(found) for state, found in from_state.items()},
    )


def check_models(machines: Sequence[Machine]) -> None:
    """Several workflows may run over one model, on distinct state columns, with distinct
    transition names (``transition(record, name)`` must know which one is meant)."""
    by_model: dict[type[Any], list[Machine]] = {}
    for machine in machines:
        by_model.setdefault(machine.model, []).append(machine)
    for table_machines in by_model.values():
        fields: dict[str, str] = {}
        names: dict[str, str] = {}
        for machine in table_machines:
            workflow = machine.workflow
            other = fields.setdefault(workflow.state_field, workflow.name)
            if other != workflow.name:
                raise PluginError(
                    f"workflows {other!r} and {workflow.name!r} both use "
                    f"{machine.table}.{workflow.state_field}; give each its own state column"
                )
            for name in machine.steps:
                other = names.setdefault(name, workflow.name)
                if other != workflow.name:
                    raise PluginError(
                        f"workflows {other!r} and {workflow.name!r} of {machine.table} both "
                        f"declare the transition {name!r}; rename one"
                    )


# --- small helpers --------------------------------------------------------------------------


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


def table_of(record: object) -> str:
    return str(getattr(type(record), "__tablename__", type(record).__name__))


def label(record: object) -> str:
    """How messages name a record: ``dummy_note #12``."""
    state = inspect(record, raiseerr=False)
    identity = state.identity if state is not None else None
    if identity is None:
        return f"a new {table_of(record)}"
    return f"{table_of(record)} #{','.join(str(part) for part in identity)}"


def _toml(name: str) -> str:
    """A key as accord.toml spells it: quoted when it holds a dot or other punctuation."""
    bare = name.replace("_", "").replace("-", "").isalnum()
    return name if bare else f'"{name}"'


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
