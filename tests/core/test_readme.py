"""A documented example is tested: the ``accord`` commands that README.md and
docs/integrator.md show in ```console blocks run, in order, in a fresh folder, and must
print the lines the documents show.

How a document marks its examples:

- A ```console block is tested. A line ``$ accord ...`` is a command (``NAME=value``
  words before ``accord`` set environment variables for that command only); the lines
  after it, up to the next ``$``, are output that must appear in that order. ``...``
  inside a shown line matches any text (a path, a revision id). Shown output that starts
  with ``Error:`` means the command must fail; otherwise it must exit 0.
- A ```console block right after the line ``<!-- illustrative -->`` is not run (it needs
  a plugin, a network or a package that a fresh folder does not have), but the commands
  and options it names must exist.
- Other fences (```sh, ```toml) are never run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from accord.core.cli import cli

ROOT = Path(__file__).resolve().parents[2]
TESTED_DOCUMENTS = ("README.md", "docs/integrator.md")
ALL_DOCUMENTS = (*TESTED_DOCUMENTS, "docs/plugin-development.md")
ILLUSTRATIVE = "<!-- illustrative -->"
ACCORD = Path(sys.executable).with_name("accord")
ENV_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.DOTALL)
FENCE = re.compile(r"^(`{3,})(\S*)")


@dataclass(frozen=True)
class Example:
    """One ``$ command`` of a console block and the output lines shown under it."""

    where: str
    command: str
    shown: tuple[str, ...]
    tested: bool

    @property
    def words(self) -> list[str]:
        return shlex.split(self.command)

    @property
    def environment(self) -> dict[str, str]:
        found = {}
        for word in self.words:
            match = ENV_ASSIGNMENT.match(word)
            if not match:
                break
            found[match[1]] = match[2]
        return found

    @property
    def argv(self) -> list[str]:
        return self.words[len(self.environment) :]

    @property
    def must_fail(self) -> bool:
        return any(line.startswith("Error:") for line in self.shown[:1])


def examples(document: str) -> list[Example]:
    """Every ``$`` command of every console block of ``document``, in reading order."""
    lines = (ROOT / document).read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        closing = next(
            (i for i in range(number + 1, len(lines)) if lines[i].startswith(opening[1])),
            len(lines),
        )
        if opening[2] == "console":
            before = [line for line in lines[:number] if line.strip()]
            tested = not before or before[-1].strip() != ILLUSTRATIVE
            found.extend(_block(document, number + 1, lines[number + 1 : closing], tested))
        number = closing + 1
    return found


def _block(document: str, first: int, body: list[str], tested: bool) -> list[Example]:
    result: list[Example] = []
    command: tuple[int, str] | None = None
    shown: list[str] = []
    for offset, line in enumerate(body, start=first + 1):
        if line.startswith("$ "):
            if command is not None:
                result.append(_example(document, command, shown, tested))
            command, shown = (offset, line[2:]), []
        elif command is not None and line.strip():
            shown.append(line.rstrip())
    if command is not None:
        result.append(_example(document, command, shown, tested))
    return result


def _example(document: str, command: tuple[int, str], shown: list[str], tested: bool) -> Example:
    return Example(f"{document}:{command[0]}", command[1], tuple(shown), tested)


def missing_line(shown: tuple[str, ...], output: str) -> str | None:
    """The first shown line that does not appear (in order) in ``output``, or None."""
    remaining = iter(line.rstrip() for line in output.splitlines())
    for want in shown:
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        if not any(pattern.fullmatch(line) for line in remaining):
            return want
    return None


def clean_environment() -> dict[str, str]:
    return {
        name: value for name, value in os.environ.items() if not name.upper().startswith("ACCORD_")
    }


def run(example: Example, folder: Path) -> subprocess.CompletedProcess[str]:
    argv = example.argv
    assert argv[:1] == ["accord"], (
        f"{example.where}: a tested console block runs only `accord` commands, got "
        f"{example.command!r}; put it in a ```sh block or mark the block {ILLUSTRATIVE}"
    )
    return subprocess.run(
        [str(ACCORD), *argv[1:]],
        cwd=folder,
        env={**clean_environment(), **example.environment},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("document", TESTED_DOCUMENTS)
def test_documented_commands_run_and_print_what_is_shown(document, tmp_path):
    tested = [example for example in examples(document) if example.tested]
    assert tested, f"{document} has no tested ```console block"
    for example in tested:
        result = run(example, tmp_path)
        output = result.stdout + result.stderr
        context = f"{example.where}: $ {example.command}\n--- real output ---\n{output}"
        if example.must_fail:
            assert result.returncode != 0, f"expected a failure\n{context}"
        else:
            assert result.returncode == 0, f"exit status {result.returncode}\n{context}"
        missing = missing_line(example.shown, output)
        assert missing is None, f"the shown line {missing!r} is not in the output\n{context}"


def test_readme_tour_is_tested_from_init_to_a_user():
    commands = [" ".join(e.argv[:3]) for e in examples("README.md") if e.tested]
    for expected in (
        "accord init",
        "accord config show",
        "accord plugins list",
        "accord db upgrade",
        "accord db current",
        "accord db history",
        "accord user create",
    ):
        assert expected in commands, f"README.md's tested tour lacks `{expected}`"
    assert commands[0] == "accord init"


def test_untested_documents_mark_every_console_block_illustrative():
    for document in ALL_DOCUMENTS:
        if document in TESTED_DOCUMENTS:
            continue
        unmarked = [e.where for e in examples(document) if e.tested]
        assert not unmarked, f"mark these blocks {ILLUSTRATIVE} (they are not run): {unmarked}"


@pytest.mark.parametrize("document", ALL_DOCUMENTS)
def test_every_documented_command_and_option_exists(document):
    for example in examples(document):
        argv = example.argv
        if argv[:1] != ["accord"]:
            continue  # pip, pytest, python3 dev.py: shown for the reader, not checked here
        problem = unknown_command_or_option(argv[1:])
        assert problem is None, f"{example.where}: $ {example.command}: {problem}"


def unknown_command_or_option(words: list[str]) -> str | None:
    """Walks the click command tree along ``words``; says what does not exist."""
    command: click.Command = cli
    options = _option_names(cli)
    for word in words:
        if word == "--":
            break
        if isinstance(command, click.Group) and word in command.commands:
            command = command.commands[word]
            options |= _option_names(command)
        elif word.startswith("-") and word.split("=")[0] not in options:
            return f"no option {word.split('=')[0]!r} on `{command.name}`"
    if isinstance(command, click.Group):
        return f"`{command.name}` needs a subcommand: {', '.join(sorted(command.commands))}"
    return None


def _option_names(command: click.Command) -> set[str]:
    names = {"--help"}
    for parameter in command.params:
        if isinstance(parameter, click.Option):
            names.update(parameter.opts)
            names.update(parameter.secondary_opts)
    return names
