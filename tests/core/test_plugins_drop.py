"""`accord plugins drop NAME`: a disabled plugin's tables and the kernel's rows kept for it go,
after the integrator has seen what goes and typed the name; the audit log stays."""

import json

import pytest
from sqlalchemy import inspect, select, text

from accord.core.access import Principal
from accord.core.audit import AuditEntry
from accord.core.config_file import set_plugin_list
from accord.core.events import Job, enqueue
from accord.core.importing.run import ImportKey
from accord.core.partners import Partner
from accord.core.runtime import Runtime
from accord.core.security import UserRole
from accord.core.workflow import TransitionRecord

pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")
DUMMY_REVISIONS = {"266f0d055c0a", "2f5ce264f219"}


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


@pytest.fixture
def dummy_data(accord_db, accord_make_user) -> dict[str, int]:
    """Two notes, a user holding a role only the dummy add-on declares, one of its jobs,
    an import key of its importer and a transition in the workflow history."""
    from accord_dummy.models import DummyNote

    rita = accord_make_user("rita", "dummy_reviewer")
    with accord_db.session(Principal.system("test")) as session:
        partner = Partner(kind="company", name="Acme")
        session.add(partner)
        session.flush()
        notes = [DummyNote(partner_id=partner.id, body=f"note {i}", state="draft") for i in (1, 2)]
        session.add_all(notes)
        session.flush()
        enqueue(session, "dummy.purge_drafts")
        session.add(
            ImportKey(
                importer="dummy.notes",
                external_id="N-1",
                record_id=str(notes[0].id),
                fingerprint="f" * 32,
            )
        )
        session.add(
            TransitionRecord(
                model="dummy_note",
                record_id=str(notes[0].id),
                workflow="dummy.note",
                transition="submit",
                from_state="draft",
                to_state="submitted",
                actor="test",
            )
        )
        return {"partner": partner.id, "rita": rita.id}


def tables(db) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_drop_is_refused_while_the_plugin_is_enabled(accord_cli, accord_db, dummy_data):
    result = accord_cli("plugins", "drop", "dummy", "--yes")
    assert result.exit_code == 1
    assert result.output == (
        "Error: plugin 'dummy' is enabled; disable it first (accord plugins disable dummy)\n"
    )
    assert "dummy_note" in tables(accord_db)


def test_drop_asks_for_the_name_and_removes_the_plugins_data(
    accord_cli, accord_db, accord_config, dummy_data
):
    assert accord_cli("plugins", "disable", "dummy").exit_code == 0
    with accord_db.engine.connect() as connection:  # disabling keeps the data
        assert connection.execute(text("SELECT count(*) FROM dummy_note")).scalar_one() == 2

    wrong = accord_cli("plugins", "drop", "dummy", input="dumy\n")
    assert wrong.exit_code == 1
    assert "Error: you typed 'dumy', not 'dummy'; nothing was dropped" in wrong.output
    assert "dummy_note" in tables(accord_db)

    result = accord_cli("plugins", "drop", "dummy", input="dummy\n")
    assert result.exit_code == 0, result.output
    shown, done = result.output.split("Type dummy to drop it: ")
    assert shown.splitlines()[:7] == [
        "Dropping 'dummy' would remove, for good:",
        "  drop table dummy_note (2 rows)",
        "  remove role dummy_note_taker (held by nobody)",
        "  remove role dummy_reviewer (held by 1 user)",
        "  remove 1 job of its subscribers and job types",
        "  remove 1 import key of its importers",
        "  remove 1 workflow history entry of its records",
    ]
    assert shown.splitlines()[7].startswith("Kept: the audit log (")
    assert "  dummy: dropping table dummy_note" in done
    assert "dropped 'dummy'" in done

    assert "dummy_note" not in tables(accord_db)
    with accord_db.engine.connect() as connection:
        versions = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    assert versions  # the kernel's
    assert not versions & DUMMY_REVISIONS
    with accord_db.session(Principal.system("test")) as session:
        assert session.get(Partner, dummy_data["partner"]) is not None  # kernel records stay
        grants = select(UserRole).where(UserRole.user_id == dummy_data["rita"])
        assert not session.scalars(grants).all()
        assert not session.scalars(select(Job).where(Job.target == "dummy.purge_drafts")).all()
        assert not session.scalars(select(ImportKey)).all()
        assert not session.scalars(select(TransitionRecord)).all()
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.model == "dummy_note").order_by(AuditEntry.id)
        ).all()
        revoked = session.scalars(
            select(AuditEntry).where(
                AuditEntry.model == "core_user_role", AuditEntry.action == "delete"
            )
        ).all()
    # Taking a role from a user is a change like any other: the audit log names who did it.
    assert {entry.actor for entry in revoked} == {"system:plugins-drop"}
    # The notes' creations stay in the append-only log, and the drop is recorded after them.
    assert [entry.action for entry in audit] == ["create", "create", "drop"]
    assert json.loads(audit[-1].old_value or "") == {"plugin": "dummy", "rows": 2}
    assert audit[-1].actor == "system:plugins-drop"

    again = accord_cli("plugins", "drop", "dummy", "--yes")
    assert again.exit_code == 1
    assert "plugin 'dummy' has no data in this database" in again.output

    # Enabled again, the plugin starts from empty tables.
    assert accord_cli("plugins", "enable", "dummy").exit_code == 0
    upgrade = accord_cli("db", "upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    with accord_db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM dummy_note")).scalar_one() == 0


def test_drop_is_all_or_nothing(accord_cli, accord_config, accord_db, dummy_data):
    """A failure after the tables were dropped (here in the kernel's part) leaves every table,
    row and revision where it was, on SQLite as on PostgreSQL."""
    assert accord_cli("plugins", "disable", "dummy").exit_code == 0
    before_tables = tables(accord_db)
    runtime = Runtime(accord_config)
    try:
        before = runtime.migrator.current()["dummy"]

        def fail(connection):
            assert "dummy_note" not in inspect(connection).get_table_names()
            raise RuntimeError("the disk is full")

        with pytest.raises(RuntimeError):
            runtime.migrator.drop("dummy", fail, report=lambda line: None)
        assert runtime.migrator.current()["dummy"] == before
    finally:
        runtime.close()
    with accord_db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM dummy_note")).scalar_one() == 2
    assert tables(accord_db) == before_tables  # no half-made copy either


def test_drop_of_an_unknown_or_never_migrated_plugin_is_refused(accord_cli, accord_config):
    unknown = accord_cli("plugins", "drop", "nope", "--yes")
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: unknown plugin 'nope'; installed plugins: ")
    set_plugin_list(accord_config, [])
    assert accord_cli("db", "upgrade").exit_code == 0
    never = accord_cli("plugins", "drop", "dummy", "--yes")
    assert never.exit_code == 1
    assert never.output == (
        "Error: plugin 'dummy' has no data in this database (never migrated here, or dropped "
        "already); nothing to drop\n"
    )


@pytest.mark.parametrize("accord_plugins", [["campaigns"]])
def test_drop_waits_for_the_plugins_that_depend_on_it(accord_cli, accord_config, accord_db):
    """campaigns depends on leads: leads cannot be dropped while campaigns is enabled, nor
    while campaigns' tables (which refer to leads') are in the database."""
    enabled = accord_cli("plugins", "drop", "leads", "--yes")
    assert enabled.exit_code == 1
    assert enabled.output == (
        "Error: plugin 'leads' is enabled because enabled plugins depend on it "
        "(campaigns -> leads); disable those first\n"
    )
    set_plugin_list(accord_config, [])
    kept = accord_cli("plugins", "drop", "leads", "--yes")
    assert kept.exit_code == 1
    assert kept.output == (
        "Error: cannot drop 'leads': the tables of plugins that depend on it are still in the "
        "database (campaigns -> leads); drop those first (accord plugins drop campaigns)\n"
    )
    assert "leads_lead" in tables(accord_db)

    campaigns = accord_cli("plugins", "drop", "campaigns", "--yes")
    assert campaigns.exit_code == 0, campaigns.output
    leads = accord_cli("plugins", "drop", "leads", "--yes")
    assert leads.exit_code == 0, leads.output
    left = {name for name in tables(accord_db) if name.startswith(("leads_", "campaigns_"))}
    assert left == set()
