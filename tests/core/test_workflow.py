"""The workflow engine, as the people using it notice it: who may take a step, what blocks
it and why, what a company's accord.toml changes, what one transition writes (and does not
write after a rollback), what runs after commit, and what happens when two users move the
same record at once. The dummy add-on's ``dummy.note`` workflow is the machine under test:
draft -publish-> published -withdraw(reason)-> withdrawn."""

from __future__ import annotations

import json
import logging
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import ColumnElement, String, event, literal_column, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from accord.api import (
    AccessDeniedError,
    Guard,
    InvalidTransitionError,
    MissingInputError,
    Partner,
    PartnerKind,
    Permission,
    Principal,
    Transition,
    TransitionBlockedError,
    TransitionConflictError,
    TransitionError,
    TransitionNotAllowedError,
    TransitionRecord,
    User,
    Workflow,
    WorkflowEngine,
    WorkflowMixin,
    hookimpl,
)
from accord.core.access import AccessPolicy
from accord.core.audit import AuditEntry
from accord.core.contributions import AccessRule, Operation, Scope
from accord.core.db import Database
from accord.core.errors import PluginError, SettingsError
from accord.core.events import OutboxEvent
from accord.core.manager import create_plugin_manager
from accord.core.runtime import Runtime

pytestmark = pytest.mark.usefixtures("dummy_plugin_installed")
sqlite_only = pytest.mark.parametrize("accord_backend", ["sqlite"])

ARCHIVED = "the customer 'Acme Ltd' is archived; reactivate it first"
TODO = "the note is empty or still says TODO; write it before publishing"


@pytest.fixture
def accord_plugins() -> list[str]:
    return ["dummy"]


@pytest.fixture
def people(accord_make_user: Callable[..., User]) -> dict[str, User]:
    """Back office staff (they may change every customer) wearing the dummy's hats."""
    return {
        "nora": accord_make_user("nora", "back_office", "dummy_note_taker"),
        "tom": accord_make_user("tom", "back_office", "dummy_note_taker"),
        "rita": accord_make_user("rita", "back_office", "dummy_reviewer"),
    }


def note_model() -> Any:
    from accord_dummy.models import DummyNote

    return DummyNote


def new_note(
    db: Database,
    engine: WorkflowEngine,
    body: str = "Visit went well",
    author: User | None = None,
    customer: str = "Acme Ltd",
) -> int:
    with db.session(Principal.system("test")) as session:
        partner = Partner(kind=PartnerKind.COMPANY, name=customer)
        session.add(partner)
        session.flush()
        note = note_model()(partner_id=partner.id, body=body)
        note.author_id = author.id if author else None
        engine.start(session, note)
        session.flush()
        return int(note.id)


@contextmanager
def acting(runtime: Runtime, user: User) -> Iterator[Session]:
    with runtime.db.session(runtime.principal_for(user.id), context="req-1") as session:
        yield session


def move(runtime: Runtime, user: User, note_id: int, name: str, **inputs: Any) -> None:
    """One request of ``user``: load the note and take the step, committed."""
    with acting(runtime, user) as session:
        note = session.get_one(note_model(), note_id)
        runtime.workflows.transition(session, note, name, **inputs)


def state_of(runtime: Runtime, note_id: int) -> str:
    with runtime.db.session(Principal.system("test")) as session:
        return str(session.get_one(note_model(), note_id).state)


def history_of(runtime: Runtime, note_id: int) -> list[tuple[str, str, str, str]]:
    with runtime.db.session(Principal.system("test")) as session:
        note = session.get_one(note_model(), note_id)
        return [
            (row.transition, row.from_state, row.to_state, row.actor)
            for row in runtime.workflows.history(session, note)
        ]


@contextmanager
def company(accord_config: Path, toml: str) -> Iterator[Runtime]:
    """The same database under a company's accord.toml with ``toml`` added."""
    with accord_config.open("a") as file:
        file.write("\n" + textwrap.dedent(toml))
    runtime = Runtime(accord_config)
    try:
        yield runtime
    finally:
        runtime.close()


# --- who may take a step ----------------------------------------------------------------------


def test_a_step_needs_its_permission_and_the_refusal_says_which(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    move(accord_runtime, people["tom"], note_id, "publish")

    with pytest.raises(TransitionNotAllowedError) as refused:
        move(accord_runtime, people["nora"], note_id, "withdraw", reason="outdated")

    assert str(refused.value) == (
        f"dummy_note #{note_id}: 'withdraw' not allowed: user 'nora' (back_office, "
        "dummy_note_taker) lacks the permission 'dummy.notes.review'"
    )
    assert refused.value.reason.endswith("lacks the permission 'dummy.notes.review'")
    assert state_of(accord_runtime, note_id) == "published"
    assert history_of(accord_runtime, note_id) == [
        ("publish", "draft", "published", f"user:{people['tom'].id}:tom")
    ]


def test_a_company_setting_moves_publishing_from_note_takers_to_reviewers(
    accord_runtime: Runtime, accord_db: Database, accord_config: Path, people: dict[str, User]
) -> None:
    engine = accord_runtime.workflows
    first, second = new_note(accord_db, engine), new_note(accord_db, engine, customer="Bolt")

    # As shipped: note takers publish, reviewers may not.
    with pytest.raises(
        TransitionNotAllowedError, match=r"lacks the permission 'dummy\.notes\.write'"
    ):
        move(accord_runtime, people["rita"], first, "publish")
    move(accord_runtime, people["tom"], first, "publish")

    toml = """
        [workflows."dummy.note".publish]
        permission = "dummy.notes.review"
    """
    with company(accord_config, toml) as reviewed:
        # The same workflow, from the same plugin: only the setting differs.
        assert reviewed.workflows.machines["dummy.note"].workflow == (
            engine.machines["dummy.note"].workflow
        )
        with pytest.raises(TransitionNotAllowedError) as refused:
            move(reviewed, people["tom"], second, "publish")
        move(reviewed, people["rita"], second, "publish")

    assert refused.value.reason == (
        "user 'tom' (back_office, dummy_note_taker) lacks the permission 'dummy.notes.review'"
    )
    assert history_of(accord_runtime, first)[0][3] == f"user:{people['tom'].id}:tom"
    assert history_of(accord_runtime, second)[0][3] == f"user:{people['rita'].id}:rita"


def test_the_author_may_not_publish_their_own_note_unless_the_company_allows_it(
    accord_runtime: Runtime, accord_db: Database, accord_config: Path, people: dict[str, User]
) -> None:
    engine = accord_runtime.workflows
    nora = people["nora"]
    mine = new_note(accord_db, engine, author=nora)
    also_mine = new_note(accord_db, engine, author=nora, customer="Bolt")

    with pytest.raises(TransitionNotAllowedError) as refused:
        move(accord_runtime, nora, mine, "publish")
    assert str(refused.value) == (
        f"dummy_note #{mine}: 'publish' not allowed: user 'nora' (back_office, "
        "dummy_note_taker) asked for it and may not approve their own request; "
        "another user must"
    )
    move(accord_runtime, people["tom"], mine, "publish")  # four eyes: someone else may
    assert state_of(accord_runtime, mine) == "published"

    toml = """
        [workflows."dummy.note".publish]
        allow_self_approval = true
    """
    with company(accord_config, toml) as relaxed:
        move(relaxed, nora, also_mine, "publish")
    assert history_of(accord_runtime, also_mine) == [
        ("publish", "draft", "published", f"user:{nora.id}:nora")
    ]


# --- what blocks a step -------------------------------------------------------------------


def test_withdrawing_names_the_missing_reason(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    move(accord_runtime, people["tom"], note_id, "publish")
    rita = people["rita"]

    for given in ({}, {"reason": "   "}, {"reason": None}):
        with pytest.raises(MissingInputError) as refused:
            move(accord_runtime, rita, note_id, "withdraw", **given)
        assert str(refused.value) == (
            f"dummy_note #{note_id}: 'withdraw' needs input: give 'reason' (missing or blank)"
        )
    assert state_of(accord_runtime, note_id) == "published"

    move(accord_runtime, rita, note_id, "withdraw", reason="the customer asked")
    assert state_of(accord_runtime, note_id) == "withdrawn"
    with accord_runtime.db.session(Principal.system("test")) as session:
        note = session.get_one(note_model(), note_id)
        last = accord_runtime.workflows.history(session, note)[-1]
        assert json.loads(last.inputs) == {"reason": "the customer asked"}


def test_a_guard_blocks_publishing_for_an_archived_customer_and_says_so(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    with accord_db.session(Principal.system("test")) as session:
        session.scalars(select(Partner).where(Partner.name == "Acme Ltd")).one().active = False

    with pytest.raises(TransitionBlockedError) as blocked:
        move(accord_runtime, people["tom"], note_id, "publish")

    assert str(blocked.value) == f"dummy_note #{note_id}: 'publish' blocked: {ARCHIVED}"
    assert blocked.value.reason == ARCHIVED
    assert state_of(accord_runtime, note_id) == "draft"


def test_a_plugin_vetoes_publishing_an_unfinished_note_with_its_own_reason(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows, body="todo: ask about pricing")

    with pytest.raises(TransitionBlockedError) as vetoed:
        move(accord_runtime, people["tom"], note_id, "publish")

    assert vetoed.value.reason == TODO
    assert state_of(accord_runtime, note_id) == "draft"
    assert history_of(accord_runtime, note_id) == []


def test_a_step_from_another_state_or_an_unknown_step_is_refused(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)

    with pytest.raises(InvalidTransitionError) as wrong_state:
        move(accord_runtime, people["rita"], note_id, "withdraw", reason="old")
    with pytest.raises(InvalidTransitionError) as unknown:
        move(accord_runtime, people["tom"], note_id, "archive")

    assert str(wrong_state.value) == (
        f"dummy_note #{note_id}: 'withdraw' not possible: it is 'draft', and this step "
        "starts from 'published'"
    )
    assert str(unknown.value) == (
        f"dummy_note #{note_id}: 'archive' not possible: no such transition in "
        "'dummy.note'; known: publish, withdraw"
    )


def test_a_session_without_a_principal_moves_nothing(
    accord_runtime: Runtime, accord_db: Database
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    with accord_db.session(Principal.system("test")) as session:
        note = session.get_one(note_model(), note_id)
        session.info.pop("principal")

        with pytest.raises(TransitionNotAllowedError) as refused:
            accord_runtime.workflows.transition(session, note, "publish")

    assert refused.value.reason == (
        "this session has no principal; open it with db.session(principal=...)"
    )


def test_the_system_principal_may_take_any_step_but_vetoes_still_apply(
    accord_runtime: Runtime, accord_db: Database
) -> None:
    engine = accord_runtime.workflows
    finished = new_note(accord_db, engine)
    unfinished = new_note(accord_db, engine, body="TODO", customer="Bolt")

    with accord_db.session(Principal.system("import")) as session:
        engine.transition(session, session.get_one(note_model(), finished), "publish")
        with pytest.raises(TransitionBlockedError, match="still says TODO"):
            engine.transition(session, session.get_one(note_model(), unfinished), "publish")

    assert history_of(accord_runtime, finished) == [
        ("publish", "draft", "published", "system:import")
    ]
    assert state_of(accord_runtime, unfinished) == "draft"


def test_a_new_note_starts_as_a_draft_and_may_move_in_the_same_unit_of_work(
    accord_runtime: Runtime, accord_db: Database
) -> None:
    engine = accord_runtime.workflows
    with accord_db.session(Principal.system("import")) as session:
        partner = Partner(kind=PartnerKind.COMPANY, name="Acme Ltd")
        session.add(partner)
        session.flush()
        note = engine.start(session, note_model()(partner_id=partner.id, body="Signed"))
        assert (note.state, note.id) == ("draft", None)
        engine.transition(session, note, "publish")  # flushed first: it gets its id
        note_id = note.id
        with pytest.raises(InvalidTransitionError) as refused:
            engine.start(session, note_model()(partner_id=partner.id, body="x", state="gone"))

    assert history_of(accord_runtime, note_id) == [
        ("publish", "draft", "published", "system:import")
    ]
    assert str(refused.value) == (
        "a new dummy_note: 'start' not possible: 'gone' is not a state of 'dummy.note'; "
        "known: draft, published, withdrawn"
    )


# --- what one transition writes -------------------------------------------------------------


def written(runtime: Runtime, note_id: int) -> dict[str, Any]:
    """Everything a transition of the note leaves in the database."""
    with runtime.db.session(Principal.system("test")) as session:
        note = session.get_one(note_model(), note_id)
        audit = session.scalars(
            select(AuditEntry).where(
                AuditEntry.model == "dummy_note",
                AuditEntry.record_id == str(note_id),
                AuditEntry.action == "update",
            )
        ).all()
        events = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.name.like("dummy.note.%"))
            .order_by(OutboxEvent.id)
        ).all()
        return {
            "state": note.state,
            "version": note.version,
            "history": [
                (row.transition, row.from_state, row.to_state, row.actor, row.context)
                for row in runtime.workflows.history(session, note)
            ],
            "audit": sorted((row.field, row.old_value, row.new_value, row.actor) for row in audit),
            "events": [(event.name, json.loads(event.payload)) for event in events],
        }


def publish_then_fail(runtime: Runtime, user: User, note_id: int) -> None:
    """A request that publishes the note, then fails before its end: all rolls back."""
    with acting(runtime, user) as session:
        note = session.get_one(note_model(), note_id)
        runtime.workflows.transition(session, note, "publish")
        assert runtime.workflows.history(session, note)[-1].to_state == "published"  # written
        raise RuntimeError("the request fails after the transition")


def test_state_history_audit_and_event_are_written_in_one_transaction(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    tom = people["tom"]
    actor = f"user:{tom.id}:tom"

    with pytest.raises(RuntimeError, match="after the transition"):
        publish_then_fail(accord_runtime, tom, note_id)

    nothing = {"state": "draft", "version": 1, "history": [], "audit": [], "events": []}
    assert written(accord_runtime, note_id) == nothing

    move(accord_runtime, tom, note_id, "publish")

    assert written(accord_runtime, note_id) == {
        "state": "published",
        "version": 2,
        "history": [("publish", "draft", "published", actor, "req-1")],
        "audit": [("state", '"draft"', '"published"', actor)],  # the version is bookkeeping
        "events": [
            (
                "dummy.note.publish",
                {
                    "model": "dummy_note",
                    "id": note_id,
                    "from": "draft",
                    "to": "published",
                    "actor": actor,
                    "inputs": {},
                },
            )
        ],
    }


def test_a_state_the_model_excludes_from_the_audit_is_recorded_as_changed_but_masked(
    accord_runtime: Runtime,
    accord_db: Database,
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(note_model(), "__audit_exclude__", ("state",), raising=False)
    note_id = new_note(accord_db, accord_runtime.workflows)
    tom = people["tom"]

    move(accord_runtime, tom, note_id, "publish")

    assert written(accord_runtime, note_id)["audit"] == [
        ("state", "***", "***", f"user:{tom.id}:tom")
    ]


def statements_of_withdrawing(runtime: Runtime, user: User, note_id: int) -> list[str]:
    """The SQL statements a withdrawal of the (published) note sends, by their first words."""
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(" ".join(args[2].split()[:3]))

    with acting(runtime, user) as session:
        note = session.get_one(note_model(), note_id)
        event.listen(runtime.db.engine, "before_cursor_execute", seen)
        try:
            runtime.workflows.transition(session, note, "withdraw", reason="outdated")
        finally:
            event.remove(runtime.db.engine, "before_cursor_execute", seen)
    return statements


ONE_TRANSITION = [
    "UPDATE dummy_note SET",
    "INSERT INTO core_audit",
    "INSERT INTO core_workflow_history",
    "INSERT INTO core_outbox",
]


def test_one_transition_is_one_update_and_three_inserts(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    move(accord_runtime, people["tom"], note_id, "publish")

    assert statements_of_withdrawing(accord_runtime, people["rita"], note_id) == ONE_TRANSITION


def test_a_user_who_may_change_only_some_notes_moves_theirs_in_as_many_statements(
    accord_runtime: Runtime, accord_db: Database, accord_make_user: Callable[..., User]
) -> None:
    # An agent changes the customers they own, and so the notes about them: the UPDATE is
    # narrowed to those, and tells in the same statement that the note is still one.
    ada = accord_make_user("ada", "agent", "dummy_note_taker", "dummy_reviewer")
    note_id = new_note(accord_db, accord_runtime.workflows)
    with accord_db.session(Principal.system("test")) as session:
        note = session.get_one(note_model(), note_id)
        session.get_one(Partner, note.partner_id).owner_id = ada.id
    move(accord_runtime, ada, note_id, "publish")

    assert statements_of_withdrawing(accord_runtime, ada, note_id) == ONE_TRANSITION
    assert [row[:3] for row in history_of(accord_runtime, note_id)] == [
        ("publish", "draft", "published"),
        ("withdraw", "published", "withdrawn"),
    ]


def test_the_record_in_memory_holds_what_was_written_and_forgets_it_on_rollback(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    with acting(accord_runtime, people["tom"]) as session:
        note = session.get_one(note_model(), note_id)
        savepoint = session.begin_nested()
        accord_runtime.workflows.transition(session, note, "publish")
        assert (note.state, note.version) == ("published", 2)
        savepoint.rollback()
        assert (note.state, note.version) == ("draft", 1)  # read again
        accord_runtime.workflows.transition(session, note, "publish")

    with accord_db.session(Principal.system("test")) as session:
        stored = session.get_one(note_model(), note_id)
        assert (stored.state, stored.version) == ("published", 2)
        assert stored.updated_at == note.updated_at  # the note is detached: nothing expired
    assert (note.state, note.version) == ("published", 2)


def test_changes_made_before_a_step_are_written_and_audited_with_it(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    tom = people["tom"]
    note_id = new_note(accord_db, accord_runtime.workflows)

    with acting(accord_runtime, tom) as session:
        note = session.get_one(note_model(), note_id)
        note.body = "Visit went very well"
        accord_runtime.workflows.transition(session, note, "publish")

    actor = f"user:{tom.id}:tom"
    assert written(accord_runtime, note_id)["audit"] == [
        ("body", '"Visit went well"', '"Visit went very well"', actor),
        ("state", '"draft"', '"published"', actor),
    ]


def test_after_transition_hooks_run_after_commit_and_never_after_a_rollback(
    accord_runtime: Runtime,
    accord_db: Database,
    people: dict[str, User],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    engine = accord_runtime.workflows
    tom = people["tom"]
    kept, undone, rolled_back, released = (new_note(accord_db, engine, customer=c) for c in "ABCD")

    class Broken:
        @hookimpl
        def accord_after_transition(self) -> None:
            raise ValueError("the chat server is down")

    accord_runtime.pm.register(Broken(), name="broken")

    def announced() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.name == "accord_dummy"]

    with acting(accord_runtime, tom) as session:
        engine.transition(session, session.get_one(note_model(), kept), "publish")
        savepoint = session.begin_nested()
        engine.transition(session, session.get_one(note_model(), rolled_back), "publish")
        savepoint.rollback()
        with session.begin_nested():
            engine.transition(session, session.get_one(note_model(), released), "publish")
        assert announced() == []  # not even for the released savepoint
    assert announced() == [
        f"note #{kept} published by user:{tom.id}:tom",
        f"note #{released} published by user:{tom.id}:tom",
    ]
    failures = [record for record in caplog.records if record.name == "accord.workflow"]
    assert len(failures) == 2  # once per transition, and the other hooks still ran
    failure = failures[0]
    assert failure.getMessage() == (
        "accord_after_transition of 'broken' failed; the transition stays committed"
    )
    assert failure.exc_info is not None
    assert str(failure.exc_info[1]) == "the chat server is down"
    assert state_of(accord_runtime, kept) == "published"
    assert state_of(accord_runtime, rolled_back) == "draft"

    caplog.clear()
    with pytest.raises(RuntimeError, match="after the transition"):
        publish_then_fail(accord_runtime, tom, undone)
    assert caplog.records == []
    assert state_of(accord_runtime, undone) == "draft"


# --- what the UI offers -----------------------------------------------------------------------


def offered(runtime: Runtime, user: User, note_id: int) -> list[tuple[str, bool, str | None]]:
    with acting(runtime, user) as session:
        note = session.get_one(note_model(), note_id)
        return [
            (step.name, step.allowed, step.reason)
            for step in runtime.workflows.available(session, note)
        ]


def test_available_transitions_depend_on_who_asks(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    nora, tom, rita = people["nora"], people["tom"], people["rita"]
    note_id = new_note(accord_db, accord_runtime.workflows, author=nora)

    assert offered(accord_runtime, tom, note_id) == [("publish", True, None)]
    assert offered(accord_runtime, nora, note_id) == [
        (
            "publish",
            False,
            "user 'nora' (back_office, dummy_note_taker) asked for it and may not approve "
            "their own request; another user must",
        )
    ]
    assert offered(accord_runtime, rita, note_id) == [
        (
            "publish",
            False,
            "user 'rita' (back_office, dummy_reviewer) lacks the permission 'dummy.notes.write'",
        )
    ]

    move(accord_runtime, tom, note_id, "publish")

    with acting(accord_runtime, rita) as session:
        note = session.get_one(note_model(), note_id)
        [withdraw] = accord_runtime.workflows.available(session, note)
    assert (withdraw.name, withdraw.target, withdraw.allowed) == ("withdraw", "withdrawn", True)
    assert withdraw.required_inputs == ("reason",)
    assert offered(accord_runtime, tom, note_id) == [
        (
            "withdraw",
            False,
            "user 'tom' (back_office, dummy_note_taker) lacks the permission 'dummy.notes.review'",
        )
    ]
    move(accord_runtime, rita, note_id, "withdraw", reason="outdated")
    assert offered(accord_runtime, rita, note_id) == []  # withdrawn is the end


def test_available_asks_the_access_table_whether_the_user_may_change_the_record(
    accord_runtime: Runtime, accord_db: Database, accord_make_user: Callable[..., User]
) -> None:
    # Marketing reads every customer but changes none, so a note taker from marketing
    # holds the permission to publish but may not change this customer's notes.
    mia = accord_make_user("mia", "marketing", "dummy_note_taker")
    note_id = new_note(accord_db, accord_runtime.workflows)

    assert offered(accord_runtime, mia, note_id) == [
        ("publish", False, "user 'mia' (dummy_note_taker, marketing) may not change this record")
    ]
    with pytest.raises(AccessDeniedError) as refused:  # the access table's condition
        move(accord_runtime, mia, note_id, "publish")
    assert str(refused.value) == (
        f"user 'mia' (dummy_note_taker, marketing) may not write dummy_note #{note_id}: the "
        "record is outside what its rules allow (dummy.note_takers (via:partner_id))"
    )
    assert state_of(accord_runtime, note_id) == "draft"
    assert written(accord_runtime, note_id)["audit"] == []


class PublishedNotesLocked(AccessPolicy):
    """The company's access table, plus: nobody may change a published note."""

    def __init__(self, policy: AccessPolicy) -> None:
        super().__init__(
            policy.rules, list(policy.scopes.values()), list(policy.roles.values()), policy.models
        )
        self.unpublished = note_model().state != "published"

    def criteria(
        self, principal: Principal, model: type[Any], operation: Operation
    ) -> ColumnElement[bool] | None:
        if model is note_model() and operation == "write":
            return self.unpublished
        return super().criteria(principal, model, operation)


def test_a_step_into_a_state_the_user_may_not_change_is_refused_as_a_flush_would_refuse_it(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    tom = people["tom"]
    note_id = new_note(accord_db, accord_runtime.workflows)
    policy = PublishedNotesLocked(accord_runtime.policy)
    locked = policy.principal(
        user_id=tom.id, login="tom", roles=["back_office", "dummy_note_taker"]
    )

    with accord_db.session(locked) as session:
        note = session.get_one(note_model(), note_id)
        with pytest.raises(AccessDeniedError) as refused:
            accord_runtime.workflows.transition(session, note, "publish")
        assert note.state == "draft"  # the caller rolls back; the note stays as it was
        session.rollback()

    assert str(refused.value) == (
        f"user 'tom' (back_office, dummy_note_taker) may not write dummy_note #{note_id}: in "
        "state "
        "'published' the record is outside what its rules allow (dummy.note_takers "
        "(via:partner_id))"
    )
    assert written(accord_runtime, note_id) == {
        "state": "draft",
        "version": 1,
        "history": [],
        "audit": [],
        "events": [],
    }


# --- two users at once ------------------------------------------------------------------------


def test_of_two_users_moving_the_same_note_at_once_exactly_one_wins(
    accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    engine = accord_runtime.workflows
    note_id = new_note(accord_db, engine)
    tom, nora = people["tom"], people["nora"]

    def nora_publishes_what_she_loaded_before_tom_did() -> None:
        with acting(accord_runtime, nora) as session:
            note = session.get_one(note_model(), note_id)
            assert note.state == "draft"
            move(accord_runtime, tom, note_id, "publish")  # tom's request commits first
            engine.transition(session, note, "publish")

    with pytest.raises(TransitionConflictError) as lost:
        nora_publishes_what_she_loaded_before_tom_did()

    assert str(lost.value) == (
        f"dummy_note #{note_id}: 'publish' not applied: it was changed by someone else "
        "meanwhile; reload it"
    )
    after = written(accord_runtime, note_id)
    assert (after["state"], after["version"]) == ("published", 2)
    assert after["history"] == [("publish", "draft", "published", f"user:{tom.id}:tom", "req-1")]
    assert [name for name, _ in after["events"]] == ["dummy.note.publish"]


HOLD = 0.4
"""Seconds the first user's transaction stays open after its transition."""


def test_at_the_same_moment_the_second_user_waits_for_the_first_then_loses(
    accord_backend: str, accord_runtime: Runtime, accord_db: Database, people: dict[str, User]
) -> None:
    """Two threads, two connections, the first transaction still open when the second
    flushes. PostgreSQL: the second UPDATE blocks on the first's row lock (seen in
    pg_stat_activity). SQLite: the second flush waits for the database's write lock (its
    busy_timeout), which nothing outside shows, so the test measures how long it waited.
    Once the first commits, the second UPDATE matches no row of the version it loaded: a
    conflict, not a second transition."""
    engine = accord_runtime.workflows
    note_id = new_note(accord_db, engine)
    tom, nora = people["tom"], people["nora"]
    loaded, first_flushed = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def second_user() -> None:
        try:
            with acting(accord_runtime, nora) as session:
                note = session.get_one(note_model(), note_id)
                loaded.set()
                first_flushed.wait(10)
                started = time.monotonic()
                try:
                    engine.transition(session, note, "publish")
                finally:
                    outcome["waited"] = time.monotonic() - started
        except TransitionError as error:
            outcome["nora"] = error
        else:
            outcome["nora"] = "committed"

    thread = threading.Thread(target=second_user)
    thread.start()
    assert loaded.wait(10)
    with acting(accord_runtime, tom) as session:
        engine.transition(session, session.get_one(note_model(), note_id), "publish")
        first_flushed.set()
        if accord_backend == "postgresql":
            assert wait_until(lambda: sessions_waiting_on_a_lock(accord_db) == 1)
        time.sleep(HOLD)
    thread.join(10)

    assert isinstance(outcome["nora"], TransitionConflictError)
    assert isinstance(outcome["waited"], float)
    assert outcome["waited"] >= HOLD / 2  # it waited for the first commit, not failed at once
    assert written(accord_runtime, note_id)["history"] == [
        ("publish", "draft", "published", f"user:{tom.id}:tom", "req-1")
    ]


def sessions_waiting_on_a_lock(db: Database) -> int:
    with db.engine.connect() as connection:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(connection.execute(text(query)).scalar_one())


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


# --- what the engine refuses at start-up ------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[workflows."dummy.note".publish]\npermission = "dummy.notes.publsh"\n',
            '[workflows."dummy.note".publish] permission: unknown permission '
            "'dummy.notes.publsh'; known: core.partners.read",
        ),
        (
            '[workflows."dummy.note".publsh]\npermission = "dummy.notes.write"\n',
            "[workflows.\"dummy.note\".publsh]: workflow 'dummy.note' has no transition "
            "'publsh'; known: publish, withdraw",
        ),
        (
            '[workflows."dummy.notes".publish]\npermission = "dummy.notes.write"\n',
            "[workflows.\"dummy.notes\"]: no plugin declares the workflow 'dummy.notes'; "
            "known: dummy.note",
        ),
        (
            '[workflows."dummy.note".withdraw]\nallow_self_approval = true\n',
            '[workflows."dummy.note".withdraw] allow_self_approval: this transition records '
            "no requester",
        ),
    ],
)
def test_a_wrong_workflow_setting_stops_the_start_up_naming_it(
    accord_config: Path, toml: str, message: str
) -> None:
    with company(accord_config, toml) as runtime, pytest.raises(SettingsError) as refused:
        runtime.workflows  # noqa: B018

    assert str(refused.value).startswith(f"{accord_config}, {message}")


class PrivateBase(DeclarativeBase):
    """Models of the test plugin below, kept out of Accord's metadata and migrations."""


class Ticket(WorkflowMixin, PrivateBase):
    __tablename__ = "tests_ticket"

    id: Mapped[int] = mapped_column(primary_key=True)


class Unversioned(PrivateBase):
    __tablename__ = "tests_unversioned"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(40))


class ServerVersioned(PrivateBase):
    __tablename__ = "tests_server_versioned"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column()
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "version_id_col": version,
        "version_id_generator": False,
    }


class Errand(WorkflowMixin, PrivateBase):
    """A model with a column its UPDATE statements set in SQL, not from Python."""

    __tablename__ = "tests_errand"

    id: Mapped[int] = mapped_column(primary_key=True)
    moves: Mapped[int] = mapped_column(default=0, onupdate=literal_column("moves + 1"))


class Chore(WorkflowMixin, PrivateBase):
    """A model with two workflows: its work (``state``) and its invoicing (``billing``)."""

    __tablename__ = "tests_chore"

    id: Mapped[int] = mapped_column(primary_key=True)
    billing: Mapped[str] = mapped_column(String(40))


TICKET = Workflow(
    name="tests.ticket",
    model="tests_ticket",
    initial="open",
    states=("open", "closed"),
    transitions=(Transition("close", ("open",), "closed", permission="tests.close"),),
)


@sqlite_only
@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        (
            Workflow("tests.ticket", "tests_tiket", "open", ("open",), ()),
            "unknown model 'tests_tiket'; known: ",
        ),
        (
            Workflow("tests.ticket", "dummy_note", "draft", ("draft",), ()),
            "model 'dummy_note' belongs to 'dummy'; a plugin runs workflows over its own "
            "tables only",
        ),
        (
            Workflow("tests.ticket", "tests_unversioned", "open", ("open",), ()),
            "model 'tests_unversioned' has no version column; add accord.api.WorkflowMixin",
        ),
        (
            Workflow("tests.ticket", "tests_server_versioned", "open", ("open",), ()),
            "model 'tests_server_versioned' has its version set by the database",
        ),
        (
            Workflow("tests.ticket", "tests_ticket", "new", ("open", "closed"), ()),
            "initial state 'new' is not among states ('open', 'closed')",
        ),
        (
            Workflow(
                "tests.ticket",
                "tests_ticket",
                "open",
                ("open", "closed"),
                (Transition("close", ("open",), "done"),),
            ),
            "transition 'close': state 'done' is not among states ('open', 'closed')",
        ),
        (
            Workflow(
                "tests.ticket",
                "tests_ticket",
                "open",
                ("open", "closed"),
                (Transition("close", "open", "closed"),),  # type: ignore[arg-type]
            ),
            "transition 'close': source must be a tuple of states, e.g. ('open',)",
        ),
        (
            Workflow(
                "tests.ticket",
                "tests_ticket",
                "open",
                ("open", "closed"),
                (
                    Transition("close", ("open",), "closed"),
                    Transition("close", ("closed",), "open"),
                ),
            ),
            "transition 'close' is declared twice",
        ),
        (
            Workflow(
                "tests.ticket",
                "tests_ticket",
                "open",
                ("open", "closed"),
                (Transition("close", ("open",), "closed", permission="tests.clos"),),
            ),
            "transition 'close': unknown permission 'tests.clos'",
        ),
        (
            Workflow(
                "tests.ticket",
                "tests_ticket",
                "open",
                ("open", "closed"),
                (Transition("close", ("open",), "closed", requester_field="opened_by"),),
            ),
            "transition 'close': model 'tests_ticket' has no column 'opened_by'",
        ),
    ],
)
def test_a_malformed_workflow_stops_the_start_up_naming_its_plugin(
    accord_runtime: Runtime, workflow: Workflow, message: str
) -> None:
    class Tests:
        @hookimpl
        def accord_models(self) -> Sequence[type[object]]:
            return [Ticket, Unversioned, ServerVersioned]

        @hookimpl
        def accord_permissions(self) -> Sequence[Permission]:
            return [Permission("tests.close", "Close tickets")]

        @hookimpl
        def accord_workflows(self) -> Sequence[Workflow]:
            return [workflow]

    pm = create_plugin_manager(accord_runtime.settings)
    pm.register(Tests(), name="tests")

    with pytest.raises(PluginError) as refused:
        WorkflowEngine.from_plugins(pm)

    assert str(refused.value).startswith(f"plugin 'tests', workflow 'tests.ticket': {message}")


@sqlite_only
def test_a_well_formed_workflow_of_another_plugin_is_accepted(accord_runtime: Runtime) -> None:
    guard = Guard("tests.always", lambda session, record, inputs: None)

    class Tests:
        @hookimpl
        def accord_models(self) -> Sequence[type[object]]:
            return [Ticket]

        @hookimpl
        def accord_permissions(self) -> Sequence[Permission]:
            return [Permission("tests.close", "Close tickets")]

        @hookimpl
        def accord_workflows(self) -> Sequence[Workflow]:
            close = TICKET.transitions[0]
            return [
                Workflow(
                    TICKET.name,
                    TICKET.model,
                    TICKET.initial,
                    TICKET.states,
                    (Transition(close.name, close.source, close.target, guards=(guard,)),),
                )
            ]

    pm = create_plugin_manager(accord_runtime.settings)
    pm.register(Tests(), name="tests")

    engine = WorkflowEngine.from_plugins(pm)

    assert sorted(engine.machines) == ["dummy.note", "tests.ticket"]
    ticket = Ticket()
    engine.start(Session(), ticket)
    assert ticket.state == "open"


@sqlite_only
def test_a_column_the_database_sets_on_update_is_read_back_into_the_record(
    accord_runtime: Runtime, accord_db: Database
) -> None:
    class Tests:
        @hookimpl
        def accord_models(self) -> Sequence[type[object]]:
            return [Errand]

        @hookimpl
        def accord_workflows(self) -> Sequence[Workflow]:
            close = Transition("close", ("open",), "closed")
            return [Workflow("tests.errand", "tests_errand", "open", ("open", "closed"), (close,))]

    pm = create_plugin_manager(accord_runtime.settings)
    pm.register(Tests(), name="tests")
    engine = WorkflowEngine.from_plugins(pm)
    PrivateBase.metadata.create_all(accord_db.engine, tables=[Errand.__table__])

    with accord_db.session(Principal.system("test")) as session:
        errand = engine.start(session, Errand())
        engine.transition(session, errand, "close")

    assert (errand.state, errand.version, errand.moves) == ("closed", 2, 1)  # detached, all loaded


@sqlite_only
def test_two_workflows_of_one_model_each_write_their_own_state_for_a_restricted_user(
    accord_runtime: Runtime, accord_db: Database
) -> None:
    class Tests:
        @hookimpl
        def accord_models(self) -> Sequence[type[object]]:
            return [Chore]

        @hookimpl
        def accord_workflows(self) -> Sequence[Workflow]:
            close = Transition("close", ("open",), "closed")
            bill = Transition("bill", ("unbilled",), "billed")
            return [
                Workflow("tests.chore", "tests_chore", "open", ("open", "closed"), (close,)),
                Workflow(
                    "tests.chore_billing",
                    "tests_chore",
                    "unbilled",
                    ("unbilled", "billed"),
                    (bill,),
                    state_field="billing",
                ),
            ]

    pm = create_plugin_manager(accord_runtime.settings)
    pm.register(Tests(), name="tests")
    engine = WorkflowEngine.from_plugins(pm)
    PrivateBase.metadata.create_all(accord_db.engine, tables=[Chore.__table__])
    # Every user may change the chores the scope selects: each UPDATE is narrowed by it.
    policy = AccessPolicy(
        [AccessRule("tests.chores", "tests_chore", ("read", "write"), role="*", scope="tests.any")],
        [Scope("tests.any", lambda model, principal: model.id > 0)],
        [],
        {"tests_chore": Chore},
    )
    clerk = policy.principal(user_id=1, login="clerk", roles=[])
    with accord_db.session(Principal.system("test")) as session:
        chore = engine.start(session, Chore())
        session.flush()
        chore_id = chore.id

    with accord_db.session(clerk) as session:
        chore = session.get_one(Chore, chore_id)
        engine.transition(session, chore, "close")
        engine.transition(session, chore, "bill")

    with accord_db.session(Principal.system("test")) as session:
        chore = session.get_one(Chore, chore_id)
        assert (chore.state, chore.billing, chore.version) == ("closed", "billed", 3)


def test_a_records_history_is_read_only_by_who_may_read_the_record(
    accord_runtime: Runtime,
    accord_db: Database,
    people: dict[str, User],
    accord_make_user: Callable[..., User],
) -> None:
    note_id = new_note(accord_db, accord_runtime.workflows)
    move(accord_runtime, people["tom"], note_id, "publish")
    stranger = accord_make_user("sven", "salesperson", "dummy_note_taker")  # not his customer
    engine = accord_runtime.workflows
    with acting(accord_runtime, people["nora"]) as session:
        note = session.get_one(note_model(), note_id)
        assert [row.transition for row in engine.history(session, note)] == ["publish"]
        # The table is open to no user: a record's history is read through the record.
        assert session.scalars(select(TransitionRecord)).all() == []
    with acting(accord_runtime, stranger) as session:
        assert session.get(note_model(), note_id) is None
        with pytest.raises(AccessDeniedError, match="may not read the history of dummy_note"):
            engine.history(session, note)
