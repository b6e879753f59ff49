"""The plugin manager: hookspecs, the kernel's own default plugins, then the enabled plugins.

There is no global manager: ``create_plugin_manager(settings)`` builds a fresh one, so a
test or a second app in the same process can use another set of plugins.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

import click
import pluggy
from pluggy import HookImpl, Result
from sqlalchemy import Table

from accord.core import hookspecs
from accord.core.errors import PluginError
from accord.core.plugin import InstalledPlugin
from accord.core.settings import AccordSettings

log = logging.getLogger("accord.hooks")

# The kernel's own features, registered exactly like a plugin's hooks (STYLE, datasette).
KERNEL_PLUGINS = {"core": "accord.core.defaults"}


class AccordPluginManager(pluggy.PluginManager):
    """A pluggy manager that also knows which Accord plugins it loaded."""

    def __init__(self, settings: AccordSettings) -> None:
        super().__init__(hookspecs.PROJECT)
        self.settings = settings
        self.loaded: tuple[InstalledPlugin, ...] = ()
        self._collected: dict[str, list[tuple[str, Any]]] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self._collected.clear()  # a plugin registered later contributes too
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        self._collected.clear()
        return super().unregister(plugin, name)

    def collect(self, hook_name: str) -> list[Any]:
        """Everything the plugins contribute through ``hook_name``, kernel first, then in
        load order; a name contributed twice is refused, naming both plugins."""
        return [item for _, item in self.collect_with_owner(hook_name)]

    def collect_with_owner(self, hook_name: str) -> list[tuple[str, Any]]:
        if hook_name not in self._collected:
            self._collected[hook_name] = _collect(self, hook_name)
        return self._collected[hook_name]

    def owned_tables(self) -> dict[str, str]:
        """Table name -> the plugin (or ``core``) whose models declare it."""
        owners: dict[str, str] = {}
        for owner, model in self.collect_with_owner("accord_models"):
            table = model if isinstance(model, Table) else getattr(model, "__table__", None)
            if table is not None:
                owners.setdefault(str(table.name), owner)
        return owners


def _collect(pm: AccordPluginManager, hook_name: str) -> list[tuple[str, Any]]:
    caller = getattr(pm.hook, hook_name)
    seen: dict[object, str] = {}
    items: list[tuple[str, Any]] = []
    # pluggy calls implementations last-registered first; contributions read better in
    # registration order (kernel, then dependencies before dependents).
    for impl in caller.get_hookimpls():
        owner = impl.plugin_name
        for item in impl.function() or ():
            key = _contribution_key(item)
            if key is None:
                items.append((owner, item))
                continue
            if key in seen:
                raise PluginError(
                    f"{hook_name}: {key!r} is contributed by both {seen[key]!r} and {owner!r}; "
                    "names must be unique (prefix them with the plugin's name)"
                )
            seen[key] = owner
            items.append((owner, item))
    return items


def _contribution_key(item: Any) -> object | None:
    """The global name of a contribution (a record of accord.core.contributions, or a model
    class), which must be unique across plugins. Folders and Starlette routes have none:
    two plugins may both have a ``templates`` folder or an ``index`` route (mounted under
    each plugin's own path)."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return getattr(item, "name", None)
    if isinstance(item, type):
        return item.__name__
    if isinstance(item, click.Command):
        return item.name
    return None


def plugin_hook_modules(
    enabled: Iterable[InstalledPlugin],
) -> list[tuple[InstalledPlugin, ModuleType]]:
    """Each enabled plugin with the module holding its hook implementations."""
    modules = []
    for found in enabled:
        try:
            module = found.plugin.hooks_module()
        except Exception as error:
            raise PluginError(
                f"plugin {found.name!r}: {found.plugin.package}.hooks cannot be imported: "
                f"{type(error).__name__}: {error}"
            ) from error
        if module is not None:
            modules.append((found, module))
    return modules


def create_plugin_manager(
    settings: AccordSettings, enabled: Sequence[InstalledPlugin] | None = None
) -> AccordPluginManager:
    """Load the hookspecs, the kernel's default plugins, then the enabled plugins in
    dependency order; a hook implementation that matches no spec fails here.

    ``enabled`` replaces the settings' plugins, to look at another set (a plan).
    """
    loading = settings.enabled if enabled is None else tuple(enabled)
    pm = AccordPluginManager(settings)
    pm.add_hookspecs(hookspecs)
    for name, module_name in KERNEL_PLUGINS.items():
        pm.register(importlib.import_module(module_name), name=name)
    for found, module in plugin_hook_modules(loading):
        _add_plugin_hookspecs(pm, found)
        try:
            pm.register(module, name=found.name)
        except pluggy.PluginValidationError as error:
            raise PluginError(f"plugin {found.name!r}: {error}") from None
    pm.loaded = loading
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(
            f"plugin {pm.get_name(error.plugin)!r} implements a hook that no plugin declares: "
            f"{error}; "
            "check its spelling against docs/hooks.md"
        ) from None
    if settings.trace_hooks:
        _trace(pm, log.info)
    return pm


def _add_plugin_hookspecs(pm: AccordPluginManager, found: InstalledPlugin) -> None:
    name = f"{found.plugin.package}.hookspecs"
    if importlib.util.find_spec(name) is not None:
        pm.add_hookspecs(importlib.import_module(name))


def _trace(pm: pluggy.PluginManager, write: Callable[[str], None]) -> None:
    def before(hook_name: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
        write(f"hook {hook_name} -> {[impl.plugin_name for impl in impls]} {kwargs}")

    def after(
        outcome: Result[Any], hook_name: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        write(f"hook {hook_name} done")

    pm.add_hookcall_monitoring(before, after)
