#!/usr/bin/env python3
"""The commands a newcomer needs, on a fresh clone, with nothing but Python 3.11+.

    python3 dev.py demo [ARGS]        build the demo company in ./demo/, serve it (accord demo ARGS)
    python3 dev.py test [ARGS]        run the test suite (pytest ARGS)
    python3 dev.py lint               ruff (lint and format), mypy --strict, import contracts
    python3 dev.py typecheck [ARGS]   mypy --strict only (mypy -p accord ARGS)
    python3 dev.py imports [ARGS]     the import contracts of .importlinter only
    python3 dev.py setup              only create .venv and install the project

Each command first makes sure that .venv beside this file exists and holds the project
with its test tools; it reinstalls them only when pyproject.toml has changed. Commands run
from the repository root, so relative paths in ARGS are relative to it.

Standard library only: this file runs before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
PYPROJECT = ROOT / "pyproject.toml"
INSTALL_STAMP = VENV / "accord-pyproject.sha256"
# mypy and import-linter read packages from the file system; see build_import_tree().
IMPORT_TREE = ROOT / "build" / "typecheck"


def say(line: str) -> None:
    print(f"dev.py: {line}", file=sys.stderr, flush=True)


def ensure_venv() -> None:
    """Create .venv if needed and install the project into it when pyproject.toml changed."""
    if not PYTHON.exists():
        say("creating .venv")
        import venv

        try:
            venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
        except subprocess.CalledProcessError:
            shutil.rmtree(VENV, ignore_errors=True)
            sys.exit(
                "dev.py: cannot create .venv: this Python has no working ensurepip; on "
                "Debian or Ubuntu run `apt-get install python3-venv`, then try again"
            )
    wanted = hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()
    if INSTALL_STAMP.exists() and INSTALL_STAMP.read_text().strip() == wanted:
        return
    say("installing dependencies (first run takes a minute)")
    command = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    result = subprocess.run([*command, "--editable", ".[test]"], cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(
            f"dev.py: installing the project into .venv failed (exit {result.returncode}); "
            "fix the error above, or delete .venv to start over"
        )
    INSTALL_STAMP.write_text(wanted + "\n")


def package_dirs() -> dict[str, str]:
    """pyproject's mapping of import names to folders: ``{"accord.core": "core", ...}``."""
    import tomllib  # imported here so that Python < 3.11 reaches the version check

    with PYPROJECT.open("rb") as file:
        mapping: dict[str, str] = tomllib.load(file)["tool"]["setuptools"]["package-dir"]
    return mapping


def build_import_tree(tree: Path = IMPORT_TREE) -> Path:
    """Lay out under ``tree`` the ``accord`` package as an installation would, from symlinks.

    pyproject's package-dir maps root folders to import names (core/ is accord.core). The
    editable install serves that mapping through an import hook, which mypy and
    import-linter cannot see: they walk folders. ``tree/accord/`` holds links to the
    files of accord/ and one link per mapped folder (``tree/accord/core`` -> ``core/``).
    Put ``tree`` first on the search path and modules come out as ``accord.core.x``.
    """
    mapping = package_dirs()
    if tree.is_symlink() or tree.is_file():
        tree.unlink()
    elif tree.exists():
        shutil.rmtree(tree)  # removes the links, never what they point at
    for name in sorted(mapping):
        source = ROOT / mapping[name]
        place = tree.joinpath(*name.split("."))
        if any(other.startswith(f"{name}.") for other in mapping):
            # Some sub-packages live elsewhere: a real folder, one link per entry.
            place.mkdir(parents=True, exist_ok=True)
            for entry in sorted(source.iterdir()):
                if entry.name != "__pycache__" and f"{name}.{entry.name}" not in mapping:
                    (place / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        else:
            place.parent.mkdir(parents=True, exist_ok=True)
            place.symlink_to(source, target_is_directory=True)
    return tree


def tree_paths_to_source(tree: Path = IMPORT_TREE) -> list[tuple[str, str]]:
    """Pairs (path in the tree, path in the repository), most specific first, relative to
    the root: mypy's ``build/typecheck/accord/core/db.py`` is reported as ``core/db.py``."""
    mapping = package_dirs()
    base = tree.relative_to(ROOT).as_posix()
    pairs = [
        (f"{base}/{name.replace('.', '/')}/", f"{folder}/") for name, folder in mapping.items()
    ]
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


def run(command: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Run a command to its end; returns its exit code (128 + N when killed by signal N)."""
    try:
        result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, check=False)
    except KeyboardInterrupt:
        return 130
    return 128 - result.returncode if result.returncode < 0 else result.returncode


def demo(args: Sequence[str]) -> int:
    return run([BIN / "accord", "demo", *args], cwd=ROOT)


def test(args: Sequence[str]) -> int:
    return run([PYTHON, "-m", "pytest", *args], cwd=ROOT)


def ruff_check() -> int:
    return run([BIN / "ruff", "check", "."], cwd=ROOT)


def ruff_format_check() -> int:
    return run([BIN / "ruff", "format", "--check", "."], cwd=ROOT)


def typecheck(args: Sequence[str] = ()) -> int:
    """mypy --strict (settings in pyproject's [tool.mypy]) on every accord.* package,
    reporting paths as they are in the repository."""
    build_import_tree()
    environment = {**os.environ, "MYPYPATH": IMPORT_TREE.relative_to(ROOT).as_posix()}
    command = [str(PYTHON), "-m", "mypy", "-p", "accord", *args]
    renames = tree_paths_to_source()
    try:
        with subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as mypy:
            assert mypy.stdout is not None
            for line in mypy.stdout:
                for in_tree, in_repository in renames:
                    line = line.replace(in_tree, in_repository)
                print(line, end="", flush=True)
    except KeyboardInterrupt:
        return 130
    return mypy.returncode


def imports(args: Sequence[str] = ()) -> int:
    """The contracts of .importlinter, checked against the symlink tree.

    lint-imports puts its working directory first on sys.path; run from the root it would
    find accord/ without core/, plugins/ or ui/. Run from the tree, it finds all of them.
    """
    build_import_tree()
    environment = {**os.environ, "PYTHONPATH": str(IMPORT_TREE)}
    config = ROOT / ".importlinter"
    command: list[str | Path] = [BIN / "lint-imports", "--no-logo", "--config", config, *args]
    return run(command, cwd=IMPORT_TREE, env=environment)


def lint(args: Sequence[str]) -> int:
    if args:
        sys.exit("dev.py: lint takes no arguments; use typecheck or imports to pass some")
    failed = []
    steps = [
        ("ruff check", ruff_check),
        ("ruff format --check", ruff_format_check),
        ("mypy", typecheck),
        ("import contracts", imports),
    ]
    for title, step in steps:
        say(f"--- {title}")
        if step() != 0:
            failed.append(title)
    say(f"failed: {', '.join(failed)}" if failed else "lint passed")
    return 1 if failed else 0


def setup(args: Sequence[str]) -> int:
    if args:
        sys.exit("dev.py: setup takes no arguments")
    return 0  # main() has already done it


COMMANDS = {
    "setup": setup,
    "demo": demo,
    "test": test,
    "lint": lint,
    "typecheck": typecheck,
    "imports": imports,
}


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    ensure_venv()
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    # Checked although pyproject says 3.11+: this file runs before anything reads pyproject.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"dev.py needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    sys.exit(main(sys.argv[1:]))
