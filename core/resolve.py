"""Dependency closure and load order of plugins: deterministic, with errors that name the chain."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from packaging.version import Version

from accord.core.errors import PluginError
from accord.core.plugin import Catalogue, InstalledPlugin


def resolve(catalogue: Catalogue, requested: Iterable[str]) -> list[InstalledPlugin]:
    """The plugins to load for ``requested``: their dependencies and the bridges that
    ``auto_install`` brings in, each after everything it depends on.

    Ties are broken by name, so the order is the same on every machine.
    """
    selected: dict[str, InstalledPlugin] = {}
    pending: list[tuple[str, str | None]] = [(name, None) for name in requested]
    while True:
        while pending:
            name, needed_by = pending.pop()
            if name in selected:
                continue
            found = catalogue.get(name)
            if found is None:
                raise PluginError(_missing(catalogue, name, needed_by))
            selected[name] = found
            pending.extend((dependency, name) for dependency in found.plugin.dependency_names)
        bridges = [
            found.name
            for found in catalogue.values()
            if found.plugin.auto_install
            and found.name not in selected
            and all(name in selected for name in found.plugin.dependency_names)
        ]
        if not bridges:
            break
        pending.extend((name, None) for name in sorted(bridges))
    _check_versions(selected)
    return _topological(selected)


def _missing(catalogue: Catalogue, name: str, needed_by: str | None) -> str:
    installed = ", ".join(sorted(catalogue)) or "none"
    if needed_by is None:
        return (
            f"unknown plugin {name!r}; installed plugins: {installed} (see `accord plugins list`)"
        )
    return (
        f"plugin {needed_by!r} depends on {name!r}, which is not installed; "
        f"install the package that provides {name!r} or disable {needed_by!r}"
    )


def _check_versions(selected: dict[str, InstalledPlugin]) -> None:
    for found in selected.values():
        for requirement in found.plugin.requirements:
            dependency = selected[requirement.name].plugin
            if not requirement.specifier.contains(Version(dependency.version), prereleases=True):
                raise PluginError(
                    f"plugin {found.name!r} needs {requirement}, but {dependency.name!r} "
                    f"{dependency.version} is installed"
                )


def _topological(selected: dict[str, InstalledPlugin]) -> list[InstalledPlugin]:
    waiting_on = {name: set(found.plugin.dependency_names) for name, found in selected.items()}
    ready = [name for name, deps in waiting_on.items() if not deps]
    heapq.heapify(ready)
    order: list[InstalledPlugin] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(selected[name])
        for other, deps in waiting_on.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    if len(order) < len(selected):
        raise PluginError(f"dependency cycle: {' -> '.join(_cycle(selected))}")
    return order


def _cycle(selected: dict[str, InstalledPlugin]) -> list[str]:
    """One cycle among the plugins, as a path that ends where it starts."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str]:
        visiting.append(name)
        for dependency in sorted(selected[name].plugin.dependency_names):
            if dependency in visiting:
                return [*visiting[visiting.index(dependency) :], dependency]
            if dependency not in done:
                cycle = visit(dependency)
                if cycle:
                    return cycle
        visiting.pop()
        done.add(name)
        return []

    for name in sorted(selected):
        if name not in done:
            cycle = visit(name)
            if cycle:
                return cycle
    return []


def dependents(catalogue: Catalogue, enabled: Iterable[str], name: str) -> list[list[str]]:
    """Chains from each enabled plugin that needs ``name`` down to it, e.g.
    ``[["edi", "orders"], ["collections", "orders"]]``; empty when nothing needs it."""
    chains: list[list[str]] = []
    for start in sorted(set(enabled) - {name}):
        chain = _path(catalogue, start, name)
        if chain:
            chains.append(chain)
    return chains


def _path(catalogue: Catalogue, start: str, goal: str) -> list[str]:
    queue: list[list[str]] = [[start]]
    seen = {start}
    while queue:
        path = queue.pop(0)
        found = catalogue.get(path[-1])
        for dependency in sorted(found.plugin.dependency_names) if found else ():
            if dependency == goal:
                return [*path, goal]
            if dependency not in seen:
                seen.add(dependency)
                queue.append([*path, dependency])
    return []
