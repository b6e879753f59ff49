"""DESIGN rule 1, as far as imports can break it: the kernel imports no plugin, plugins use
the kernel through accord.api, and a plugin imports another only if it declares it in
``depends``, and then only that plugin's public ``api`` module."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from textwrap import dedent
from types import ModuleType

from packaging.requirements import InvalidRequirement, Requirement

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = "accord.plugins"


def load_dev_script() -> ModuleType:
    """dev.py builds the symlink tree that import-linter needs (see its build_import_tree)."""
    spec = importlib.util.spec_from_file_location("accord_dev_script", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lint_imports(
    tree: Path, config: Path = ROOT / ".importlinter"
) -> subprocess.CompletedProcess[str]:
    # lint-imports puts its working directory first on sys.path: run it from the tree.
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--no-logo",
            "--no-cache",
            "--config",
            str(config),
        ],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )


def write_files(base: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(content))


def test_import_contracts_are_kept(tmp_path):
    tree = load_dev_script().build_import_tree(tmp_path / "tree")
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_contracts_catch_each_forbidden_import(tmp_path):
    write_files(
        tmp_path,
        {
            "accord/__init__.py": "",
            "accord/api.py": "from accord.core import partners\n",
            "accord/core/__init__.py": "",
            "accord/core/partners.py": "",
            "accord/core/menu.py": "from accord.plugins.leads import api\n",
            "accord/ui/__init__.py": "",
            "accord/plugins/__init__.py": "",
            "accord/plugins/leads/__init__.py": "",
            "accord/plugins/leads/api.py": "from accord.api import *\n",
            "accord/plugins/leads/models.py": "from accord.core import partners\n",
            "accord/plugins/campaigns/__init__.py": "",
            "accord/plugins/campaigns/views.py": "from accord.plugins.leads import api\n",
        },
    )
    # The contracts as declared, without the edges the real plugins declare: this tree has
    # none of their modules, and an ignore line that matches nothing is an error.
    declared = (ROOT / ".importlinter").read_text()
    contracts = tmp_path / "contracts.ini"
    contracts.write_text(re.sub(r"^ignore_imports =\n(?:[ \t]+\S.*\n?)+", "", declared, flags=re.M))
    result = lint_imports(tmp_path, contracts)
    assert result.returncode != 0
    report = result.stdout
    assert "Contracts: 0 kept, 3 broken." in report, report
    assert "accord.core.menu -> accord.plugins.leads.api" in report
    assert "accord.plugins.leads.models -> accord.core.partners" in report
    assert "accord.plugins.campaigns.views -> accord.plugins.leads.api" in report


def declared_plugin(init: Path) -> tuple[str, tuple[str, ...]] | None:
    """The name and the depends of the ``Plugin(...)`` in a plugin's ``__init__.py``."""
    for node in ast.walk(ast.parse(init.read_text(), str(init))):
        if not isinstance(node, ast.Call):
            continue
        called = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if isinstance(node.func, ast.Name):
            called = node.func.id
        if called != "Plugin":
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        name = keywords.get("name")
        if not isinstance(name, ast.Constant) or not isinstance(name.value, str):
            return None
        try:
            depends = ast.literal_eval(keywords["depends"]) if "depends" in keywords else ()
        except ValueError:
            return None
        return name.value, tuple(depends)
    return None


def imported_names(path: Path, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module (or module attribute) a file imports, as (line, absolute dotted name)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def undeclared_plugin_imports(plugins: Path) -> list[str]:
    """What breaks DESIGN rule 1 between the plugin folders under ``plugins``."""
    folders = sorted(path.parent for path in plugins.glob("*/__init__.py"))
    declared = {folder.name: declared_plugin(folder / "__init__.py") for folder in folders}
    problems = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            where = path.relative_to(plugins.parent)
            parts = path.relative_to(plugins).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            module = ".".join([PLUGINS, *(parts[:-1] if is_package else parts)])
            for line, name in imported_names(path, module, is_package):
                other = name.removeprefix(f"{PLUGINS}.").split(".")[0]
                if not name.startswith(f"{PLUGINS}.") or other in (folder.name, "*"):
                    continue
                if not name.startswith(f"{PLUGINS}.{other}.api"):
                    problems.append(
                        f"{where}:{line} imports {name}: import only the public module "
                        f"{PLUGINS}.{other}.api of another plugin"
                    )
                manifest = declared[folder.name]
                if manifest is None:
                    problems.append(
                        f"{where}:{line} imports plugin {other!r}, but "
                        f"{folder.name}/__init__.py has no Plugin(name='...', depends=(...)) "
                        "written out literally to check it against"
                    )
                    continue
                wanted = declared[other][0] if declared.get(other) else other
                try:
                    names = {Requirement(spec).name for spec in manifest[1]}
                except InvalidRequirement as error:
                    problems.append(f"{folder.name}/__init__.py: depends: {error}")
                    continue
                if wanted not in names:
                    problems.append(
                        f"{where}:{line} imports plugin {wanted!r}, which plugin "
                        f"{manifest[0]!r} does not declare: add it to depends in "
                        f"{folder.name}/__init__.py (and an ignore_imports line to .importlinter)"
                    )
    return problems


def test_plugins_import_only_plugins_they_depend_on():
    assert undeclared_plugin_imports(ROOT / "plugins") == []


def test_an_undeclared_or_private_plugin_import_is_reported(tmp_path):
    plugins = tmp_path / "plugins"
    write_files(
        plugins,
        {
            "leads/__init__.py": """\
                from accord.api import Plugin

                plugin = Plugin(name="leads", version="1.0", summary="Leads", package=__name__)
                """,
            "leads/api.py": "",
            "leads/models.py": "",
            "campaigns/__init__.py": """\
                from accord.api import Plugin

                plugin = Plugin(name="campaigns", version="1.0", summary="C", package=__name__)
                """,
            "campaigns/views.py": "from accord.plugins.leads.api import Lead\n",
            "campaigns/reports/roi.py": "from ...leads import models\nfrom .. import views\n",
        },
    )
    assert undeclared_plugin_imports(plugins) == [
        "plugins/campaigns/reports/roi.py:1 imports accord.plugins.leads.models: "
        "import only the public module accord.plugins.leads.api of another plugin",
        "plugins/campaigns/reports/roi.py:1 imports plugin 'leads', which plugin 'campaigns' "
        "does not declare: add it to depends in campaigns/__init__.py "
        "(and an ignore_imports line to .importlinter)",
        "plugins/campaigns/views.py:1 imports plugin 'leads', which plugin 'campaigns' "
        "does not declare: add it to depends in campaigns/__init__.py "
        "(and an ignore_imports line to .importlinter)",
    ]

    (plugins / "campaigns/__init__.py").write_text(
        "from accord.api import Plugin\n\nplugin = Plugin(\n"
        "    name='campaigns', version='1.0', summary='C', package=__name__,\n"
        "    depends=('leads>=1.0',),\n)\n"
    )
    (plugins / "campaigns/reports/roi.py").write_text("from ...leads.api import Lead\n")
    assert undeclared_plugin_imports(plugins) == []
