"""A plugin developer's loop: write a model, let autogenerate write the plugin's first
revision into the plugin's own folder, upgrade, and find models and migrations agreeing."""

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from accord.api import Base, TimestampMixin, intpk


class Visit(TimestampMixin, Base):
    __tablename__ = "visits_visit"

    id: Mapped[intpk]
    partner_id: Mapped[int] = mapped_column(ForeignKey("core_partner.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(200))
"""

HOOKS = """
from accord.api import hookimpl


@hookimpl
def accord_models():
    from .models import Visit

    return [Visit]
"""


@pytest.fixture(scope="module")
def visits_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One package for the module: its model joins the one declarative Base when first
    # imported, and a model class cannot be declared twice in a process.
    root = tmp_path_factory.mktemp("site")
    package = root / "accord_visits"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from accord.api import Plugin\n\n"
        'plugin = Plugin(name="visits", version="0.1.0", summary="Field visits", '
        "package=__name__)\n"
    )
    (package / "models.py").write_text(textwrap.dedent(MODELS))
    (package / "hooks.py").write_text(textwrap.dedent(HOOKS))
    info = root / "accord_visits-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: accord-visits\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[accord.plugins]\nvisits = accord_visits:plugin\n")
    return root


@pytest.fixture
def visits_addon(visits_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(visits_site))
    package = visits_site / "accord_visits"
    yield package
    shutil.rmtree(package / "migrations", ignore_errors=True)


def test_autogenerate_writes_the_first_revision_into_the_plugin(
    visits_addon: Path, accord_cli, accord_db, accord_runtime
):
    (kernel_head,) = accord_runtime.migrator.script().get_revisions("core@head")
    assert accord_cli("plugins", "enable", "visits").exit_code == 0
    assert accord_cli("db", "upgrade").exit_code == 0
    result = accord_cli(
        "db", "revision", "--plugin", "visits", "-m", "field visits", "--autogenerate"
    )
    assert result.exit_code == 0, result.output
    written = list((visits_addon / "migrations" / "versions").glob("*_field_visits.py"))
    assert len(written) == 1, result.output
    source = written[0].read_text()
    assert "branch_labels: str | Sequence[str] | None = ('visits',)" in source
    assert f"depends_on: str | Sequence[str] | None = {kernel_head.revision!r}" in source
    assert "op.create_table('visits_visit'" in source
    assert "core_partner" not in source.split("op.create_table('visits_visit'")[0]
    assert "import accord.api" in source
    assert "accord.core" not in source

    upgrade = accord_cli("db", "upgrade")
    assert "visits: upgrading to its newest revision" in upgrade.output
    assert "visits_visit" in inspect(accord_db.engine).get_table_names()
    assert accord_cli("db", "check").exit_code == 0
    again = accord_cli("db", "revision", "--plugin", "visits", "-m", "nothing", "--autogenerate")
    assert again.output.strip() == "visits: the models and the database agree; no revision written"


def test_revision_for_a_disabled_plugin_says_how_to_enable_it(visits_addon: Path, accord_cli):
    result = accord_cli("db", "revision", "--plugin", "visits", "-m", "x", "--autogenerate")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: plugin 'visits' is not enabled; enable it (accord plugins enable visits) and "
        "run `accord db upgrade` before writing its revision"
    )


def test_autogenerate_needs_an_up_to_date_database(visits_addon: Path, accord_cli):
    assert accord_cli("plugins", "enable", "visits").exit_code == 0
    result = accord_cli("db", "revision", "--plugin", "visits", "-m", "x", "--autogenerate")
    assert result.exit_code == 1
    assert "the database is not up to date for core; run `accord db upgrade` first" in result.output
