"""The audit log: every change to a business record is recorded, and nothing changes it."""

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from accord.core.audit import AuditEntry, AuditLogImmutableError, history, user_actor
from accord.core.migrate import KERNEL
from accord.core.partners import Partner, PartnerKind
from accord.core.security import create_user, hash_password

ACTOR = "user:7:anna"


def make_partner(db, name="Rossi Srl"):
    with db.session(actor=ACTOR, context="req-1") as session:
        partner = Partner(kind=PartnerKind.COMPANY, name=name, email="info@rossi.example")
        session.add(partner)
    return partner


def entries(db, model, record_id):
    with db.session() as session:
        return list(history(session, model, str(record_id)))


def test_creating_a_partner_writes_create_rows_with_actor_and_context(accord_db):
    partner = make_partner(accord_db)
    rows = entries(accord_db, "core_partner", partner.id)
    fields = {row.field: row for row in rows}
    assert {row.action for row in rows} == {"create"}
    assert fields["name"].old_value is None
    assert fields["name"].new_value == '"Rossi Srl"'
    assert fields["kind"].new_value == '"company"'
    assert fields["id"].new_value == str(partner.id)
    assert "updated_at" not in fields
    assert {(row.actor, row.context) for row in rows} == {(ACTOR, "req-1")}


def test_changing_a_name_writes_exactly_one_update_row(accord_db):
    partner = make_partner(accord_db)
    with accord_db.session(actor="system:import", context="job-42") as session:
        session.get(Partner, partner.id).name = "Rossi SpA"
    updates = [
        row for row in entries(accord_db, "core_partner", partner.id) if row.action == "update"
    ]
    assert len(updates) == 1
    row = updates[0]
    assert (row.field, row.old_value, row.new_value) == ("name", '"Rossi Srl"', '"Rossi SpA"')
    assert (row.actor, row.context) == ("system:import", "job-42")


def test_setting_the_same_value_writes_nothing(accord_db):
    partner = make_partner(accord_db)
    with accord_db.session() as session:
        session.get(Partner, partner.id).name = "Rossi Srl"
    assert [row.action for row in entries(accord_db, "core_partner", partner.id)].count(
        "update"
    ) == 0


def test_deleting_writes_delete_rows_with_the_old_values(accord_db):
    partner = make_partner(accord_db)
    with accord_db.session(actor=ACTOR) as session:
        session.delete(session.get(Partner, partner.id))
    deletes = {
        row.field: row
        for row in entries(accord_db, "core_partner", partner.id)
        if row.action == "delete"
    }
    assert deletes["name"].old_value == '"Rossi Srl"'
    assert deletes["name"].new_value is None


def test_a_session_without_an_actor_is_recorded_as_unknown_system(accord_db):
    partner = make_partner(accord_db)
    with accord_db.session() as session:
        session.get(Partner, partner.id).phone = "+39 02 1234"
    (row,) = [r for r in entries(accord_db, "core_partner", partner.id) if r.action == "update"]
    assert row.actor == "system:unknown"
    assert row.context == ""


def test_a_password_change_is_recorded_without_the_hash(accord_db):
    with accord_db.session(actor="system:setup") as session:
        user = create_user(session, "anna", "correct horse battery")
    with accord_db.session(actor=user_actor(user.id, user.login)) as session:
        session.get(type(user), user.id).password_hash = hash_password("another long secret")
    rows = entries(accord_db, "core_user", user.id)
    password_rows = [row for row in rows if row.field == "password_hash"]
    assert [row.action for row in password_rows] == ["create", "update"]
    assert password_rows[1].old_value == password_rows[1].new_value == "***"
    assert password_rows[1].actor == f"user:{user.id}:anna"
    assert not any("argon2" in (row.old_value or "") + (row.new_value or "") for row in rows)


def test_an_audit_row_cannot_be_changed_or_deleted_through_the_orm(accord_db):
    partner = make_partner(accord_db)
    first = entries(accord_db, "core_partner", partner.id)[0]
    with pytest.raises(AuditLogImmutableError, match="append-only"), accord_db.session() as session:
        session.get(AuditEntry, first.id).new_value = '"forged"'
    with pytest.raises(AuditLogImmutableError, match="append-only"), accord_db.session() as session:
        session.delete(session.get(AuditEntry, first.id))
    again = entries(accord_db, "core_partner", partner.id)[0]
    assert (again.id, again.new_value) == (first.id, first.new_value)


def test_bulk_update_or_delete_of_audit_rows_is_refused(accord_db):
    partner = make_partner(accord_db)
    before = len(entries(accord_db, "core_partner", partner.id))
    with (
        pytest.raises(AuditLogImmutableError, match="cannot be updated"),
        accord_db.session() as session,
    ):
        session.execute(update(AuditEntry).values(new_value='"forged"'))
    with (
        pytest.raises(AuditLogImmutableError, match="cannot be deleted"),
        accord_db.session() as session,
    ):
        session.execute(delete(AuditEntry.__table__))
    rows = entries(accord_db, "core_partner", partner.id)
    assert len(rows) == before
    assert '"forged"' not in {row.new_value for row in rows}


def test_plain_sql_cannot_change_the_audit_log_either(accord_db):
    make_partner(accord_db)
    for statement in ("UPDATE core_audit SET actor = 'x'", "DELETE FROM core_audit"):
        with pytest.raises(DBAPIError, match="append-only"), accord_db.engine.begin() as connection:
            connection.execute(text(statement))
    with accord_db.session() as session:
        assert "x" not in set(session.scalars(select(AuditEntry.actor)))


def test_accord_audit_prints_a_records_history_oldest_first(accord_db, accord_cli):
    partner = make_partner(accord_db)
    with accord_db.session(actor="system:import", context="job-42") as session:
        session.get(Partner, partner.id).name = "Rossi SpA"
    result = accord_cli("audit", "core_partner", str(partner.id))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f'{ACTOR} create name: - -> "Rossi Srl" [req-1]' in "\n".join(lines[:-1])
    assert lines[-1].endswith('system:import update name: "Rossi Srl" -> "Rossi SpA" [job-42]')


def test_accord_audit_of_an_unknown_model_lists_the_audited_ones(accord_db, accord_cli):
    result = accord_cli("audit", "core_nothing", "1")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "unknown model 'core_nothing'; audited models: " in result.output
    assert "core_partner" in result.output
    assert "core_audit" not in result.output


def test_kernel_models_and_migrations_still_agree(accord_db, accord_runtime):
    assert accord_runtime.migrator.differences(KERNEL) == []
