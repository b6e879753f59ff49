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
from sqlalchemy.orm import (
    Mapper,
    MapperProperty,
    ORMExecuteState,
    RelationshipProperty,
    Session,
    configure_mappers,
    with_loader_criteria,
)
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.orm.strategy_options import Load
from sqlalchemy.orm.util import AliasedInsp, LoaderCriteriaOption
from sqlalchemy.sql.elements import ClauseElement, ColumnClause
from sqlalchemy.sql.selectable import FromClause, SelectBase, TableClause, _MemoizedSelectEntities
from sqlalchemy.sql.util import find_tables
from sqlalchemy.sql.visitors import HasTraverseInternals, InternalTraversal

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
        self._read_options: dict[tuple[Principal, Mapper[Any]], ORMOption | None] = {}
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
        problems = [
            problem
            for found in pm.hook.accord_check_settings(settings=settings, roles=sorted(roles))
            for problem in found or ()
        ]
        if problems:
            raise SettingsError("\n".join(problems))
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
            path = select(teams.path).where(teams.id == user.team_id).scalar_subquery()
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

    def read_options(
        self, principal: Principal, mappers: Iterable[Mapper[Any]] | None = None
    ) -> tuple[ORMOption, ...]:
        """The loader criteria that filter ``mappers`` (every protected model when not
        given) for ``principal``: one per model, made once and reused by every statement."""
        everything = protected_mappers()
        wanted = everything if mappers is None else mappers
        options = []
        for mapper in wanted:
            key = (principal, mapper)
            try:
                option = self._read_options[key]
            except KeyError:
                if len(self._read_options) > _CACHE_LIMIT:
                    self._read_options.clear()
                condition = self.criteria(principal, mapper.class_, "read")
                option = self._read_options[key] = (
                    None if condition is None else _loader_criteria(mapper.class_, condition)
                )
            if option is not None:
                options.append(option)
        return tuple(options)

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


def _loader_criteria(model: type[Any], condition: ColumnElement[bool]) -> ORMOption:
    """``condition`` as a loader criterion on every occurrence of ``model`` in a statement,
    aliases included, each filtered on its own columns.

    SQLAlchemy resolves a criterion given as a lambda for each entity it meets, the alias
    itself where it stands in a FROM, a JOIN's ON clause or a subquery; a criterion given as
    an expression is only adapted in a WHERE, so ``join(other, other.id != Model.id)`` with
    ``other = aliased(Model)`` filtered ``Model`` twice and ``other`` not at all. The lambda
    tracks ``condition`` as a closure variable: the cached compiled statement is shared by
    every principal with conditions of the same shape, and each run binds its own values.
    """
    return with_loader_criteria(
        model, lambda entity: _condition_of(entity, condition), include_aliases=True
    )


def _condition_of(entity: Any, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition``, written on a model's columns, on those of ``entity``: the model, or an
    alias of it (then its columns are the alias's)."""
    found = inspect(entity, raiseerr=False)
    if isinstance(found, AliasedInsp):
        return found._adapter.traverse(condition)
    return condition


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
    return _index().mappers


@dataclass(frozen=True)
class _MapperIndex:
    """The protected mappers of the process, by table, and what loading each one can
    load along with it in the same statement."""

    mappers: list[Mapper[Any]]
    by_table: dict[str, tuple[Mapper[Any], ...]]
    along: dict[Mapper[Any], frozenset[Mapper[Any]]]


_INDEX: _MapperIndex | None = None


@event.listens_for(Mapper, "instrument_class")
def _forget_index(mapper: Mapper[Any], class_: type[Any]) -> None:
    """A model declared later (a plugin imported late, a test's model) joins the index."""
    global _INDEX
    _INDEX = None


_EMITS_ITS_OWN_SELECT: Final = frozenset({"select", True, "dynamic", "write_only", "noload"})
"""Relationship strategies that load in a statement of their own (which this listener sees
and filters), or not at all; any other (joined, select-in, subquery...) is counted as loaded
with its parent's statement."""


def _index() -> _MapperIndex:
    global _INDEX
    if _INDEX is not None:
        return _INDEX
    configure_mappers()
    everything = Base.registry.mappers
    mappers = [m for m in everything if is_protected(m.class_)]
    by_table: dict[str, list[Mapper[Any]]] = {}
    for mapper in mappers:
        for table in mapper.tables:
            by_table.setdefault(str(table.name), []).append(mapper)
    tables = {name: tuple(found) for name, found in by_table.items()}

    def neighbours(mapper: Mapper[Any]) -> set[Mapper[Any]]:
        # Its inheritance family, what it eagerly loads by its mapping, and the tables its
        # column expressions (column_property subqueries) read.
        near: set[Mapper[Any]] = {*mapper.self_and_descendants, *mapper.iterate_to_root()}
        for relationship in mapper.relationships:
            if relationship.lazy not in _EMITS_ITS_OWN_SELECT:
                near |= _relationship_mappers(relationship, tables)
        for column in mapper.columns:
            near |= _mappers_in(column, tables)
        return near

    along: dict[Mapper[Any], frozenset[Mapper[Any]]] = {}
    for mapper in everything:  # an unprotected model may eagerly load a protected one
        seen = {mapper}
        todo = [mapper]
        while todo:
            for other in neighbours(todo.pop()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        along[mapper] = frozenset(m for m in seen if is_protected(m.class_))
    index = _MapperIndex(mappers, tables, along)
    _INDEX = index
    return index


def _relationship_mappers(
    relationship: RelationshipProperty[Any], tables: Mapping[str, tuple[Mapper[Any], ...]]
) -> set[Mapper[Any]]:
    found = {relationship.mapper, relationship.parent}
    for part in (relationship.secondary, relationship.primaryjoin, relationship.secondaryjoin):
        if part is not None:
            found |= _mappers_in(part, tables)
    return found


def _mappers_in(element: Any, tables: Mapping[str, tuple[Mapper[Any], ...]]) -> set[Mapper[Any]]:
    """The protected mappers of the tables ``element`` names (Core only, no ORM)."""
    return {
        mapper
        for table in find_tables(element, check_columns=True, include_aliases=True)
        for mapper in tables.get(str(table.name), ())
    }


_Plan = tuple[tuple[str, str], ...]
_PLANS: dict[type[Any], _Plan | None] = {}
_KINDS: Final = {
    getattr(InternalTraversal, name): kind
    for name, kind in (
        ("dp_clauseelement", "one"),
        ("dp_clauseelement_list", "many"),
        ("dp_clauseelement_tuple", "many"),
        ("dp_clauseelement_unordered_set", "many"),
        ("dp_fromclause_ordered_set", "many"),
        ("dp_memoized_select_entities", "many"),
        ("dp_clauseelement_tuples", "tuples"),
        ("dp_string_clauseelement_dict", "values"),
        ("dp_setup_join_tuple", "joins"),
        ("dp_dml_ordered_values", "other"),
        ("dp_dml_values", "other"),
        ("dp_dml_multi_values", "other"),
    )
    if hasattr(InternalTraversal, name)
}


def _plan(cls: type[Any]) -> _Plan | None:
    """Where ``get_children()`` finds the children of a ``cls``, read from its traversal
    internals; ``None`` when the class answers otherwise (then it is asked)."""
    # Select adds the FROM objects of its columns and criteria, which the walk reaches
    # through them anyway.
    if not issubclass(cls, Select) and (
        getattr(cls, "get_children", None) is not HasTraverseInternals.get_children
    ):
        return None
    plan = []
    for name, traversal in getattr(cls, "_traverse_internals", ()):
        kind = _KINDS.get(traversal)
        if kind == "other":
            return None
        if kind is not None:
            plan.append((name, kind))
    return tuple(plan)


def _add_children(element: Any, todo: list[Any]) -> None:
    """``todo.extend(element.get_children())``, without the generic dispatch: the walk
    above runs for every statement a user session sends."""
    if isinstance(element, ColumnClause):  # the common case, in short
        if element.table is not None:
            todo.append(element.table)
        return
    cls = type(element)
    try:
        plan = _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _plan(cls)
    if plan is None:
        todo.extend(element.get_children())
        return
    for name, kind in plan:
        value = getattr(element, name)
        if value is None:
            continue
        if kind == "one":
            todo.append(value)
        elif kind == "many":
            todo.extend(value)
        elif kind == "tuples":
            for values in value:
                todo.extend(values)
        elif kind == "values":
            todo.extend(value.values())
        else:  # joins: (target, onclause, from, flags)
            for join in value:
                for part in join[:3]:
                    if part is None or isinstance(part, str):
                        continue
                    while hasattr(part, "__clause_element__") and not getattr(
                        part, "is_clause_element", False
                    ):
                        part = part.__clause_element__()
                    todo.append(part)


@dataclass(frozen=True)
class Reads:
    """What a SELECT can read of the protected models."""

    mappers: frozenset[Mapper[Any]]
    """Its entities and columns, every table it names (joins, subqueries, EXISTS, aliases),
    the targets of its relationship joins and loader options, and what those load along
    by their mapping."""
    alone: Mapper[Any] | None
    """The one model it reads when it reads it from its own table, once, in a single SELECT
    without joins, subqueries or loader options: then a WHERE filters it exactly as the
    loader criteria would, at a fraction of their cost."""


def statement_reads(statement: object) -> Reads | None:
    """What ``statement`` can read; ``None`` when it cannot tell (not a SELECT, a wildcard
    or unknown option): then the caller must assume every protected model."""
    if not isinstance(statement, Select):
        return None
    index = _index()
    found: set[Mapper[Any]] = set()
    tables: set[str] = set()
    nested = False
    seen: set[int] = set()
    todo: list[Any] = [statement]
    while todo:
        element = todo.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        if isinstance(element, TableClause):  # a table's columns name nothing more
            tables.add(str(element.name))
            found.update(index.by_table.get(str(element.name), ()))
            continue
        annotations = element._annotations
        if annotations:
            for key in ("parentmapper", "parententity"):
                entity = getattr(annotations.get(key), "mapper", None)
                if isinstance(entity, Mapper):
                    found.add(entity)
        if isinstance(element, (Select, _MemoizedSelectEntities)):
            nested = nested or element is not statement
            for join in element._setup_joins:
                nested = True
                for part in join[:3]:
                    relationship = getattr(part, "property", None)
                    if isinstance(relationship, RelationshipProperty):
                        found |= _relationship_mappers(relationship, index.by_table)
            for option in getattr(element, "_with_options", ()):
                if isinstance(option, LoaderCriteriaOption):
                    continue
                if not isinstance(option, Load):
                    return None
                nested = True
                for load in option.context:
                    for step in load.path.path:
                        if isinstance(step, RelationshipProperty):
                            found |= _relationship_mappers(step, index.by_table)
                        elif isinstance(getattr(step, "mapper", None), Mapper):
                            found.add(step.mapper)  # type: ignore[union-attr]
                        elif not isinstance(step, MapperProperty):
                            return None  # a wildcard: every relationship of the entity
        elif isinstance(element, (FromClause, SelectBase)):  # an alias, subquery, join...
            nested = True
        _add_children(element, todo)
    mappers = frozenset(
        loaded for mapper in found if mapper in index.along for loaded in index.along[mapper]
    )
    alone = None
    if not nested and len(mappers) == 1 and len(tables) == 1:
        (mapper,) = mappers
        if (
            mapper in found
            and mapper.inherits is None
            and not mapper.polymorphic_map
            and {str(mapper.local_table.name)} == tables  # type: ignore[attr-defined]
        ):
            alone = mapper
    return Reads(mappers, alone)


def _nobody_options() -> tuple[ORMOption, ...]:
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


def readable(statement: Any, principal: Principal | None) -> Any:
    """``statement`` (an ORM SELECT) as a session of ``principal`` sends it: filtered to the
    rows the principal may read of every protected model it can read. A statement on one
    model from its own table gets a WHERE; any other, a loader criterion per protected model
    it can reach (every one when that cannot be told)."""
    if principal is not None and principal.is_system:
        return statement
    if principal is None or principal.policy is None:
        return statement.options(*_nobody_options())
    reads = statement_reads(statement)
    if reads is not None and reads.alone is not None:
        condition = principal.policy.criteria(principal, reads.alone.class_, "read")
        return statement if condition is None else statement.where(condition)
    options = principal.policy.read_options(principal, reads.mappers if reads else None)
    return statement.options(*options) if options else statement


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
        state.statement = readable(state.statement, principal)
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
(as ``accord.core.importing.insert_records`` does for its own executemany): without it
such an INSERT is refused to a principal whose rules limit which rows it may create."""

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
    "readable",
]
