"""What a command, a request handler or a job needs: settings, the plugin manager and the
database, each built once and only when first asked for."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from accord.core.db import Database
from accord.core.manager import AccordPluginManager, create_plugin_manager
from accord.core.migrate import Migrator
from accord.core.settings import AccordSettings, config_path, load_settings


class Runtime:
    def __init__(self, config: Path | str | None = None) -> None:
        self.config_path = config_path(config)

    @cached_property
    def settings(self) -> AccordSettings:
        return load_settings(self.config_path)

    @cached_property
    def pm(self) -> AccordPluginManager:
        return create_plugin_manager(self.settings)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def migrator(self) -> Migrator:
        return Migrator(self.pm, self.db)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
