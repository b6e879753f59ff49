"""Who may see and change which rows (DESIGN rule 3): principals, the access table, scopes,
and their enforcement in the session, once, for every view, export, job and API call.

The access table is a list of rows ``(model, operations, role, scope)``. Rows with a role
*grant*: a principal may do an operation on the rows that any of its grants' scopes select.
Rows without a role *restrict*: every principal's rows must also satisfy each of them. No
grant means no access. The scopes are SQL criteria, so a list, a count, a relationship load
and a bulk update are filtered by the same expression, in the database.

A session knows its principal (``Database.session(principal=...)``); a session without one
cannot read or write any protected model. The system principal (jobs, migrations, the
command line) passes every check and is named in the audit log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

from sqlalchemy import ColumnElement, Select, and_, event, false, inspect, or_, select
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

from accord.core.contributions import AccessRule, Operation, Scope
from accord.core.contributions import Role as RoleSpec
from accord.core.db import Base
from accord.core.errors import AccordError, PluginError, SettingsError

if TYPE_CHECKING:
    from accord.core.manager import AccordPluginManager
    from accord.core.security import User

OPERATIONS: Final[tuple[Operation, ...]] = get_args(Operation)
EVERYONE: Final = "*"
"""As a rule's role: every signed-in user, whatever their roles."""
EVERY_MODEL: Final = "*"
"""As a rule's model: every protected model."""
BUILTIN_SCOPES: Final = ("all", "own", "team", "subtree")
VIA: Final = "via:"
"""``via:<column>``: the rows whose parent (the row ``<column>`` points to) the principal may
read (to read them) or write (to change them); an address follows its partner."""


class AccessDeniedError(AccordError):
    """A principal tried to read or change rows its access rows do not allow."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user with roles and a place in the team tree, or the system."""

    kind: Literal["user", "system"]
    name: str
    user_id: int | None = None
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    team_id: int | None = None
    team_ids: frozenset[int] = frozenset()
    """The principal's team and every team below it."""
    policy: AccessPolicy | None = field(default=None, compare=False, repr=False)

    @classmethod
    def system(cls, name: str) -> Principal:
        """The principal of jobs, migrations and commands: passes every check, and is
        named in the audit log as ``system:<name>``."""
        return cls(kind="system", name=name)

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        if self.kind == "system":
            return f"system:{self.name}"
        return f"user:{self.user_id}:{self.name}"

    def can(self, permission: str) -> bool:
        """Whether the principal holds ``permission`` through one of its roles."""
        return self.is_system or permission in self.permissions

    def __str__(self) -> str:
        if self.is_system:
            return f"system principal {self.name!r}"
        roles = ", ".join(sorted(self.roles)) or "no roles"
        return f"user {self.name!r} ({roles})"


def is_protected(model: type[Any]) -> bool:
    """Whether rows of ``model`` are subject to the access table; kernel bookkeeping (the
    outbox, the job queue) sets ``__access__ = False``."""
    return bool(getattr(model, "__access__", True))


def principal_of(session: Session) -> Principal | None:
    principal = session.info.get("principal")
    return principal if isinstance(principal, Principal) else None


def require_principal(session: Session) -> Principal:
    principal = principal_of(session)
    if principal is None:
        raise AccessDeniedError(
            "this session has no principal; open it with db.session(principal=...) "
            "(Principal.system('<name>') for jobs and commands)"
        )
    return principal


@dataclass(frozen=True)
class Decision:
    """What the access table says for one principal, model and operation."""

    grants: tuple[AccessRule, ...]
    restrictions: tuple[AccessRule, ...]

    @property
    def allowed(self) -> bool:
        return bool(self.grants)

    @property
    def unrestricted(self) -> bool:
        return any(rule.scope == "all" for rule in self.grants) and all(
            rule.scope == "all" for rule in self.restrictions
        )


class AccessPolicy:
    """The access table, the named scopes and the roles of one configuration."""

    def __init__(
        self,
        rules: Sequence[AccessRule],
        scopes: Sequence[Scope],
        roles: Sequence[RoleSpec],
        models: Mapping[str, type[Any]],
    ) -> None:
        self.rules = tuple(rules)
        self.scopes = {scope.name: scope for scope in scopes}
        self.roles = {role.name: role for role in roles}
        self.models = dict(models)
        self._decisions: dict[tuple[frozenset[str], str, Operation], Decision] = {}
        # SQL expressions are immutable: built once per principal, reused by every session.
        self._conditions: dict[tuple[Principal, str, Operation], ColumnElement[bool] | None] = {}
        self._read_options: dict[tuple[Principal, int], tuple[ORMOption, ...]] = {}
        for rule in self.rules:
            self._check_rule(rule)

    # --- building -------------------------------------------------------------------------

    @classmethod
    def from_plugins(cls, pm: AccordPluginManager) -> AccessPolicy:
        """The plugins' rows, scopes and roles, with ``accord.toml``'s changes applied."""
        settings = pm.settings
        models = {
            str(model.__tablename__): model
            for model in pm.collect("accord_models")
            if isinstance(model, type) and hasattr(model, "__tablename__") and is_protected(model)
        }
        permissions = {permission.name for permission in pm.collect("accord_permissions")}
        roles = {role.name: role for role in pm.collect("accord_roles")}
        for owner, granted in pm.collect_with_owner("accord_permissions"):
            for name in granted.roles:
                held = roles.get(name)
                if held is None:
                    raise PluginError(
                        f"plugin {owner!r}: permission {granted.name!r} is given to the role "
                        f"{name!r}, which no plugin declares; known: {', '.join(sorted(roles))}"
                    )
                if granted.name not in held.permissions:
                    roles[name] = RoleSpec(
                        held.name, held.title, permissions=(*held.permissions, granted.name)
                    )
        where = f"{settings.config}"
        for name, change in settings.roles.items():
            for permission in change.permissions or ():
                if permission not in permissions:
                    raise SettingsError(
                        f"{where}, [roles.{name}] permissions: unknown permission "
                        f"{permission!r}; known: {', '.join(sorted(permissions))}"
                    )
            old = roles.get(name)
            if old is None and not change.title:
                raise SettingsError(f"{where}, [roles.{name}] title: a new role needs a title")
            roles[name] = RoleSpec(
                name,
                change.title or (old.title if old else name),
                permissions=tuple(
                    change.permissions
                    if change.permissions is not None
                    else (old.permissions if old else ())
                ),
            )
        rules = {rule.name: rule for rule in pm.collect("accord_access_rules")}
        for name, override in settings.access.items():
            old_rule = rules.get(name)
            given = override.model_fields_set
            if old_rule is None and not {"model", "operations"} <= given:
                raise SettingsError(
                    f"{where}, [access.{_quoted(name)}]: no plugin declares this rule; "
                    "a new rule needs model and operations"
                )
            base = old_rule or AccessRule(name, "", ())
            rules[name] = dataclasses.replace(
                base, **{key: getattr(override, key) for key in given}
            )
        policy_rules = list(rules.values())
        try:
            return cls(policy_rules, pm.collect("accord_scopes"), list(roles.values()), models)
        except AccessConfigError as error:
            if error.rule in settings.access:
                raise SettingsError(
                    f"{where}, [access.{_quoted(error.rule)}] {error.key}: {error.reason}"
                ) from None
            raise

    def _check_rule(self, rule: AccessRule) -> None:
        def fail(key: str, reason: str) -> None:
            raise AccessConfigError(rule.name, key, reason)

        if rule.model != EVERY_MODEL and rule.model not in self.models:
            fail("model", f"unknown model {rule.model!r}; known: {', '.join(sorted(self.models))}")
        for operation in rule.operations:
            if operation not in OPERATIONS:
                fail("operations", f"unknown operation {operation!r}; use {', '.join(OPERATIONS)}")
        if rule.role is not None and rule.role != EVERYONE and rule.role not in self.roles:
            fail("role", f"unknown role {rule.role!r}; known: {', '.join(sorted(self.roles))}")
        targets = self.models.values() if rule.model == EVERY_MODEL else [self.models[rule.model]]
        for model in targets:
            problem = self._scope_problem(model, rule.scope)
            if problem:
                fail("scope", problem)

    def _scope_problem(self, model: type[Any], scope: str) -> str | None:
        table = model.__tablename__
        if scope == "all" or scope in self.scopes:
            return None
        if scope == "own":
            column = owner_column(model)
            return None if hasattr(model, column) else f"{table} has no owner column {column!r}"
        if scope in ("team", "subtree"):
            column = team_column(model)
            return None if hasattr(model, column) else f"{table} has no team column {column!r}"
        if scope.startswith(VIA):
            column = scope.removeprefix(VIA)
            if self._parent_of(model, column) is None:
                return f"{table}.{column} is not a foreign key to a protected model"
            return None
        known = ", ".join([*BUILTIN_SCOPES, "via:<column>", *sorted(self.scopes)])
        return f"unknown scope {scope!r}; known: {known}"

    def _parent_of(self, model: type[Any], column: str) -> type[Any] | None:
        attribute = getattr(model, column, None)
        table_column = getattr(attribute, "expression", None)
        for key in getattr(table_column, "foreign_keys", ()):
            for candidate in self.models.values():
                if key.column.table is candidate.__table__:
                    return candidate
        return None

    # --- principals -----------------------------------------------------------------------

    def principal_for(self, session: Session, user: User) -> Principal:
        """The principal of a signed-in ``user``: roles, their permissions, team subtree."""
        from accord.core.security import Team, UserRole

        connection = session.connection()
        roles = frozenset(
            connection.scalars(
                select(UserRole.__table__.c.role_name).where(
                    UserRole.__table__.c.user_id == user.id
                )
            )
        )
        team_ids: frozenset[int] = frozenset()
        if user.team_id is not None:
            teams = Team.__table__.c
            path = connection.scalar(select(teams.path).where(teams.id == user.team_id))
            if path is not None:
                team_ids = frozenset(
                    connection.scalars(select(teams.id).where(teams.path.startswith(path)))
                )
        return self.principal(
            user_id=user.id, login=user.login, roles=roles, team_id=user.team_id, team_ids=team_ids
        )

    def principal(
        self,
        *,
        user_id: int,
        login: str,
        roles: Iterable[str],
        team_id: int | None = None,
        team_ids: Iterable[int] = (),
    ) -> Principal:
        held = frozenset(roles)
        permissions = frozenset(
            permission
            for name in held
            if name in self.roles
            for permission in self.roles[name].permissions
        )
        return Principal(
            kind="user",
            name=login,
            user_id=user_id,
            roles=held,
            permissions=permissions,
            team_id=team_id,
            team_ids=frozenset(team_ids) | ({team_id} if team_id is not None else set()),
            policy=self,
        )

    # --- decisions ------------------------------------------------------------------------

    def decide(self, roles: frozenset[str], table: str, operation: Operation) -> Decision:
        key = (roles, table, operation)
        found = self._decisions.get(key)
        if found is None:
            applies = [
                rule
                for rule in self.rules
                if rule.model in (table, EVERY_MODEL) and operation in rule.operations
            ]
            found = Decision(
                grants=tuple(
                    rule
                    for rule in applies
                    if rule.role is not None and (rule.role == EVERYONE or rule.role in roles)
                ),
                restrictions=tuple(rule for rule in applies if rule.role is None),
            )
            self._decisions[key] = found
        return found

    def criteria(
        self, principal: Principal, model: type[Any], operation: Operation
    ) -> ColumnElement[bool] | None:
        """The SQL condition selecting the rows of ``model`` that ``principal`` may do
        ``operation`` on; ``None`` when it may do it on every row."""
        key = (principal, model.__tablename__, operation)
        try:
            return self._conditions[key]
        except KeyError:
            pass
        if len(self._conditions) > _CACHE_LIMIT:
            self._conditions.clear()
        condition = self._conditions[key] = self._criteria(principal, model, operation, depth=0)
        return condition

    def read_options(self, principal: Principal) -> tuple[ORMOption, ...]:
        """The loader criteria that filter every protected model for ``principal``."""
        mappers = protected_mappers()
        key = (principal, len(mappers))  # a model declared later makes a new entry
        found = self._read_options.get(key)
        if found is None:
            if len(self._read_options) > _CACHE_LIMIT:
                self._read_options.clear()
            options = []
            for mapper in mappers:
                condition = self.criteria(principal, mapper.class_, "read")
                if condition is not None:
                    options.append(
                        with_loader_criteria(mapper.class_, condition, include_aliases=True)
                    )
            found = self._read_options[key] = tuple(options)
        return found

    def _criteria(
        self, principal: Principal, model: type[Any], operation: Operation, depth: int
    ) -> ColumnElement[bool] | None:
        if principal.is_system:
            return None
        decision = self.decide(principal.roles, model.__tablename__, operation)
        if not decision.allowed:
            return false()
        if decision.unrestricted:
            return None
        granted: list[ColumnElement[bool]] = []
        for rule in decision.grants:
            condition = self._scope(principal, model, rule.scope, operation, depth)
            if condition is None:
                granted = []
                break
            granted.append(condition)
        conditions = [or_(*granted)] if granted else []
        for rule in decision.restrictions:
            condition = self._scope(principal, model, rule.scope, operation, depth)
            if condition is not None:
                conditions.append(condition)
        if not conditions:
            return None
        return and_(*conditions) if len(conditions) > 1 else conditions[0]

    def _scope(
        self, principal: Principal, model: type[Any], scope: str, operation: Operation, depth: int
    ) -> ColumnElement[bool] | None:
        if scope == "all":
            return None
        if scope == "own":
            column = getattr(model, owner_column(model))
            return cast(ColumnElement[bool], column == principal.user_id)
        if scope == "team":
            column = getattr(model, team_column(model))
            if principal.team_id is None:
                return false()
            return cast(ColumnElement[bool], column == principal.team_id)
        if scope == "subtree":
            column = getattr(model, team_column(model))
            if not principal.team_ids:
                return false()
            return cast(ColumnElement[bool], column.in_(sorted(principal.team_ids)))
        if scope.startswith(VIA):
            if depth > 8:
                raise AccordError(f"{model.__tablename__}: scope {scope!r} loops")
            column_name = scope.removeprefix(VIA)
            parent = self._parent_of(model, column_name)
            assert parent is not None  # checked when the rule was read
            # Reading a child needs its parent readable; changing it, the parent writable.
            parent_operation: Operation = "read" if operation == "read" else "write"
            condition = self._criteria(principal, parent, parent_operation, depth + 1)
            if condition is None:
                return None
            key = inspect(parent).primary_key[0]
            parents: Select[Any] = select(key).where(condition)
            return cast(ColumnElement[bool], getattr(model, column_name).in_(parents))
        return self.scopes[scope].criteria(model, principal)

    # --- explaining -----------------------------------------------------------------------

    def explain_role(self, role: str) -> list[tuple[str, Operation, str, tuple[AccessRule, ...]]]:
        """For ``accord roles show``: per model and operation, what a holder of ``role``
        alone may do (a scope summary) and the rows that decide it."""
        if role not in self.roles:
            raise AccordError(f"unknown role {role!r}; known: {', '.join(sorted(self.roles))}")
        lines = []
        for table in sorted(self.models):
            for operation in OPERATIONS:
                decision = self.decide(frozenset({role}), table, operation)
                if not decision.allowed:
                    lines.append((table, operation, "no access", decision.restrictions))
                    continue
                scopes = sorted({rule.scope for rule in decision.grants})
                summary = "all" if "all" in scopes else " or ".join(scopes)
                restricted = [rule.scope for rule in decision.restrictions if rule.scope != "all"]
                if restricted:
                    summary += " and " + " and ".join(restricted)
                lines.append((table, operation, summary, decision.grants + decision.restrictions))
        return lines


class AccessConfigError(AccordError):
    def __init__(self, rule: str, key: str, reason: str) -> None:
        super().__init__(f"access rule {rule!r}, {key}: {reason}")
        self.rule = rule
        self.key = key
        self.reason = reason


_CACHE_LIMIT = 10_000
"""Principals whose conditions are kept; past it the caches start again (a busy server
with many users rebuilds at most that often)."""


def owner_column(model: type[Any]) -> str:
    return str(getattr(model, "__access_owner__", "owner_id"))


def team_column(model: type[Any]) -> str:
    return str(getattr(model, "__access_team__", "team_id"))


def _quoted(name: str) -> str:
    return f'"{name}"' if "." in name else name


# --- enforcement ----------------------------------------------------------------------------


def install_access() -> None:
    """Filter every ORM read and check every write of every ORM session in the process, not
    only those a ``Database`` makes: a ``Session(engine)`` written by hand has no principal,
    so it can touch no protected model. Installing twice changes nothing."""
    for name, listener in (
        ("do_orm_execute", _filter_statement),
        ("before_flush", _check_before_flush),
        ("after_flush", _check_after_flush),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def protected_mappers() -> list[Mapper[Any]]:
    global _PROTECTED
    everything = Base.registry.mappers
    if _PROTECTED is None or _PROTECTED[0] != len(everything):
        _PROTECTED = (len(everything), [m for m in everything if is_protected(m.class_)])
    return _PROTECTED[1]


_PROTECTED: tuple[int, list[Mapper[Any]]] | None = None


def _read_options(principal: Principal | None) -> tuple[ORMOption, ...]:
    if principal is not None and principal.policy is not None:
        return principal.policy.read_options(principal)
    # No principal: nothing protected can be read, even through a join or a subquery.
    mappers = protected_mappers()
    global _NOBODY_OPTIONS
    if _NOBODY_OPTIONS is None or _NOBODY_OPTIONS[0] != len(mappers):
        _NOBODY_OPTIONS = (
            len(mappers),
            tuple(with_loader_criteria(m.class_, false(), include_aliases=True) for m in mappers),
        )
    return _NOBODY_OPTIONS[1]


_NOBODY_OPTIONS: tuple[int, tuple[ORMOption, ...]] | None = None


def _filter_statement(state: ORMExecuteState) -> None:
    if state.is_column_load:
        return
    principal = principal_of(state.session)
    if principal is not None and principal.is_system:
        return
    if not state.is_orm_statement:
        _refuse_core_statement(state, principal)
        return
    if state.is_select:
        if principal is None:
            for mapper in state.all_mappers:
                if is_protected(mapper.class_):
                    raise AccessDeniedError(
                        f"reading {mapper.class_.__tablename__}: this session has no principal; "
                        "open it with db.session(principal=...)"
                    )
        options = _read_options(principal)
        if options:
            state.statement = state.statement.options(*options)
        return
    target = state.bind_mapper
    if target is None or not is_protected(target.class_):
        return
    model = target.class_
    operation: Operation = "write" if state.is_update else "delete" if state.is_delete else "create"
    who = principal if principal is not None else "a session without a principal"
    if principal is None or principal.policy is None:
        raise AccessDeniedError(f"{who} may not {operation} {model.__tablename__}")
    condition = principal.policy.criteria(principal, model, operation)
    decision = principal.policy.decide(principal.roles, model.__tablename__, operation)
    if not decision.allowed:
        raise AccessDeniedError(
            f"{who} may not {operation} {model.__tablename__}: no rule grants it"
        )
    if condition is None:
        return
    if operation == "create":
        if state.execution_options.get(CHECK_CREATED_ROWS):
            return  # the caller checks the created rows against ``condition`` itself
        raise AccessDeniedError(
            f"{who} may not bulk-insert into {model.__tablename__}: its rules limit which rows "
            "it may create; add the rows one by one"
        )
    state.statement = state.statement.where(condition)  # type: ignore[attr-defined]


def _refuse_core_statement(state: ORMExecuteState, principal: Principal | None) -> None:
    """A Core statement on a business table (``select(Partner.__table__)``) names no entity
    the rules can filter, so only the system principal may run one. Raw ``text()`` SQL
    names no table at all: it is the kernel's and the migrations' tool, never a view's."""
    statement = state.statement
    if not isinstance(statement, ClauseElement):
        return
    tables = {str(table.name) for table in find_tables(statement, include_crud=True)}
    for mapper in protected_mappers():
        if mapper.local_table.name in tables:  # type: ignore[attr-defined]
            who = principal if principal is not None else "a session without a principal"
            raise AccessDeniedError(
                f"{who} may not run a Core statement on {mapper.class_.__tablename__}: "
                f"access rules apply to ORM statements (select({mapper.class_.__name__}), "
                f"update({mapper.class_.__name__})); Core is for the system principal"
            )


CHECK_CREATED_ROWS: Final = "accord_check_created_rows"
"""Execution option of a multi-row ORM INSERT whose caller checks, before anything else
runs in its transaction, that every row it created is one the principal may create
(``accord.core.importing.insert_records`` does): without it such an INSERT is refused to a
principal whose rules limit which rows it may create."""

_PENDING = "access_pending_checks"


def _changed(session: Session) -> tuple[list[Any], list[Any], list[Any]]:
    new = [obj for obj in session.new if is_protected(type(obj))]
    dirty = [
        obj
        for obj in session.dirty
        if is_protected(type(obj)) and session.is_modified(obj, include_collections=False)
    ]
    deleted = [obj for obj in session.deleted if is_protected(type(obj))]
    return new, dirty, deleted


def _check_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    new, dirty, deleted = _changed(session)
    if not (new or dirty or deleted):
        return
    principal = principal_of(session)
    if principal is not None and principal.is_system:
        return
    for objects, operation in ((new, "create"), (dirty, "write"), (deleted, "delete")):
        for model in {type(obj) for obj in objects}:
            _model_allowed(principal, model, cast(Operation, operation))
    assert principal is not None
    assert principal.policy is not None
    # The rows as they are now must be ones the principal may change or delete.
    _check_rows(session, principal, dirty, "write")
    _check_rows(session, principal, deleted, "delete")
    session.info[_PENDING] = (new, dirty)


def _check_after_flush(session: Session, flush_context: Any) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    principal = principal_of(session)
    assert principal is not None
    new, dirty = pending
    # The rows as written must still be ones the principal may create or change: a
    # salesperson cannot hand a customer to another team, nor create one for it.
    _check_rows(session, principal, new, "create")
    _check_rows(session, principal, dirty, "write")


def _model_allowed(principal: Principal | None, model: type[Any], operation: Operation) -> None:
    table = model.__tablename__
    if principal is None or principal.policy is None:
        raise AccessDeniedError(
            f"a session without a principal may not {operation} {table}; "
            "open it with db.session(principal=...)"
        )
    if not principal.policy.decide(principal.roles, table, operation).allowed:
        raise AccessDeniedError(f"{principal} may not {operation} {table}: no rule grants it")


def _check_rows(
    session: Session, principal: Principal, objects: Sequence[Any], operation: Operation
) -> None:
    policy = principal.policy
    assert policy is not None
    by_model: dict[type[Any], list[Any]] = {}
    for obj in objects:
        by_model.setdefault(type(obj), []).append(obj)
    for model, rows in by_model.items():
        condition = policy.criteria(principal, model, operation)
        if condition is None:
            continue
        mapper = inspect(model)
        keys = list(mapper.primary_key)
        identities = [tuple(mapper.primary_key_from_instance(obj)) for obj in rows]
        if len(keys) == 1:
            wanted: ColumnElement[bool] = keys[0].in_([identity[0] for identity in identities])
        else:
            wanted = or_(
                *(
                    and_(*(key == value for key, value in zip(keys, identity, strict=True)))
                    for identity in identities
                )
            )
        found = {
            tuple(row)
            for row in session.connection().execute(select(*keys).where(wanted, condition))
        }
        for identity in identities:
            if identity not in found:
                shown = ",".join(str(part) for part in identity)
                scopes = ", ".join(
                    f"{rule.name} ({rule.scope})"
                    for rule in policy.decide(
                        principal.roles, model.__tablename__, operation
                    ).grants
                )
                raise AccessDeniedError(
                    f"{principal} may not {operation} {model.__tablename__} #{shown}: "
                    f"the record is outside what its rules allow ({scopes})"
                )


__all__ = [
    "OPERATIONS",
    "AccessDeniedError",
    "AccessPolicy",
    "Principal",
    "install_access",
    "principal_of",
]
