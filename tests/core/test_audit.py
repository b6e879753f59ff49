"""The audit log: every change to a business record is recorded, and nothing changes it."""

import pytest
from sqlalchemy import bindparam, delete, event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from accord.core.access import AccessDeniedError, Principal
from accord.core.audit import (
    AuditEntry,
    AuditLogImmutableError,
    UnauditableChangeError,
    history,
    record_changes,
    record_creations,
)
from accord.core.migrate import KERNEL
from accord.core.partners import Partner, PartnerKind
from accord.core.security import TeamKind, User, create_team, create_user, hash_password

IMPORT = Principal.system("import")
READER = Principal.system("test")


def make_partner(db, name="Rossi Srl", owner=None):
    with db.session(IMPORT, context="req-1") as session:
        partner = Partner(
            kind=PartnerKind.COMPANY,
            name=name,
            email="info@rossi.example",
            owner_id=owner.id if owner else None,
        )
        session.add(partner)
    return partner


def entries(db, model, record_id):
    with db.session(READER) as session:
        return list(history(session, model, str(record_id)))


def changes(db, partner, action="update"):
    """``{field: (old, new)}`` of the partner's entries of one action."""
    return {
        row.field: (row.old_value, row.new_value)
        for row in entries(db, "core_partner", partner.id)
        if row.action == action
    }


def all_entries(db):
    with db.session(READER) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def phone_of(db, partner):
    with db.session(READER) as session:
        return session.get(Partner, partner.id).phone


# --- changes flushed from objects -------------------------------------------------------------


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
    assert {(row.actor, row.context) for row in rows} == {("system:import", "req-1")}


def test_a_creation_is_one_row_that_the_history_reads_field_by_field(accord_db):
    partner = make_partner(accord_db, name="***")
    rows = [
        row
        for row in all_entries(accord_db)
        if (row.model, row.record_id) == ("core_partner", str(partner.id))
    ]
    assert [(row.action, row.field, row.old_value) for row in rows] == [("create", "*", None)]
    fields = {row.field: row.new_value for row in entries(accord_db, "core_partner", partner.id)}
    # Only a field the model masks reads as masked: this name merely looks like one.
    assert fields["name"] == '"***"'
    assert fields["email"] == '"info@rossi.example"'


def test_records_created_by_a_statement_read_back_as_flushed_ones(accord_db):
    flushed = make_partner(accord_db, name="Verdi Srl")
    with accord_db.session(IMPORT, context="req-1") as session:
        values = {"id": 9999, "kind": PartnerKind.COMPANY, "name": "Verdi Srl", "phone": ""}
        values["email"] = "info@rossi.example"
        record_creations(session, Partner, [("9999", values)])
    by_statement = entries(accord_db, "core_partner", 9999)
    by_flush = {row.field: row for row in entries(accord_db, "core_partner", flushed.id)}
    # An empty text is not recorded by a statement; everything else reads the same.
    assert [row.field for row in by_statement] == ["id", "kind", "name", "email"]
    for row in by_statement[1:]:
        twin = by_flush[row.field]
        assert (row.action, row.old_value, row.new_value, row.actor, row.context) == (
            twin.action,
            twin.old_value,
            twin.new_value,
            twin.actor,
            twin.context,
        )


def test_changing_a_name_writes_exactly_one_update_row(accord_db, accord_make_user, accord_as):
    anna = accord_make_user("anna", "salesperson")
    partner = make_partner(accord_db, owner=anna)
    with accord_as(anna) as session:
        session.info["context"] = "job-42"
        session.get(Partner, partner.id).name = "Rossi SpA"
    updates = [
        row for row in entries(accord_db, "core_partner", partner.id) if row.action == "update"
    ]
    assert len(updates) == 1
    row = updates[0]
    assert (row.field, row.old_value, row.new_value) == ("name", '"Rossi Srl"', '"Rossi SpA"')
    assert (row.actor, row.context) == (f"user:{anna.id}:anna", "job-42")


def test_setting_the_same_value_writes_nothing(accord_db):
    partner = make_partner(accord_db)
    with accord_db.session(IMPORT) as session:
        session.get(Partner, partner.id).name = "Rossi Srl"
    assert changes(accord_db, partner) == {}


def test_deleting_writes_delete_rows_with_the_old_values(accord_db):
    partner = make_partner(accord_db)
    with accord_db.session(IMPORT) as session:
        session.delete(session.get(Partner, partner.id))
    deletes = {
        row.field: row
        for row in entries(accord_db, "core_partner", partner.id)
        if row.action == "delete"
    }
    assert deletes["name"].old_value == '"Rossi Srl"'
    assert deletes["name"].new_value is None
    assert deletes["name"].actor == "system:import"


def test_a_session_without_a_principal_cannot_change_a_partner_nor_write_entries(accord_db):
    partner = make_partner(accord_db)
    before = len(all_entries(accord_db))
    with pytest.raises(AccessDeniedError, match="principal"), accord_db.session() as session:
        session.get(Partner, partner.id).phone = "+39 02 1234"
    with pytest.raises(AccessDeniedError, match="principal"), accord_db.session() as session:
        session.add(Partner(kind=PartnerKind.PERSON, name="Nobody"))
    with pytest.raises(AccessDeniedError, match="principal"), accord_db.session() as session:
        session.execute(update(Partner).values(phone="+39 02 1234"))
    assert len(all_entries(accord_db)) == before
    assert phone_of(accord_db, partner) == ""


def test_a_password_change_is_recorded_without_the_hash(accord_db, accord_as):
    with accord_db.session(Principal.system("setup")) as session:
        user = create_user(session, "anna", "correct horse battery", roles=["admin"])
    with accord_as(user) as session:
        session.get(User, user.id).password_hash = hash_password("another long secret")
    rows = entries(accord_db, "core_user", user.id)
    password_rows = [row for row in rows if row.field == "password_hash"]
    assert [row.action for row in password_rows] == ["create", "update"]
    assert password_rows[0].new_value == "***"
    assert password_rows[1].old_value == password_rows[1].new_value == "***"
    assert password_rows[1].actor == f"user:{user.id}:anna"
    assert not any("argon2" in (row.old_value or "") + (row.new_value or "") for row in rows)


def test_changes_recorded_outside_a_flush_are_masked_and_signed_as_flushed_ones(
    accord_db, accord_make_user
):
    anna = accord_make_user("anna")
    with accord_db.session(IMPORT, context="job-7") as session:
        changes = [("password_hash", "old hash", "new hash"), ("login", "anna", "anna.b")]
        record_changes(session, User, str(anna.id), changes)
        record_changes(session, User, str(anna.id), [("login", "anna.b", None)], "delete")

    rows = [row for row in entries(accord_db, "core_user", anna.id) if row.action != "create"]
    assert [(row.action, row.field, row.old_value, row.new_value) for row in rows] == [
        ("update", "password_hash", "***", "***"),
        ("update", "login", '"anna"', '"anna.b"'),
        ("delete", "login", '"anna.b"', None),
    ]
    assert {(row.actor, row.context) for row in rows} == {("system:import", "job-7")}


# --- UPDATE and DELETE statements -------------------------------------------------------------


def test_a_bulk_update_writes_one_row_per_changed_field_of_each_touched_record(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    bianchi = make_partner(accord_db, "Bianchi Srl")
    verdi = make_partner(accord_db, "Verdi Srl")
    with accord_db.session(IMPORT, context="job-7") as session:
        result = session.execute(
            update(Partner)
            .where(Partner.id.in_([rossi.id, bianchi.id]))
            .values(phone="+39 02 1234", email="info@rossi.example")
        )
    assert result.rowcount == 2
    for partner in (rossi, bianchi):
        rows = [r for r in entries(accord_db, "core_partner", partner.id) if r.action == "update"]
        # Both had that email already: only the phone changed.
        assert [(r.field, r.old_value, r.new_value) for r in rows] == [
            ("phone", '""', '"+39 02 1234"')
        ]
        assert {(r.actor, r.context) for r in rows} == {("system:import", "job-7")}
    assert changes(accord_db, verdi) == {}


def test_a_bulk_update_with_sql_expressions_records_the_values_written(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    with accord_db.session(IMPORT) as session:
        session.execute(
            update(Partner)
            .where(Partner.id == rossi.id)
            .values(name=func.upper(Partner.name), website=Partner.email + "/web")
        )
    assert changes(accord_db, rossi) == {
        "name": ('"Rossi Srl"', '"ROSSI SRL"'),
        "website": ('""', '"info@rossi.example/web"'),
    }


@pytest.mark.parametrize("synchronize", ["auto", "evaluate", "fetch", False])
def test_a_bulk_update_is_recorded_once_whatever_the_session_synchronization(
    accord_db, synchronize
):
    rossi = make_partner(accord_db, "Rossi Srl")
    with accord_db.session(IMPORT) as session:
        loaded = session.get(Partner, rossi.id)
        session.execute(
            update(Partner).where(Partner.name == "Rossi Srl").values(phone="+39 06 5555"),
            execution_options={"synchronize_session": synchronize},
        )
        if synchronize is not False:
            assert loaded.phone == "+39 06 5555"
    rows = [r for r in entries(accord_db, "core_partner", rossi.id) if r.action == "update"]
    assert [(r.field, r.new_value) for r in rows] == [("phone", '"+39 06 5555"')]


def test_a_bulk_update_sees_changes_still_waiting_for_the_flush(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    with accord_db.session(IMPORT) as session:
        session.get(Partner, rossi.id).name = "Rossi SpA"
        session.execute(update(Partner).where(Partner.name == "Rossi SpA").values(phone="1"))
    assert changes(accord_db, rossi) == {
        "name": ('"Rossi Srl"', '"Rossi SpA"'),
        "phone": ('""', '"1"'),
    }


def test_a_bulk_update_by_primary_key_records_each_record(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    bianchi = make_partner(accord_db, "Bianchi Srl")
    with accord_db.session(IMPORT, context="sync-1") as session:
        session.execute(
            update(Partner),
            [
                {"id": rossi.id, "phone": "1"},
                {"id": bianchi.id, "name": "Bianchi SpA"},
                {"id": rossi.id, "website": "rossi.example"},
            ],
        )
    assert changes(accord_db, rossi) == {
        "phone": ('""', '"1"'),
        "website": ('""', '"rossi.example"'),
    }
    assert changes(accord_db, bianchi) == {"name": ('"Bianchi Srl"', '"Bianchi SpA"')}
    assert {r.context for r in all_entries(accord_db) if r.action == "update"} == {"sync-1"}


def test_a_bulk_update_with_bound_parameters_is_recorded(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    with accord_db.session(IMPORT) as session:
        session.execute(
            update(Partner).where(Partner.id == bindparam("wanted")),
            {"wanted": rossi.id, "phone": "1"},
        )
    partners = Partner.__table__
    with accord_db.session(IMPORT) as session:
        session.execute(
            update(partners).where(partners.c.id == bindparam("wanted")).values(website="w"),
            {"wanted": rossi.id},
        )
    assert changes(accord_db, rossi) == {"phone": ('""', '"1"'), "website": ('""', '"w"')}


def test_a_bulk_update_of_a_users_records_only_the_rows_it_may_change(
    accord_db, accord_make_user, accord_as
):
    sam = accord_make_user("sam", "salesperson")
    own = make_partner(accord_db, "Sam's customer", owner=sam)
    other = make_partner(accord_db, "Someone else's customer")
    with accord_as(sam) as session:
        result = session.execute(update(Partner).values(phone="+39 011 000"))
    assert result.rowcount == 1
    rows = [r for r in entries(accord_db, "core_partner", own.id) if r.action == "update"]
    assert [(r.field, r.actor) for r in rows] == [("phone", f"user:{sam.id}:sam")]
    assert changes(accord_db, other) == {}
    assert phone_of(accord_db, other) == ""


def test_a_users_bulk_update_by_primary_key_records_only_the_rows_it_may_change(
    accord_db, accord_make_user, accord_as
):
    sam = accord_make_user("sam", "salesperson")
    own = make_partner(accord_db, "Sam's customer", owner=sam)
    other = make_partner(accord_db, "Someone else's customer")
    with accord_as(sam) as session:
        session.execute(
            update(Partner),
            [{"id": own.id, "phone": "1"}, {"id": other.id, "phone": "1"}],
            execution_options={"synchronize_session": False},
        )
    assert changes(accord_db, own) == {"phone": ('""', '"1"')}
    assert changes(accord_db, other) == {}
    assert phone_of(accord_db, other) == ""


def test_a_bulk_update_of_a_secret_is_masked(accord_db, accord_make_user):
    anna = accord_make_user("anna")
    with accord_db.session(IMPORT) as session:
        session.execute(
            update(User).where(User.id == anna.id).values(password_hash=hash_password("x" * 20))
        )
    (row,) = [r for r in entries(accord_db, "core_user", anna.id) if r.action == "update"]
    assert (row.field, row.old_value, row.new_value) == ("password_hash", "***", "***")


def test_a_bulk_delete_records_the_old_values_of_the_deleted_records_only(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    bianchi = make_partner(accord_db, "Bianchi Srl")
    with accord_db.session(IMPORT, context="cleanup") as session:
        result = session.execute(delete(Partner).where(Partner.name.like("Rossi%")))
    assert result.rowcount == 1
    deleted = [r for r in entries(accord_db, "core_partner", rossi.id) if r.action == "delete"]
    assert {r.field: r.old_value for r in deleted}["name"] == '"Rossi Srl"'
    assert {r.field: r.old_value for r in deleted}["id"] == str(rossi.id)
    assert {r.new_value for r in deleted} == {None}
    assert {(r.actor, r.context) for r in deleted} == {("system:import", "cleanup")}
    assert changes(accord_db, bianchi, "delete") == {}


def test_a_bulk_delete_of_a_users_records_only_the_rows_it_may_delete(accord_db, accord_as):
    with accord_db.session(Principal.system("setup")) as session:
        north = create_team(session, "North", TeamKind.DIRECT_SALES)
        mia = create_user(session, "mia", "correct horse battery", roles=["sales_manager"])
        mia.team = north
        session.flush()
        theirs = Partner(kind=PartnerKind.COMPANY, name="North's customer", team_id=north.id)
        other = Partner(kind=PartnerKind.COMPANY, name="Walk-in customer")
        session.add_all([theirs, other])
    with accord_as(mia) as session:
        result = session.execute(delete(Partner))
    assert result.rowcount == 1
    deleted = {r.record_id for r in all_entries(accord_db) if r.action == "delete"}
    assert deleted == {str(theirs.id)}
    assert {r.actor for r in all_entries(accord_db) if r.action == "delete"} == {
        f"user:{mia.id}:mia"
    }
    assert phone_of(accord_db, other) == ""


def test_nothing_is_recorded_when_the_transaction_rolls_back(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    before = len(all_entries(accord_db))

    def failing_import():
        with accord_db.session(IMPORT) as session:
            session.execute(update(Partner).values(phone="1"))
            session.execute(delete(Partner).where(Partner.id == rossi.id))
            raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError):
        failing_import()
    assert len(all_entries(accord_db)) == before
    assert phone_of(accord_db, rossi) == ""


def test_a_bulk_update_that_changes_primary_keys_is_refused_and_rolled_back(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    before = len(all_entries(accord_db))
    with (
        pytest.raises(UnauditableChangeError, match="changed the primary key of record"),
        accord_db.session(IMPORT) as session,
    ):
        session.execute(
            update(Partner).where(Partner.id == rossi.id).values(id=Partner.id + 1000),
            execution_options={"synchronize_session": False},
        )
    assert phone_of(accord_db, rossi) == ""
    assert len(all_entries(accord_db)) == before


def test_a_bulk_update_touching_rows_that_appeared_meanwhile_is_refused(accord_db, accord_backend):
    if accord_backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: no row can start matching meanwhile")
    make_partner(accord_db, "Rossi Srl")
    sneaked = []

    def another_transaction_commits_a_match(connection, cursor, statement, *args):
        if statement.startswith("UPDATE core_partner") and not sneaked:
            sneaked.append(True)
            with accord_db.engine.begin() as other:
                other.execute(
                    insert(Partner.__table__).values(kind=PartnerKind.COMPANY, name="Rossi Bis")
                )

    event.listen(accord_db.engine, "before_cursor_execute", another_transaction_commits_a_match)
    try:
        with (
            pytest.raises(UnauditableChangeError, match="touched 2 rows, 1 of them were read"),
            accord_db.session(IMPORT) as session,
        ):
            session.execute(update(Partner).where(Partner.name.like("Rossi%")).values(phone="1"))
    finally:
        event.remove(accord_db.engine, "before_cursor_execute", another_transaction_commits_a_match)
    assert sneaked
    with accord_db.session(READER) as session:
        assert set(session.scalars(select(Partner.phone))) == {""}


def test_a_table_statement_with_several_parameter_sets_is_refused(accord_db):
    rossi = make_partner(accord_db, "Rossi Srl")
    partners = Partner.__table__
    with (
        pytest.raises(UnauditableChangeError, match="several parameter sets"),
        accord_db.session(IMPORT) as session,
    ):
        session.execute(
            delete(partners).where(partners.c.id == bindparam("wanted")), [{"wanted": rossi.id}]
        )
    assert phone_of(accord_db, rossi) == ""


# --- the audit log itself ---------------------------------------------------------------------


def test_an_audit_row_cannot_be_changed_or_deleted_through_the_orm(accord_db):
    partner = make_partner(accord_db)
    first = entries(accord_db, "core_partner", partner.id)[0]
    with (
        pytest.raises(AuditLogImmutableError, match="append-only"),
        accord_db.session(IMPORT) as session,
    ):
        session.get(AuditEntry, first.id).new_value = '"forged"'
    with (
        pytest.raises(AuditLogImmutableError, match="append-only"),
        accord_db.session(IMPORT) as session,
    ):
        session.delete(session.get(AuditEntry, first.id))
    again = entries(accord_db, "core_partner", partner.id)[0]
    assert (again.id, again.new_value) == (first.id, first.new_value)


def test_bulk_update_or_delete_of_audit_rows_is_refused(accord_db):
    partner = make_partner(accord_db)
    before = len(entries(accord_db, "core_partner", partner.id))
    with (
        pytest.raises(AuditLogImmutableError, match="cannot be updated"),
        accord_db.session(IMPORT) as session,
    ):
        session.execute(update(AuditEntry).values(new_value='"forged"'))
    with (
        pytest.raises(AuditLogImmutableError, match="cannot be deleted"),
        accord_db.session(IMPORT) as session,
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
    assert "x" not in {row.actor for row in all_entries(accord_db)}


# --- accord audit -----------------------------------------------------------------------------


def test_accord_audit_prints_a_records_history_oldest_first(accord_db, accord_cli):
    partner = make_partner(accord_db)
    with accord_db.session(IMPORT, context="job-42") as session:
        session.execute(update(Partner).where(Partner.id == partner.id).values(name="Rossi SpA"))
    result = accord_cli("audit", "core_partner", str(partner.id))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert 'system:import create name: - -> "Rossi Srl" [req-1]' in "\n".join(lines[:-1])
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


# --- rows the database changes through foreign keys -----------------------------------------


def cascade_models():
    """Test-only models whose foreign keys the database acts on: a visit (deleted with its
    partner) with notes (deleted with the visit), and a memo (its partner cleared)."""
    if "models" in _CASCADE_MODELS:
        return _CASCADE_MODELS["models"]
    from sqlalchemy import ForeignKey, String
    from sqlalchemy.orm import Mapped, mapped_column

    from accord.core.db import Base, intpk

    class AuditTestVisit(Base):
        __tablename__ = "test_audit_visit"
        id: Mapped[intpk]
        partner_id: Mapped[int] = mapped_column(ForeignKey("core_partner.id", ondelete="CASCADE"))
        place: Mapped[str] = mapped_column(String(40))

    class AuditTestVisitNote(Base):
        __tablename__ = "test_audit_visit_note"
        id: Mapped[intpk]
        visit_id: Mapped[int] = mapped_column(ForeignKey("test_audit_visit.id", ondelete="CASCADE"))
        text: Mapped[str] = mapped_column(String(80))

    class AuditTestMemo(Base):
        __tablename__ = "test_audit_memo"
        id: Mapped[intpk]
        partner_id: Mapped[int | None] = mapped_column(
            ForeignKey("core_partner.id", ondelete="SET NULL")
        )
        text: Mapped[str] = mapped_column(String(80))

    class AuditTestBatch(Base):
        __tablename__ = "test_audit_batch"
        __audited__ = False
        id: Mapped[intpk]

    class AuditTestBatchLine(Base):
        __tablename__ = "test_audit_batch_line"
        id: Mapped[intpk]
        batch_id: Mapped[int] = mapped_column(ForeignKey("test_audit_batch.id", ondelete="CASCADE"))
        text: Mapped[str] = mapped_column(String(80))

    _CASCADE_MODELS["models"] = (AuditTestVisit, AuditTestVisitNote, AuditTestMemo)
    _CASCADE_MODELS["batches"] = (AuditTestBatch, AuditTestBatchLine)
    return _CASCADE_MODELS["models"]


_CASCADE_MODELS: dict = {}


@pytest.fixture
def customer_with_history(accord_db):
    """A partner with an address, an external id, two activities, a visit with a note and
    a memo; returns the ids, by table."""
    from accord.core.activities import ActivityKind, log_activity
    from accord.core.partners import Address, PartnerExternalId

    visit_model, note_model, memo_model = cascade_models()
    for model in (visit_model, note_model, memo_model):
        model.__table__.create(accord_db.engine)
    with accord_db.session(IMPORT, context="setup") as session:
        partner = Partner(
            kind=PartnerKind.COMPANY,
            name="Rossi Srl",
            addresses=[Address(city="Milano", country="IT")],
            external_ids=[PartnerExternalId(system="erp", value="C-1")],
        )
        other = Partner(kind=PartnerKind.COMPANY, name="Bianchi Srl")
        session.add_all([partner, other])
        session.flush()
        calls = [
            log_activity(session, partner.id, ActivityKind.CALL, f"Call {number}")
            for number in (1, 2)
        ]
        log_activity(session, other.id, ActivityKind.CALL, "Bianchi's call")
        visit = visit_model(partner_id=partner.id, place="Milano fair")
        memo = memo_model(partner_id=partner.id, text="likes espresso")
        session.add_all([visit, memo])
        session.flush()
        note = note_model(visit_id=visit.id, text="wants a quote")
        session.add(note)
        session.flush()
        return {
            "core_partner": partner.id,
            "other": other.id,
            "core_address": partner.addresses[0].id,
            "core_partner_external_id": partner.external_ids[0].id,
            "core_activity": [call.id for call in calls],
            "test_audit_visit": visit.id,
            "test_audit_visit_note": note.id,
            "test_audit_memo": memo.id,
        }


def deletions(db, context):
    """``{(table, record id): {field: old value}}`` of the delete entries of ``context``,
    and the update entries, as a second dict."""
    deleted: dict = {}
    updated: dict = {}
    for row in all_entries(db):
        if row.context != context:
            continue
        into = deleted if row.action == "delete" else updated
        fields = into.setdefault((row.model, row.record_id), {})
        assert row.field not in fields, f"{row.model} #{row.record_id} {row.field} twice"
        fields[row.field] = (
            row.old_value if row.action == "delete" else (row.old_value, row.new_value)
        )
    return deleted, updated


def assert_cascades_recorded(accord_db, ids, context, actor="system:import"):
    deleted, updated = deletions(accord_db, context)
    partner = str(ids["core_partner"])
    assert deleted[("core_partner", partner)]["name"] == '"Rossi Srl"'
    assert deleted[("core_address", str(ids["core_address"]))]["city"] == '"Milano"'
    assert deleted[("core_partner_external_id", str(ids["core_partner_external_id"]))] == {
        "id": str(ids["core_partner_external_id"]),
        "partner_id": partner,
        "system": '"erp"',
        "value": '"C-1"',
    }
    subjects = {deleted[("core_activity", str(id))]["subject"] for id in ids["core_activity"]}
    assert subjects == {'"Call 1"', '"Call 2"'}
    visit = deleted[("test_audit_visit", str(ids["test_audit_visit"]))]
    assert visit["place"] == '"Milano fair"'
    note = deleted[("test_audit_visit_note", str(ids["test_audit_visit_note"]))]
    assert note["text"] == '"wants a quote"'  # a cascade of a cascade
    assert updated == {
        ("test_audit_memo", str(ids["test_audit_memo"])): {"partner_id": (partner, "null")}
    }
    assert len(deleted) == 7  # Bianchi and its call are untouched
    assert {row.actor for row in all_entries(accord_db) if row.context == context} == {actor}


def test_deleting_a_partner_records_what_the_database_deletes_or_clears_with_it(
    accord_db, customer_with_history
):
    ids = customer_with_history
    with accord_db.session(IMPORT, context="delete-rossi") as session:
        session.delete(session.get(Partner, ids["core_partner"]))

    assert_cascades_recorded(accord_db, ids, "delete-rossi")
    with accord_db.session(READER) as session:
        memo_model = cascade_models()[2]
        assert session.get(memo_model, ids["test_audit_memo"]).partner_id is None


def test_a_bulk_delete_of_partners_records_what_the_database_deletes_or_clears(
    accord_db, customer_with_history, accord_make_user, accord_as
):
    ids = customer_with_history
    with accord_db.session(IMPORT, context="cleanup") as session:
        session.execute(delete(Partner).where(Partner.name.like("Rossi%")))

    assert_cascades_recorded(accord_db, ids, "cleanup")


def test_cascaded_entries_roll_back_with_the_delete(accord_db, customer_with_history):
    ids = customer_with_history

    def failing_import():
        with accord_db.session(IMPORT, context="undone") as session:
            session.execute(delete(Partner).where(Partner.id == ids["core_partner"]))
            raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError):
        failing_import()

    assert deletions(accord_db, "undone") == ({}, {})
    with accord_db.session(READER) as session:
        assert session.get(Partner, ids["core_partner"]) is not None


def test_a_partner_with_many_activities_is_deleted_in_batches(accord_db, monkeypatch):
    """The cascaded rows are streamed: neither they nor their entries are all held at once
    (1,500 activities with 8 kB notes: 12 MB of text, twice, if they were)."""
    import tracemalloc

    from accord.core import audit
    from accord.core.activities import Activity

    monkeypatch.setattr(audit, "_CASCADE_BATCH", 100)
    partner = make_partner(accord_db)
    note = "x" * 8000
    with accord_db.session(IMPORT) as session:
        session.connection().execute(
            insert(Activity),
            [
                {"partner_id": partner.id, "kind": "note", "subject": f"Note {n}", "body": note}
                for n in range(1500)
            ],
        )
    written: list[int] = []
    write = audit.insert_tuples

    def counting(connection, table, columns, rows):
        activities = [row for row in rows if row[0] == "core_activity"]
        if table == "core_audit" and activities:
            written.append(len(activities))
        return write(connection, table, columns, rows)

    monkeypatch.setattr(audit, "insert_tuples", counting)
    tracemalloc.start()
    with accord_db.session(IMPORT, context="big-delete") as session:
        session.execute(delete(Partner).where(Partner.id == partner.id))
        _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    with accord_db.session(READER) as session:
        recorded = session.scalar(
            select(func.count(func.distinct(AuditEntry.record_id))).where(
                AuditEntry.model == "core_activity", AuditEntry.action == "delete"
            )
        )
        assert session.scalar(select(func.count()).select_from(Activity)) == 0
    assert recorded == 1500
    assert peak < 6_000_000, f"peak {peak / 1e6:.1f} MB while deleting"
    assert max(written) <= 100 * 11  # one batch of rows, each with its fields
    assert sum(written) >= 1500 * 6


def test_rows_deleted_with_an_unaudited_record_are_recorded(accord_db):
    cascade_models()
    batch_model, line_model = _CASCADE_MODELS["batches"]
    for model in (batch_model, line_model):
        model.__table__.create(accord_db.engine)
    with accord_db.session(IMPORT) as session:
        batches = [batch_model(), batch_model()]
        session.add_all(batches)
        session.flush()
        session.add_all(
            [line_model(batch_id=batch.id, text=f"line of {batch.id}") for batch in batches]
        )
    first, second = (batch.id for batch in batches)

    with accord_db.session(IMPORT, context="drop-batch") as session:
        session.execute(delete(batch_model).where(batch_model.id == first))
    with accord_db.session(IMPORT, context="drop-other") as session:
        session.delete(session.get(batch_model, second))

    assert deletions(accord_db, "drop-batch")[0] == {
        ("test_audit_batch_line", "1"): {
            "id": "1",
            "batch_id": str(first),
            "text": f'"line of {first}"',
        }
    }
    assert deletions(accord_db, "drop-other")[0] == {
        ("test_audit_batch_line", "2"): {
            "id": "2",
            "batch_id": str(second),
            "text": f'"line of {second}"',
        }
    }
