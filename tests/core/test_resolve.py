"""Plugin dependencies: closure, deterministic order, and the errors an integrator sees."""

import pytest

from accord.core.errors import PluginError
from accord.core.plugin import InstalledPlugin, Plugin
from accord.core.resolve import dependents, resolve


def catalogue(*plugins: Plugin) -> dict[str, InstalledPlugin]:
    return {p.name: InstalledPlugin(p, "accord-crm", "0.1.0") for p in plugins}


def plugin(name: str, *depends: str, version: str = "1.0.0", auto: bool = False) -> Plugin:
    return Plugin(name, version, f"{name} area", f"pkg_{name}", depends, auto_install=auto)


def names(found: list[InstalledPlugin]) -> list[str]:
    return [f.name for f in found]


def test_dependencies_come_first_and_order_is_stable():
    found = catalogue(
        plugin("orders"),
        plugin("collections", "orders>=1.0"),
        plugin("leads"),
        plugin("campaigns", "leads"),
    )
    assert names(resolve(found, ["collections", "campaigns"])) == [
        "leads",
        "campaigns",
        "orders",
        "collections",
    ]
    assert names(resolve(found, ["campaigns", "collections"])) == names(
        resolve(found, ["collections", "campaigns"])
    )


def test_enabling_pulls_in_dependencies():
    found = catalogue(plugin("orders"), plugin("collections", "orders"))
    assert names(resolve(found, ["collections"])) == ["orders", "collections"]


def test_unknown_plugin_lists_installed_ones():
    with pytest.raises(PluginError) as error:
        resolve(catalogue(plugin("orders")), ["ordres"])
    assert str(error.value) == (
        "unknown plugin 'ordres'; installed plugins: orders (see `accord plugins list`)"
    )


def test_missing_dependency_names_who_needs_it():
    with pytest.raises(PluginError) as error:
        resolve(catalogue(plugin("collections", "orders")), ["collections"])
    assert str(error.value).startswith(
        "plugin 'collections' depends on 'orders', which is not installed"
    )


def test_version_conflict_names_both_versions():
    found = catalogue(plugin("orders", version="1.4.0"), plugin("collections", "orders>=2.0"))
    with pytest.raises(PluginError) as error:
        resolve(found, ["collections"])
    assert (
        str(error.value)
        == "plugin 'collections' needs orders>=2.0, but 'orders' 1.4.0 is installed"
    )


def test_cycle_is_shown_as_a_chain():
    found = catalogue(plugin("aa", "bb"), plugin("bb", "cc"), plugin("cc", "aa"), plugin("dd"))
    with pytest.raises(PluginError) as error:
        resolve(found, ["aa", "dd"])
    assert str(error.value) == "dependency cycle: aa -> bb -> cc -> aa"


def test_bridge_is_enabled_when_all_its_dependencies_are():
    found = catalogue(
        plugin("leads"), plugin("orders"), plugin("sale_crm", "leads", "orders", auto=True)
    )
    assert names(resolve(found, ["leads"])) == ["leads"]
    assert names(resolve(found, ["leads", "orders"])) == ["leads", "orders", "sale_crm"]


def test_dependents_are_reported_as_chains():
    found = catalogue(
        plugin("orders"), plugin("collections", "orders"), plugin("edi", "collections")
    )
    assert dependents(found, ["edi", "collections", "orders"], "orders") == [
        ["collections", "orders"],
        ["edi", "collections", "orders"],
    ]
    assert dependents(found, ["orders"], "orders") == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"name": "Bad-Name"}, "name must be"),
        ({"name": "core"}, "reserved"),
        ({"version": "one"}, "not a valid version"),
        ({"depends": ("orders >>> 2",)}, "is not 'name' or 'name>=version'"),
        ({"depends": "orders"}, "must be a tuple"),
    ],
)
def test_malformed_plugin_objects_are_refused(kwargs, problem):
    fields = {"name": "orders", "version": "1.0", "summary": "", "package": "x", **kwargs}
    with pytest.raises(PluginError, match=problem):
        Plugin(**fields)
