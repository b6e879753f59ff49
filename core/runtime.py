"""What a command, a request handler or a job needs: settings, the plugin manager and the
database, each built once and only when first asked for (so `accord --help` stays quick:
alembic and the engines load only for the commands that use them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from accord.core.settings import config_path

RUNTIME_KEY = "accord.runtime"
"""Where a session of ``runtime.db`` finds its runtime (``session.info``): what mail, for
one, needs to know its settings and templates."""

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from accord.core.access import AccessPolicy, Principal
    from accord.core.db import Database
    from accord.core.mail import MailTemplates
    from accord.core.manager import AccordPluginManager
    from accord.core.migrate import Migrator
    from accord.core.settings import AccordSettings
    from accord.core.workflow import WorkflowEngine


PRINCIPALS_KEPT = 10_000
"""Signed-in users whose principal a runtime keeps; past it the cache starts again."""


@dataclass(frozen=True)
class SignedInUser:
    """An active user as the database held them at ``version`` of the security version
    (``accord.core.security.SecurityVersion``): their principal and password hash."""

    version: int | None
    principal: Principal
    password_hash: str


class Runtime:
    def __init__(self, config: Path | str | None = None) -> None:
        self.config_path = config_path(config)
        self._signed_in: dict[int, SignedInUser] = {}

    @cached_property
    def settings(self) -> AccordSettings:
        from accord.core.settings import load_settings

        return load_settings(self.config_path)

    @cached_property
    def pm(self) -> AccordPluginManager:
        from accord.core.manager import create_plugin_manager

        return create_plugin_manager(self.settings)

    @cached_property
    def db(self) -> Database:
        from accord.core.db import Database

        db = Database(self.settings.database_url)
        db.sessions.configure(info={RUNTIME_KEY: self})
        return db

    @cached_property
    def policy(self) -> AccessPolicy:
        """The access table, scopes and roles, with accord.toml's changes applied."""
        from accord.core.access import AccessPolicy

        return AccessPolicy.from_plugins(self.pm)

    @cached_property
    def workflows(self) -> WorkflowEngine:
        """The workflow engine: the plugins' state machines with accord.toml's changes."""
        from accord.core.workflow import WorkflowEngine

        return WorkflowEngine.from_plugins(self.pm)

    @cached_property
    def mail(self) -> MailTemplates:
        """The enabled plugins' mail templates with accord.toml's overrides, compiled."""
        from accord.core.mail import load_templates

        return load_templates(self)

    @cached_property
    def migrator(self) -> Migrator:
        from accord.core.migrate import Migrator

        return Migrator(self.pm, self.db)

    def principal_for(self, user_id: int) -> Principal:
        """The principal of user ``user_id``: roles, permissions and team subtree, as the
        database holds them now. Refused for an unknown or deactivated user."""
        from accord.core.access import AccessDeniedError, Principal

        with self.db.session(Principal.system("sign-in")) as session:
            found = self.signed_in(session, user_id)
        if found is None:
            raise AccessDeniedError(f"user #{user_id} does not exist or is deactivated")
        return found.principal

    def signed_in(self, session: Session, user_id: int) -> SignedInUser | None:
        """User ``user_id`` as ``session``'s transaction sees them, or None for an unknown
        or deactivated user. Call it before anything else runs in that transaction: its
        first statement reads the security version, and a principal kept from an earlier
        call stands only while the version is the same (called later in a transaction, it
        reads the user again and keeps nothing). On a change the principal is read
        again, in the same transaction, so that what the rest of the transaction may do is
        decided by users, roles and teams as that transaction sees them.

        The version is the database's, raised by triggers in the transaction of every
        change (``SecurityVersion``): a role revoked, a user deactivated or moved by
        another connection or another process is seen by the next call that starts after
        that change committed."""
        from sqlalchemy import select

        from accord.core.security import SecurityVersion, Team, User, UserRole

        # Only what a transaction reads before it writes anything is kept: one that changed
        # users itself sees its own raised version, and would leave behind, if it rolled
        # back, a principal of changes that never happened under a number that will.
        fresh = not session.in_transaction()
        connection = session.connection()
        version = connection.scalar(select(SecurityVersion.__table__.c.version))
        if not fresh:
            version = None
        kept = self._signed_in.get(user_id)
        if kept is not None and version is not None and kept.version == version:
            return kept
        # Core statements on the transaction's connection: who is signed in is decided
        # before the session acts as anyone, so no access rule applies to these reads.
        users, grants, teams = User.__table__.c, UserRole.__table__.c, Team.__table__.c
        user = connection.execute(
            select(users.login, users.active, users.password_hash, users.team_id).where(
                users.id == user_id
            )
        ).first()
        if user is None or not user.active:
            self._signed_in.pop(user_id, None)
            return None
        roles = connection.scalars(select(grants.role_name).where(grants.user_id == user_id))
        team_ids: list[int] = []
        if user.team_id is not None:
            path = select(teams.path).where(teams.id == user.team_id).scalar_subquery()
            team_ids = list(connection.scalars(select(teams.id).where(teams.path.startswith(path))))
        principal = self.policy.principal(
            user_id=user_id,
            login=user.login,
            roles=roles,
            team_id=user.team_id,
            team_ids=team_ids,
        )
        found = SignedInUser(version, principal, user.password_hash)
        if version is not None:
            if len(self._signed_in) >= PRINCIPALS_KEPT:
                self._signed_in.clear()
            self._signed_in[user_id] = found
        return found

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def runtime_of(session: Session) -> Runtime:
    """The runtime whose database opened ``session``: a plugin's service function reaches
    its settings (``runtime_of(session).settings.section("leads")``) and the workflow
    engine (``.workflows``) from the session it is given, so its callers (a view, a job, a
    command, another plugin) pass nothing else."""
    from accord.core.errors import AccordError

    runtime = session.info.get(RUNTIME_KEY)
    if not isinstance(runtime, Runtime):
        raise AccordError(
            "this session was not opened by a runtime's database (runtime.db.session(...)); "
            "plugin settings and workflows are reached through it"
        )
    return runtime
