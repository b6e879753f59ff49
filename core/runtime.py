"""What a command, a request handler or a job needs: settings, the plugin manager and the
database, each built once and only when first asked for (so `accord --help` stays quick:
alembic and the engines load only for the commands that use them)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from accord.core.settings import config_path

if TYPE_CHECKING:
    from accord.core.db import Database
    from accord.core.manager import AccordPluginManager
    from accord.core.migrate import Migrator
    from accord.core.settings import AccordSettings


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

        return Database(self.settings.database_url)

    @cached_property
    def migrator(self) -> Migrator:
        from accord.core.migrate import Migrator

        return Migrator(self.pm, self.db)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
