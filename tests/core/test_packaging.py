"""The flat folders are installed under the accord namespace, and none is forgotten."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"accord": "accord", "core": "accord.core", "plugins": "accord.plugins", "ui": "accord.ui"}


def test_every_python_package_folder_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = set()
    for folder, name in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            if ("migrations" in parts and parts[-1] == "versions") or "addon_template" in parts:
                continue
            found.add(".".join((name, *parts)))
    assert found - listed == set(), "add these packages to [tool.setuptools] packages"


def test_no_generic_top_level_name_is_installed():
    import accord.core

    assert accord.core.__name__ == "accord.core"
    assert Path(accord.core.__file__).parent == ROOT / "core"
