"""`accord plugins new`: write a partner's add-on package from the templates in
``addon_template/``, ready for ``pip install -e`` and passing its own tests at once."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from string import Template

from alembic.script import ScriptDirectory

from accord.core.errors import PluginError
from accord.core.migrate import KERNEL_VERSIONS, MIGRATIONS_HOME
from accord.core.plugin import NAME_PATTERN, RESERVED_NAMES

TEMPLATES = Path(__file__).parent / "addon_template"
TEMPLATE_SUFFIX = ".tmpl"
# Stands for the plugin's name in the templates' file and folder names.
NAME_MARK = "NAME"


def write_addon(name: str, target: Path) -> list[Path]:
    """Write the add-on ``name`` into the folder ``target``; returns the files written."""
    check_name(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PluginError(
            f"cannot write the add-on {name!r} into {str(target)!r}: it exists and is not an "
            "empty folder; choose another folder with --path or remove it"
        )
    values = template_values(name)
    written = []
    for template in sorted(TEMPLATES.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = template.relative_to(TEMPLATES).with_suffix("")
        path = target.joinpath(*(part.replace(NAME_MARK, name) for part in relative.parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        text = Template(template.read_text(encoding="utf-8")).substitute(values)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_name(name: str) -> None:
    """The rules of ``Plugin.name``, said before anything is written."""
    if not NAME_PATTERN.match(name):
        raise PluginError(
            f"cannot create the add-on {name!r}: a plugin name is 2-40 lowercase letters, "
            "digits or '_', starting with a letter; e.g. 'acme_notes'"
        )
    if name in RESERVED_NAMES:
        raise PluginError(
            f"cannot create the add-on {name!r}: the name is reserved by the kernel; "
            "choose another, e.g. 'acme_notes'"
        )


def template_values(name: str) -> dict[str, str]:
    title = name.replace("_", " ").capitalize()
    return {
        "name": name,
        "package": f"accord_{name}",
        "distribution": f"accord-{name.replace('_', '-')}",
        "summary": f"{title}: notes about customers",
        "model": "".join(word.capitalize() for word in name.split("_")) + "Note",
        "table": f"{name}_note",
        "revision": f"{name}_0001",
        "depends_on": "({},)".format(", ".join(f'"{head}"' for head in kernel_heads())),
        "accord_version": version("accord-crm"),
    }


def kernel_heads() -> tuple[str, ...]:
    """The kernel's newest revision(s): an add-on's first revision comes after them."""
    script = ScriptDirectory(str(MIGRATIONS_HOME), version_locations=[str(KERNEL_VERSIONS)])
    return tuple(script.get_heads())
