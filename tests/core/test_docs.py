"""docs/hooks.md stays true to the code: one heading per hook of core/hookspecs.py, in the
same order, with the spec's exact signature and, as its example, the dummy add-on's code
between its ``# docs:`` markers; every hook has a docstring with an example and a
``test_hook_<name>`` in tests/core/test_hooks.py. (datasette's tests/test_docs.py)"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accord.core import hookspecs

ROOT = Path(__file__).parents[2]
HOOKS_DOC = ROOT / "docs" / "hooks.md"
DUMMY_HOOKS = ROOT / "tests" / "dummy_plugin" / "accord_dummy" / "hooks.py"
# Hooks about mail and demo data take their examples from the welcome add-on.
EXAMPLE_HOOKS = [DUMMY_HOOKS, ROOT / "tests" / "welcome_plugin" / "accord_welcome" / "hooks.py"]
HOOK_TESTS = ROOT / "tests" / "core" / "test_hooks.py"

MARKER = re.compile(r"^# docs: (\w+)\n(.*?)^# end docs$", re.MULTILINE | re.DOTALL)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def hook_specs() -> dict[str, Callable[..., Any]]:
    """Every hook declared in core/hookspecs.py, in the order of the file."""
    marker = f"{hookspecs.PROJECT}_spec"
    specs = [
        value
        for value in vars(hookspecs).values()
        if inspect.isfunction(value) and hasattr(value, marker)
    ]
    return {spec.__name__: spec for spec in sorted(specs, key=lambda f: f.__code__.co_firstlineno)}


def signature_line(function: Callable[..., Any]) -> str:
    """``def name(arg: Type) -> Return`` as written in the spec module (its annotations are
    strings there, ``from __future__ import annotations``)."""

    def shown(annotation: Any) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    signature = inspect.signature(function)
    parameters = []
    for parameter in signature.parameters.values():
        text = parameter.name
        if parameter.annotation is not parameter.empty:
            text += f": {shown(parameter.annotation)}"
        if parameter.default is not parameter.empty:
            text += f" = {parameter.default!r}"
        parameters.append(text)
    line = f"def {function.__name__}({', '.join(parameters)})"
    if signature.return_annotation is not signature.empty:
        line += f" -> {shown(signature.return_annotation)}"
    return line


def dummy_examples() -> dict[str, str]:
    """The code between ``# docs: <hook>`` and ``# end docs`` in the test add-ons."""
    examples: dict[str, str] = {}
    for path in EXAMPLE_HOOKS:
        for match in MARKER.finditer(path.read_text()):
            assert match[1] not in examples, f"{path}: a second '# docs: {match[1]}' marker"
            examples[match[1]] = match[2].strip("\n")
    return examples


def doc_sections() -> dict[str, str]:
    """The body of each ``## heading`` of docs/hooks.md, in the order of the file."""
    parts = re.split(r"^## +(.+?) *$", HOOKS_DOC.read_text(), flags=re.MULTILINE)
    return {
        heading.strip("` "): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def python_blocks(section: str) -> list[str]:
    return [block.rstrip("\n") for block in PYTHON_BLOCK.findall(section)]


def hook_test_names() -> set[str]:
    tree = ast.parse(HOOK_TESTS.read_text())
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def short(hook: str) -> str:
    return hook.removeprefix(f"{hookspecs.PROJECT}_")


HOOKS = list(hook_specs())


def test_every_hook_has_a_heading_and_every_heading_a_hook() -> None:
    documented = list(doc_sections())

    assert [name for name in HOOKS if name not in documented] == [], "hooks without docs"
    assert [name for name in documented if name not in HOOKS] == [], "docs of no hook"
    assert documented == HOOKS, "docs/hooks.md must follow the order of core/hookspecs.py"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docs_show_the_exact_signature(hook: str) -> None:
    blocks = python_blocks(doc_sections().get(hook, ""))

    assert blocks, f"docs/hooks.md, ## {hook}: no ```python block"
    assert blocks[0] == signature_line(hook_specs()[hook])


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docs_example_is_the_dummy_plugins_code(hook: str) -> None:
    examples = dummy_examples()
    blocks = python_blocks(doc_sections().get(hook, ""))

    assert hook in examples, f"{DUMMY_HOOKS}: no '# docs: {hook}' ... '# end docs' markers"
    assert len(blocks) == 2, f"docs/hooks.md, ## {hook}: want a signature and an example"
    assert blocks[1] == examples[hook]


def test_every_marker_of_the_dummy_plugin_names_a_hook() -> None:
    assert [name for name in dummy_examples() if name not in HOOKS] == []


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    assert f"test_hook_{short(hook)}" in hook_test_names(), (
        f"{HOOK_TESTS} has no test_hook_{short(hook)}"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_has_a_docstring_with_an_example(hook: str) -> None:
    docstring = inspect.getdoc(hook_specs()[hook]) or ""

    assert docstring, f"core/hookspecs.py: {hook} has no docstring"
    assert "Example" in docstring, f"core/hookspecs.py: {hook}'s docstring has no example"
