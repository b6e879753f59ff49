"""The security version: the database raises it in the transaction of every change to what a
principal is made of, however the change is written, and leaves it alone otherwise; a
runtime's principals follow it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from accord.core.access import AccessDeniedError, Principal
from accord.core.security import (
    SecurityVersion,
    TeamKind,
    User,
    create_team,
    create_user,
    set_roles,
)

SYSTEM = Principal.system("test")


def version(db) -> int:
    with db.session(SYSTEM) as session:
        return session.connection().scalar(select(SecurityVersion.__table__.c.version))


@pytest.fixture
def anna(accord_db):
    with accord_db.session(SYSTEM) as session:
        team = create_team(session, "North", TeamKind.DIRECT_SALES)
        return create_user(session, "anna", "correct horse battery", roles=["agent"], team=team)


@pytest.mark.parametrize(
    "change",
    [
        "INSERT INTO core_user (login, name, email, password_hash, active, created_at,"
        " updated_at) VALUES ('bob', 'Bob', '', '', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "UPDATE core_user SET active = false WHERE login = 'anna'",
        "UPDATE core_user SET password_hash = 'another' WHERE login = 'anna'",
        "UPDATE core_user SET login = 'anna.b' WHERE login = 'anna'",
        "UPDATE core_user SET team_id = NULL WHERE login = 'anna'",
        "DELETE FROM core_user WHERE login = 'anna'",
        "INSERT INTO core_user_role (user_id, role_name)"
        " SELECT id, 'salesperson' FROM core_user WHERE login = 'anna'",
        "DELETE FROM core_user_role",
        "UPDATE core_user_role SET role_name = 'salesperson'",
        "INSERT INTO core_role (name, title) VALUES ('auditor', 'Auditor')",
        "UPDATE core_role SET title = 'Agent' WHERE name = 'agent'",
        "INSERT INTO core_team (name, kind, path) VALUES ('South', 'direct_sales', '/9/')",
        "UPDATE core_team SET path = '/1/2/' WHERE name = 'North'",
    ],
)
def test_each_change_to_what_a_principal_is_made_of_raises_the_version(accord_db, anna, change):
    before = version(accord_db)
    with accord_db.engine.begin() as connection:
        connection.execute(text(change))
    assert version(accord_db) > before


def test_a_rolled_back_change_leaves_the_version(accord_db, anna):
    before = version(accord_db)
    with accord_db.engine.connect() as connection:
        connection.execute(text("UPDATE core_user SET active = false"))
        connection.rollback()
    assert version(accord_db) == before


def test_a_sign_in_or_a_new_address_leaves_the_version(accord_db, anna):
    before = version(accord_db)
    with accord_db.session(SYSTEM) as session:
        user = session.get(User, anna.id)
        user.last_login_at = user.created_at
        user.email = "anna@example.com"
        user.name = "Anna B."
    assert version(accord_db) == before


def test_the_orm_raises_it_too_in_the_same_transaction(accord_db, anna):
    before = version(accord_db)
    with accord_db.session(SYSTEM) as session:
        set_roles(session, session.get(User, anna.id), ["salesperson"])
        session.flush()
        seen_inside = session.connection().scalar(select(SecurityVersion.__table__.c.version))
        assert seen_inside > before
    assert version(accord_db) == seen_inside


def test_principal_for_follows_a_change_made_on_another_connection(accord_db, accord_runtime, anna):
    assert accord_runtime.principal_for(anna.id).roles == {"agent"}
    assert accord_runtime.principal_for(anna.id) is accord_runtime.principal_for(anna.id)
    with accord_db.engine.begin() as connection:
        connection.execute(text("UPDATE core_user_role SET role_name = 'salesperson'"))
    assert accord_runtime.principal_for(anna.id).roles == {"salesperson"}
    with accord_db.engine.begin() as connection:
        connection.execute(text("UPDATE core_user SET active = false"))
    with pytest.raises(AccessDeniedError, match="deactivated"):
        accord_runtime.principal_for(anna.id)


def test_a_principal_read_after_a_rolled_back_change_is_not_kept(accord_db, accord_runtime, anna):
    """A transaction that changed Anna's roles sees its own raised version; had it kept the
    principal it read, a later change would raise the version to the same number and bring
    back roles that were rolled back."""
    session = accord_db.sessions()
    session.connection().execute(text("UPDATE core_user_role SET role_name = 'salesperson'"))
    assert accord_runtime.signed_in(session, anna.id).principal.roles == {"salesperson"}
    session.rollback()
    session.close()
    with accord_db.engine.begin() as connection:
        connection.execute(text("UPDATE core_user SET login = 'anna.b'"))
    principal = accord_runtime.principal_for(anna.id)
    assert principal.roles == {"agent"}
    assert principal.name == "anna.b"
