"""Dropping a disabled plugin's data (DESIGN rule 10): what would go, computed without
changing anything, and the drop itself, in one transaction.

What goes: the plugin's tables (its alembic branch downgraded to base, through its own
migrations), and what the kernel keeps for it: roles only it declared (with their grants),
the job queue's rows for its subscribers and job types, the import keys of its importers,
and the workflow history of its records. What stays: the audit log, append-only, with one
``drop`` entry per table saying who dropped it and how many rows it held; the customers'
timeline activities; the outbox's facts; its section of accord.toml."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, inspect, select, table
from sqlalchemy.orm import Session

from accord.core.access import Principal
from accord.core.audit import AuditEntry
from accord.core.db import Base, act_as
from accord.core.errors import PluginError
from accord.core.events import Job
from accord.core.importing.run import ImportKey
from accord.core.manager import AccordPluginManager, create_plugin_manager
from accord.core.resolve import dependents, resolve
from accord.core.runtime import Runtime
from accord.core.security import Role, UserRole
from accord.core.workflow import TransitionRecord

DROPPER = Principal.system("plugins-drop")

Report = Callable[[str], None]


@dataclass(frozen=True)
class DropPlan:
    name: str
    revision: str | None
    """Where the plugin's branch is; None when it never made tables here."""
    tables: tuple[tuple[str, int], ...]
    """Its tables in the database, with their row counts, in the order they are dropped."""
    roles: tuple[tuple[str, int], ...]
    """Roles only this plugin declared, still held, with how many users hold each."""
    job_targets: tuple[str, ...]
    jobs: int
    importers: tuple[str, ...]
    import_keys: int
    workflow_history: int
    audit_entries: int
    """Kept: the audit log is append-only."""

    @property
    def is_empty(self) -> bool:
        return (
            self.revision is None
            and not self.tables
            and not self.roles
            and not self.jobs
            and not self.import_keys
            and not self.workflow_history
        )


def plan_drop(runtime: Runtime, name: str) -> DropPlan:
    """What dropping ``name`` would remove; refused (PluginError) while it is enabled, while
    another plugin's tables depend on its tables, or when it has nothing to drop."""
    settings = runtime.settings
    if name not in settings.catalogue:
        installed = ", ".join(sorted(settings.catalogue)) or "none"
        raise PluginError(
            f"unknown plugin {name!r}; installed plugins: {installed} (see `accord plugins list`)"
        )
    enabled = [found.name for found in settings.enabled]
    if name in enabled:
        raise PluginError(_still_enabled(runtime, name))
    current = runtime.migrator.current()
    with_tables = [branch for branch, revision in current.items() if revision is not None]
    chains = dependents(settings.catalogue, with_tables, name)
    if chains:
        listed = "; ".join(" -> ".join(chain) for chain in chains)
        raise PluginError(
            f"cannot drop {name!r}: the tables of plugins that depend on it are still in the "
            f"database ({listed}); drop those first (accord plugins drop {chains[0][0]})"
        )
    owner = _with_plugin(runtime, name)
    owned = {table for table, who in owner.owned_tables().items() if who == name}

    def declared(hook: str) -> set[str]:
        return {item.name for who, item in owner.collect_with_owner(hook) if who == name}

    # A role that an enabled plugin (or the kernel) declares as well stays.
    roles_mine = declared("accord_roles") - {r.name for r in runtime.pm.collect("accord_roles")}
    job_targets = tuple(sorted(declared("accord_jobs") | declared("accord_event_subscribers")))
    importers = tuple(sorted(declared("accord_importers")))
    with runtime.db.engine.connect() as connection:
        existing = set(inspect(connection).get_table_names())
        # Children before parents, as the downgrade drops them.
        ordered = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in owned]
        tables = tuple((t, _count(connection, t)) for t in ordered if t in existing)
        with Session(bind=connection) as session:
            act_as(session, DROPPER)
            held = session.execute(
                select(UserRole.role_name, func.count())
                .where(UserRole.role_name.in_(roles_mine))
                .group_by(UserRole.role_name)
            ).all()
            still = set(session.scalars(select(Role.name).where(Role.name.in_(roles_mine))))
            roles = tuple(sorted((role, dict(held).get(role, 0)) for role in still))
            models = [t for t, _ in tables]
            plan = DropPlan(
                name=name,
                revision=current.get(name),
                tables=tables,
                roles=roles,
                job_targets=job_targets,
                jobs=_count_where(session, Job, Job.target.in_(job_targets)),
                importers=importers,
                import_keys=_count_where(session, ImportKey, ImportKey.importer.in_(importers)),
                workflow_history=_count_where(
                    session, TransitionRecord, TransitionRecord.model.in_(models)
                ),
                audit_entries=_count_where(session, AuditEntry, AuditEntry.model.in_(models)),
            )
    if plan.is_empty:
        raise PluginError(
            f"plugin {name!r} has no data in this database (never migrated here, or dropped "
            "already); nothing to drop"
        )
    return plan


def drop(runtime: Runtime, plan: DropPlan, report: Report = print) -> None:
    """Drop what ``plan`` lists, all in one transaction: a failure anywhere changes nothing."""

    def clean_kernel(connection: Connection) -> None:
        session = runtime.db.sessions(bind=connection)
        act_as(session, DROPPER)
        session.info["context"] = f"accord plugins drop {plan.name}"
        try:
            roles = [role for role, _ in plan.roles]
            if roles:
                report(f"  removing role(s) {', '.join(roles)}, and their grants")
                session.execute(delete(UserRole).where(UserRole.role_name.in_(roles)))
                session.execute(delete(Role).where(Role.name.in_(roles)))
            if plan.jobs:
                report(f"  removing {plan.jobs} queued or finished job(s)")
                session.execute(delete(Job).where(Job.target.in_(plan.job_targets)))
            if plan.import_keys:
                report(f"  removing {plan.import_keys} import key(s)")
                session.execute(delete(ImportKey).where(ImportKey.importer.in_(plan.importers)))
            models = [t for t, _ in plan.tables]
            if plan.workflow_history:
                report(f"  removing {plan.workflow_history} workflow history row(s)")
                session.execute(delete(TransitionRecord).where(TransitionRecord.model.in_(models)))
            for name, rows in plan.tables:
                session.add(
                    AuditEntry(
                        model=name,
                        record_id="*",
                        field="*",
                        old_value=json.dumps({"plugin": plan.name, "rows": rows}),
                        new_value=None,
                        action="drop",
                        actor=DROPPER.actor,
                        context=session.info["context"],
                    )
                )
            session.commit()  # joins the migration's transaction, which commits it
        finally:
            session.close()

    migrated = plan.revision is not None
    runtime.migrator.drop(plan.name, clean_kernel, report=report, migrated=migrated)


def _still_enabled(runtime: Runtime, name: str) -> str:
    settings = runtime.settings
    if name in settings.plugins:
        return f"plugin {name!r} is enabled; disable it first (accord plugins disable {name})"
    chains = dependents(settings.catalogue, settings.plugins, name)
    if chains:
        listed = "; ".join(" -> ".join(chain) for chain in chains)
        return (
            f"plugin {name!r} is enabled because enabled plugins depend on it ({listed}); "
            "disable those first"
        )
    needs = ", ".join(settings.catalogue[name].plugin.dependency_names)
    return (
        f"plugin {name!r} is enabled automatically with its dependencies ({needs}); "
        "disable one of them first"
    )


def _with_plugin(runtime: Runtime, name: str) -> AccordPluginManager:
    """A manager that loads ``name`` as well, to learn what it declares."""
    settings = runtime.settings
    wanted = resolve(settings.catalogue, [*settings.plugins, name])
    return create_plugin_manager(settings, enabled=wanted)


def _count(connection: Connection, name: str) -> int:
    return int(connection.execute(select(func.count()).select_from(table(name))).scalar_one())


def _count_where(session: Session, model: type[Any], condition: Any) -> int:
    statement = select(func.count()).select_from(model).where(condition)
    return int(session.execute(statement).scalar_one())
