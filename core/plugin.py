"""The plugin object every business area and every partner add-on declares, and its discovery.

A plugin is found through the entry-point group ``accord.plugins``; the built-in areas are
registered there exactly like a partner's package (STYLE: the framework's own features are
plugins).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from accord.core.errors import PluginError

ENTRY_POINT_GROUP = "accord.plugins"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Names the kernel keeps for itself: its migration branch, its settings and its CLI.
RESERVED_NAMES = frozenset({"core", "kernel", "accord", "plugins", "database_url", "secret_key"})
BUILT_IN_DISTRIBUTION = "accord-crm"


@dataclass(frozen=True)
class Plugin:
    """What a plugin says about itself, in its package's ``__init__.py``.

    Example::

        plugin = Plugin(
            name="collections",
            version="1.0.0",
            summary="Receivables, credit lines and dunning",
            package=__name__,
            depends=("orders>=1.0",),
        )

    ``package`` is the import name of the plugin's folder: its ``hooks`` module, its
    ``migrations/versions`` and its ``templates`` are found there. ``depends`` holds
    requirement strings (a plugin name with an optional version specifier). A plugin with
    ``auto_install`` is enabled by itself once all of its dependencies are enabled: a small
    bridge between two areas.
    """

    name: str
    version: str
    summary: str
    package: str
    depends: tuple[str, ...] = ()
    auto_install: bool = False
    requirements: tuple[Requirement, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"plugin {self.name!r} ({self.package})"
        if not NAME_PATTERN.match(self.name):
            raise PluginError(
                f"{where}: name must be 2-40 lowercase letters, digits or '_', "
                "starting with a letter"
            )
        if self.name in RESERVED_NAMES:
            raise PluginError(f"{where}: the name {self.name!r} is reserved by the kernel")
        try:
            Version(self.version)
        except InvalidVersion:
            raise PluginError(
                f"{where}: version {self.version!r} is not a valid version (e.g. '1.2.0')"
            ) from None
        if isinstance(self.depends, str):
            raise PluginError(f"{where}: depends must be a tuple of names, not a string")
        requirements = []
        for spec in self.depends:
            try:
                requirement = Requirement(spec)
            except InvalidRequirement:
                raise PluginError(
                    f"{where}: dependency {spec!r} is not 'name' or 'name>=version'"
                ) from None
            if requirement.name == self.name:
                raise PluginError(f"{where}: a plugin cannot depend on itself")
            requirements.append(requirement)
        object.__setattr__(self, "requirements", tuple(requirements))

    @property
    def dependency_names(self) -> tuple[str, ...]:
        return tuple(requirement.name for requirement in self.requirements)

    @property
    def path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise PluginError(f"plugin {self.name!r}: package {self.package!r} is not importable")
        return Path(next(iter(spec.submodule_search_locations)))

    @property
    def migrations_path(self) -> Path:
        return self.path / "migrations" / "versions"

    def hooks_module(self) -> ModuleType | None:
        """The module holding this plugin's hook implementations, if it has one."""
        name = f"{self.package}.hooks"
        if importlib.util.find_spec(name) is None:
            return None
        return importlib.import_module(name)


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin found on this machine, with where it came from."""

    plugin: Plugin
    distribution: str
    distribution_version: str

    @property
    def name(self) -> str:
        return self.plugin.name

    @property
    def origin(self) -> str:
        if canonicalize_name(self.distribution) == BUILT_IN_DISTRIBUTION:
            return "built-in"
        return f"package {self.distribution} {self.distribution_version}"


Catalogue = dict[str, InstalledPlugin]


def discover_plugins() -> Catalogue:
    """Every plugin that an installed distribution declares in the ``accord.plugins`` group."""
    catalogue: Catalogue = {}
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        found = _load(entry_point)
        if found.name in catalogue:
            other = catalogue[found.name]
            if other.distribution == found.distribution:
                continue  # the same distribution seen twice on sys.path
            raise PluginError(
                f"plugin {found.name!r} is declared by two packages: {other.distribution!r} "
                f"and {found.distribution!r}; uninstall one of them"
            )
        catalogue[found.name] = found
    return catalogue


def _load(entry_point: EntryPoint) -> InstalledPlugin:
    distribution = entry_point.dist.name if entry_point.dist else "unknown"
    version = entry_point.dist.version if entry_point.dist else "?"
    where = f"entry point {entry_point.name!r} = {entry_point.value!r} of package {distribution!r}"
    try:
        plugin = entry_point.load()
    except PluginError as error:
        raise PluginError(f"{where}: {error}") from None
    except Exception as error:
        raise PluginError(f"{where} cannot be loaded: {type(error).__name__}: {error}") from error
    if not isinstance(plugin, Plugin):
        raise PluginError(
            f"{where} must point at an accord.api.Plugin, got {type(plugin).__name__}"
        )
    if plugin.name != entry_point.name:
        raise PluginError(
            f"{where} declares a plugin named {plugin.name!r}; "
            "the entry point's name and the plugin's name must be the same"
        )
    return InstalledPlugin(plugin, distribution, version)
