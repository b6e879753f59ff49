"""What enabling a plugin would add, computed without changing anything (DESIGN rule 10)."""

from __future__ import annotations

from dataclasses import dataclass

from accord.core.errors import PluginError
from accord.core.manager import create_plugin_manager
from accord.core.plugin import InstalledPlugin
from accord.core.resolve import resolve
from accord.core.settings import AccordSettings


@dataclass(frozen=True)
class Plan:
    plugins: tuple[InstalledPlugin, ...]
    tables: tuple[str, ...]
    permissions: tuple[str, ...]
    roles: tuple[str, ...]
    menu_items: tuple[str, ...]


def plan_enable(settings: AccordSettings, name: str) -> Plan:
    if name in {found.name for found in settings.enabled}:
        raise PluginError(f"plugin {name!r} is enabled already")
    before = {found.name for found in settings.enabled}
    after = resolve(settings.catalogue, [*settings.plugins, name])
    added = tuple(found for found in after if found.name not in before)
    new_names = {found.name for found in added}
    pm = create_plugin_manager(settings, enabled=after)

    def contributed(hook: str) -> tuple[str, ...]:
        return tuple(
            f"{item.name} ({owner})"
            for owner, item in pm.collect_with_owner(hook)
            if owner in new_names
        )

    tables = tuple(
        f"{table} ({owner})"
        for table, owner in sorted(pm.owned_tables().items())
        if owner in new_names
    )
    return Plan(
        plugins=added,
        tables=tables,
        permissions=contributed("accord_permissions"),
        roles=contributed("accord_roles"),
        menu_items=contributed("accord_menu_items"),
    )
