"""`accord plugins new`: the add-on it writes installs with `pip install -e` into a fresh
environment, passes its own tests there and shows up in `accord plugins list`; bad names and
occupied folders are refused on one line."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from accord.core.cli import cli
from accord.core.scaffold import kernel_heads


def accord(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The developer's ACCORD_* variables must not reach the add-on's own run.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ACCORD_")}
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def addon(tmp_path: Path, accord_clean_environment: None) -> Path:
    target = tmp_path / "accord-acme-notes"
    result = accord("plugins", "new", "acme_notes", "--path", str(target))
    assert result.exit_code == 0, result.output
    assert f"wrote the add-on 'acme_notes' in {target}" in result.output
    return target


@pytest.fixture
def addon_python(tmp_path: Path) -> Path:
    """A throwaway environment that sees the packages of this one (accord-crm, pytest,
    setuptools) through a .pth file, so installing into it never changes this one."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages = run(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
    ).stdout.strip()
    parent = sysconfig.get_path("purelib")
    (Path(site_packages) / "_accord_parent.pth").write_text(
        f"import site; site.addsitedir({parent!r})\n", encoding="utf-8"
    )
    return python


def test_new_writes_an_addon_package(addon: Path):
    package = addon / "accord_acme_notes"
    written = {path.relative_to(addon).as_posix() for path in addon.rglob("*") if path.is_file()}
    assert written == {
        "pyproject.toml",
        "README.md",
        "accord_acme_notes/__init__.py",
        "accord_acme_notes/py.typed",
        "accord_acme_notes/hooks.py",
        "accord_acme_notes/models.py",
        "accord_acme_notes/migrations/versions/0001_acme_notes_initial.py",
        "tests/test_acme_notes.py",
    }
    pyproject = (addon / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "accord-acme-notes"' in pyproject
    assert 'acme_notes = "accord_acme_notes:plugin"' in pyproject
    for path in addon.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    revision = (package / "migrations/versions/0001_acme_notes_initial.py").read_text()
    assert 'revision: str = "acme_notes_0001"' in revision
    assert 'branch_labels: str | Sequence[str] | None = ("acme_notes",)' in revision
    assert f'depends_on: str | Sequence[str] | None = ("{kernel_heads()[0]}",)' in revision


def test_new_addon_installs_and_passes_its_own_tests(
    addon: Path, addon_python: Path, tmp_path: Path, request: pytest.FixtureRequest
):
    installed = run(
        sys.executable, "-m", "pip", "--python", addon_python, "install", "--quiet",
        "--disable-pip-version-check", "--no-index", "--no-deps", "--no-build-isolation",
        "-e", addon,
        cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    with pytest.raises(PackageNotFoundError):
        distribution("accord-acme-notes")  # only the throwaway environment has it

    postgres = request.config.getoption("--accord-postgres")
    tested = run(
        addon_python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"--accord-postgres={postgres}", addon / "tests",
        cwd=addon,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert " passed" in tested.stdout
    assert " failed" not in tested.stdout

    config = tmp_path / "accord.toml"
    assert accord("--config", str(config), "init").exit_code == 0
    listed = run(
        addon_python, "-c", "from accord.core.cli import main; main()",
        "--config", config, "plugins", "list",
        cwd=tmp_path,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert ["acme_notes", "0.1.0", "package", "accord-acme-notes", "0.1.0", "disabled", "-"] in rows


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (
            "Bad-Name",
            "Error: cannot create the add-on 'Bad-Name': a plugin name is 2-40 lowercase "
            "letters, digits or '_', starting with a letter; e.g. 'acme_notes'",
        ),
        (
            "core",
            "Error: cannot create the add-on 'core': the name is reserved by the kernel; "
            "choose another, e.g. 'acme_notes'",
        ),
    ],
)
def test_new_refuses_a_bad_name(tmp_path: Path, name: str, error: str):
    target = tmp_path / "addon"

    result = accord("plugins", "new", name, "--path", str(target))

    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [error]
    assert not target.exists()


def test_new_refuses_a_folder_that_holds_files(tmp_path: Path):
    target = tmp_path / "accord-acme-notes"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")

    result = accord("plugins", "new", "acme_notes", "--path", str(target))

    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    assert "it exists and is not an empty folder" in result.output
    assert "--path" in result.output
    assert [path.name for path in target.iterdir()] == ["notes.txt"]


def test_new_fills_an_empty_folder(tmp_path: Path):
    target = tmp_path / "accord-acme-notes"
    target.mkdir()

    result = accord("plugins", "new", "acme_notes", "--path", str(target))

    assert result.exit_code == 0, result.output
    assert (target / "accord_acme_notes" / "__init__.py").is_file()
