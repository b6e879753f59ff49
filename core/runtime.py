"""What a command, a request handler or a job needs: settings, the plugin manager and the
database, each built once and only when first asked for (so `accord --help` stays quick:
alembic and the engines load only for the commands that use them)."""

from __future__ import annotations

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


class Runtime:
    def __init__(self, config: Path | str | None = None) -> None:
        self.config_path = config_path(config)

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
        """The principal of user ``user_id``: roles, permissions and team subtree, read now.
        Refused for an unknown or deactivated user."""
        from accord.core.access import AccessDeniedError, Principal
        from accord.core.security import User

        with self.db.session(Principal.system("sign-in")) as session:
            user = session.get(User, user_id)
            if user is None or not user.active:
                raise AccessDeniedError(f"user #{user_id} does not exist or is deactivated")
            return self.policy.principal_for(session, user)

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
