"""Per-plugin migrations on alembic: upgrade the kernel and exactly the enabled plugins,
show each branch's state, and write a plugin's new revision into its own folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, event
from sqlalchemy.schema import CreateTable, DropTable

from accord.core import migrations
from accord.core.access import AccessPolicy, Principal
from accord.core.db import Base, Database
from accord.core.errors import DatabaseError, PluginError
from accord.core.manager import AccordPluginManager
from accord.core.security import sync_roles

KERNEL = "core"
MIGRATIONS_HOME = Path(migrations.__file__).parent
KERNEL_VERSIONS = MIGRATIONS_HOME / "versions"

Report = Callable[[str], None]
BATCH_COPY = "_alembic_tmp_"


@dataclass(frozen=True)
class Revision:
    branch: str
    revision: str
    message: str
    applied: bool
    is_head: bool


class Migrator:
    """Migrations of one database for the plugins a manager has loaded."""

    def __init__(self, pm: AccordPluginManager, db: Database) -> None:
        self.pm = pm
        self.db = db
        # Every installed plugin's folder is known, so the rows of a disabled plugin in the
        # version table still resolve; only the enabled branches are ever upgraded.
        self.folders: dict[str, Path] = {KERNEL: KERNEL_VERSIONS}
        for found in pm.settings.catalogue.values():
            self.folders[found.name] = found.plugin.migrations_path

    @property
    def enabled_branches(self) -> list[str]:
        names = [found.name for found in self.pm.loaded]
        return [KERNEL, *[name for name in names if self._has_revisions(name)]]

    def _has_revisions(self, branch: str) -> bool:
        folder = self.folders[branch]
        return folder.is_dir() and any(folder.glob("*.py"))

    def script(self) -> ScriptDirectory:
        return ScriptDirectory(
            str(MIGRATIONS_HOME),
            version_locations=[str(path) for path in self.folders.values() if path.is_dir()],
        )

    @contextmanager
    def _config(self, branches: Iterable[str] | None = None, **attributes: Any) -> Iterator[Config]:
        """alembic's configuration over the folders of ``branches`` (default: all)."""
        self.db.check_connection()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_HOME))
        config.set_main_option("path_separator", "os")
        wanted = (
            self.folders if branches is None else {name: self.folders[name] for name in branches}
        )
        config.set_main_option(
            "version_locations", os.pathsep.join(str(path) for path in wanted.values())
        )
        config.set_main_option(
            "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"
        )
        with self.db.engine.begin() as connection:
            config.attributes.update(
                connection=connection,
                target_metadata=Base.metadata,
                owned_tables=self.pm.owned_tables(),
                **attributes,
            )
            try:
                yield config
            except CommandError as error:
                raise DatabaseError(f"migration failed: {error}") from None

    def branch_of(self, script: Script) -> str:
        folder = Path(script.path).parent.resolve()
        for name, path in self.folders.items():
            if path.resolve() == folder:
                return name
        return "?"

    def upgrade(self, report: Report = print) -> None:
        """Bring the kernel and every enabled plugin to its newest revision, then keep the
        role table in step with the roles the plugins declare."""
        self.upgrade_schema(report)
        self.finish_upgrade()

    def upgrade_schema(self, report: Report = print) -> None:
        """The revisions part of :meth:`upgrade`: what it does depends only on the revision
        files, so the test fixtures run it once per set of branches and copy its result."""

        def applied(*, step: Any, **_: Any) -> None:
            for revision in step.up_revision_ids if step.is_upgrade else step.down_revision_ids:
                script = self.script().get_revision(revision)
                if script is not None:
                    name = self.branch_of(script)
                    report(f"  {name}: {script.revision} {script.doc}")

        with self._config(on_version_apply=applied) as config:
            for branch in self.enabled_branches:
                report(f"{branch}: upgrading to its newest revision")
                command.upgrade(config, f"{branch}@head")

    def finish_upgrade(self) -> None:
        """The rest of :meth:`upgrade`: the role table in step with the roles the plugins
        declare now, and the query planner's statistics refreshed."""
        with self.db.session(Principal.system("upgrade")) as session:
            sync_roles(session, AccessPolicy.from_plugins(self.pm).roles.values())
        self.db.refresh_statistics()

    def downgrade(self, branch: str, target: str, report: Report = print) -> None:
        """Step one plugin's branch back; ``base`` drops every table the plugin made."""
        self._known(branch)

        def applied(*, step: Any, **_: Any) -> None:
            for revision in step.up_revision_ids if not step.is_upgrade else ():
                report(f"  {branch}: undone {revision}")

        with self._config(on_version_apply=applied) as config:
            command.downgrade(config, f"{branch}@{target}")

    def drop(
        self,
        branch: str,
        also: Callable[[Connection], None],
        report: Report = print,
        *,
        migrated: bool = True,
    ) -> None:
        """Downgrade ``branch`` to base (its tables go, through its own migrations), then
        run ``also`` on the same connection: one transaction, committed only if all of it
        worked. PostgreSQL's DDL is transactional; on SQLite too, once the transaction is
        begun explicitly (Python's driver would otherwise run each DROP on its own)."""
        self._known(branch)
        script = self.script()

        def applied(*, step: Any, **_: Any) -> None:
            for revision in step.up_revision_ids if not step.is_upgrade else ():
                found = script.get_revision(revision)
                owner = self.branch_of(found) if found is not None else "?"
                if owner != branch:  # alembic follows depends_on into other branches
                    raise DatabaseError(
                        f"dropping {branch!r} would also undo {owner!r}'s revision "
                        f"{revision}; nothing was changed"
                    )
                report(f"  {branch}: undone {revision} {found.doc if found else ''}".rstrip())

        copies: set[str] = set()

        def dropping(connection: Connection, element: Any, *_: Any) -> None:
            # On SQLite a batch operation copies a table into "_alembic_tmp_<name>" and
            # drops the original: that DROP is no table going away.
            if isinstance(element, CreateTable) and element.element.name.startswith(BATCH_COPY):
                copies.add(element.element.name.removeprefix(BATCH_COPY))
            elif isinstance(element, DropTable):
                name = element.element.name
                if name in copies:
                    copies.discard(name)
                else:
                    report(f"  {branch}: dropping table {name}")

        with self._config(on_version_apply=applied) as config:
            connection: Connection = config.attributes["connection"]
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            event.listen(connection, "before_execute", dropping)
            try:
                if migrated:
                    command.downgrade(config, f"{branch}@base")
                also(connection)
            finally:
                event.remove(connection, "before_execute", dropping)

    def current(self) -> dict[str, str | None]:
        """Each branch (kernel, every installed plugin that has migrations) and the
        revision the database is at, None when never migrated."""
        script = self.script()
        with self.db.engine.connect() as connection:
            heads = _current_heads(connection)
        state: dict[str, str | None] = {
            name: None for name in self.folders if self._has_revisions(name)
        }
        for head in heads:
            if script.get_revision(head) is None:
                raise DatabaseError(
                    f"the database is at revision {head!r}, which no installed plugin provides; "
                    "reinstall the plugin that created it"
                )
        # alembic keeps only the newest revisions in its table: a kernel revision that a
        # plugin's revision depends on is implied by it, so walk down to find each branch's.
        applied = self._applied(script, heads)
        for revision in applied:
            found = script.get_revision(revision)
            if found is not None and not set(found.nextrev) & applied:
                state[self.branch_of(found)] = revision
        return state

    @staticmethod
    def _applied(script: ScriptDirectory, heads: tuple[str, ...]) -> set[str]:
        if not heads:
            return set()
        return {
            rev.revision
            for rev in script.revision_map.iterate_revisions(heads, "base")
            if rev is not None
        }

    def history(self, branch: str | None = None) -> list[Revision]:
        script = self.script()
        with self.db.engine.connect() as connection:
            applied = self._applied(script, _current_heads(connection))
        rows = []
        for rev in script.walk_revisions():
            name = self.branch_of(rev)
            if branch is None or name == branch:
                rows.append(
                    Revision(name, rev.revision, rev.doc, rev.revision in applied, rev.is_head)
                )
        return rows

    def revision(self, branch: str, message: str, *, autogenerate: bool) -> Path | None:
        """Write a new revision into the branch's own folder; with autogenerate, from the
        difference between the plugin's models and the database. None when nothing changed."""
        self._known(branch)
        if branch != KERNEL and branch not in {found.name for found in self.pm.loaded}:
            raise PluginError(
                f"plugin {branch!r} is not enabled; enable it (accord plugins enable "
                f"{branch}) and run `accord db upgrade` before writing its revision"
            )
        if autogenerate:
            self._require_up_to_date()
        folder = self.folders[branch]
        options: dict[str, Any] = {"version_path": str(folder)}
        if self._has_revisions(branch):
            options["head"] = f"{branch}@head"
        else:
            options.update(head="base", branch_label=branch, depends_on=self._depends_on(branch))

        def skip_if_empty(context: Any, revision: Any, directives: list[Any]) -> None:
            if autogenerate and directives[0].upgrade_ops.is_empty():
                directives[:] = []

        folder.mkdir(parents=True, exist_ok=True)
        # alembic's autogenerate wants the database at every head it can see: only the
        # enabled branches, and those the database holds, count (an installed plugin that
        # was never enabled has revisions this database never ran).
        held = {name for name, at in self.current().items() if at is not None}
        branches = sorted({*self.enabled_branches, *held, branch})
        with self._config(
            branches, autogenerate_plugin=branch, process_revision_directives=skip_if_empty
        ) as config:
            written = command.revision(
                config, message=message, autogenerate=autogenerate, **options
            )
        scripts = written if isinstance(written, list) else [written]
        paths = [Path(script.path) for script in scripts if script is not None]
        return paths[0] if paths else None

    def differences(self, branch: str) -> list[Any]:
        """What autogenerate would write for the branch: empty when its models and its
        migrations agree."""
        self._known(branch)
        options = {
            "include_object": include_object_of(self.pm.owned_tables(), branch),
            "compare_type": True,
        }
        with self.db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts=options)
            return list(compare_metadata(context, Base.metadata))

    def _depends_on(self, branch: str) -> list[str]:
        """A plugin's first revision comes after the kernel and its dependencies."""
        if branch == KERNEL:
            return []
        script = self.script()
        found = self.pm.settings.catalogue[branch]
        branches = [KERNEL, *found.plugin.dependency_names]
        heads: list[str] = []
        for name in branches:
            if self._has_revisions(name):
                heads.extend(rev.revision for rev in script.get_revisions(f"{name}@head") if rev)
        return heads

    def _require_up_to_date(self) -> None:
        script = self.script()
        current = self.current()
        behind = []
        for name in self.enabled_branches:
            if not self._has_revisions(name):
                continue
            at = current.get(name)
            found = script.get_revision(at) if at else None
            if found is None or not found.is_head:
                behind.append(name)
        if behind:
            raise DatabaseError(
                f"the database is not up to date for {', '.join(behind)}; run `accord db "
                "upgrade` first so autogenerate compares the models with the newest schema"
            )

    def _known(self, branch: str) -> None:
        if branch not in self.folders:
            known = ", ".join(sorted(self.folders))
            raise PluginError(f"unknown plugin {branch!r}; known: {known}")


def include_object_of(owned_tables: dict[str, str], branch: str | None) -> Callable[..., bool]:
    """An alembic ``include_object`` that keeps only the tables (with their columns,
    indexes and constraints) of one branch; ``None`` keeps everything."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if branch is None:
            return True
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return owned_tables.get(str(table)) == branch

    return include


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(connection).get_current_heads()
