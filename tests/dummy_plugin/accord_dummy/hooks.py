"""Every kernel hook, implemented the way a partner's add-on would: only ``accord.api`` from
the kernel. docs/hooks.md quotes the code between the ``# docs:`` markers, and
tests/core/test_docs.py fails when the two drift apart."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import click
from sqlalchemy import ColumnElement, delete, func, select, true
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessRule,
    ActivityKind,
    DashboardWidget,
    Event,
    EventSubscriber,
    FormField,
    FormSection,
    Guard,
    Importer,
    ImportField,
    ImportRow,
    JobType,
    ListColumn,
    ListFilter,
    MenuItem,
    ModelView,
    Partner,
    Permission,
    PluginSettings,
    Principal,
    ProductLines,
    RecordPanel,
    Refused,
    RenderContext,
    Role,
    Runtime,
    Schedule,
    Scope,
    SearchHit,
    SearchProvider,
    StaticFolder,
    Transition,
    Workflow,
    Written,
    chart,
    hookimpl,
    import_parsers,
    log_activity,
    pass_runtime,
)

from .models import DummyNote

HERE = Path(__file__).parent
log = logging.getLogger("accord_dummy")


# docs: accord_settings_section
class DummySettings(PluginSettings):
    greeting: str = "Hello"
    reviewer_role: str = "dummy_reviewer"


@hookimpl
def accord_settings_section() -> type[PluginSettings]:
    return DummySettings


# end docs


# docs: accord_models
@hookimpl
def accord_models() -> Sequence[type[object]]:
    return [DummyNote]


# end docs


# docs: accord_permissions
@hookimpl
def accord_permissions() -> Sequence[Permission]:
    return [
        Permission("dummy.notes.read", "See notes on customers"),
        Permission("dummy.notes.write", "Write and publish notes on customers"),
        Permission("dummy.notes.review", "Review notes and withdraw published ones"),
    ]


# end docs


# docs: accord_roles
@hookimpl
def accord_roles() -> Sequence[Role]:
    return [
        Role(
            "dummy_note_taker",
            "Note taker",
            permissions=("dummy.notes.read", "dummy.notes.write", "core.partners.read"),
        ),
        Role(
            "dummy_reviewer",
            "Note reviewer",
            permissions=("dummy.notes.read", "dummy.notes.review", "core.partners.read"),
        ),
    ]


# end docs


# docs: accord_access_rules
@hookimpl
def accord_access_rules() -> Sequence[AccessRule]:
    return [
        # A note follows its customer: who may see the customer sees its notes...
        AccessRule("dummy.note_readers", "dummy_note", ("read",), role="*", scope="via:partner_id"),
        AccessRule(
            "dummy.note_takers",
            "dummy_note",
            ("read", "write", "create", "delete"),
            role="dummy_note_taker",
            scope="via:partner_id",
        ),
        AccessRule(
            "dummy.note_reviewers",
            "dummy_note",
            ("read", "write"),
            role="dummy_reviewer",
            scope="via:partner_id",
        ),
        # ...but a draft only by note takers and reviewers (a restriction: no role, so it
        # applies to everyone).
        AccessRule("dummy.drafts_private", "dummy_note", ("read",), scope="dummy.visible_drafts"),
    ]


# end docs


# docs: accord_scopes
def visible_drafts(model: type[DummyNote], principal: Principal) -> ColumnElement[bool]:
    if principal.roles & {"dummy_note_taker", "dummy_reviewer"}:
        return true()
    return model.state != "draft"


@hookimpl
def accord_scopes() -> Sequence[Scope]:
    return [Scope("dummy.visible_drafts", visible_drafts)]


# end docs


# docs: accord_check_settings
@hookimpl
def accord_check_settings(settings: Any, roles: Sequence[str]) -> Sequence[str]:
    role = settings.section("dummy").reviewer_role
    if role in roles:
        return []
    return [
        f"{settings.config}, [dummy] reviewer_role: unknown role {role!r}; "
        f"known: {', '.join(roles)}"
    ]


# end docs


# docs: accord_workflows
def customer_is_active(session: Session, note: DummyNote, inputs: Mapping[str, Any]) -> str | None:
    customer = session.execute(
        select(Partner.name, Partner.active).where(Partner.id == note.partner_id)
    ).first()
    if customer is not None and not customer.active:
        return f"the customer {customer.name!r} is archived; reactivate it first"
    return None


@hookimpl
def accord_workflows() -> Sequence[Workflow]:
    return [
        Workflow(
            name="dummy.note",
            model="dummy_note",
            initial="draft",
            states=("draft", "published", "withdrawn"),
            transitions=(
                Transition(
                    "publish",
                    ("draft",),
                    "published",
                    permission="dummy.notes.write",
                    guards=(Guard("dummy.customer_active", customer_is_active),),
                    # Four eyes: another note taker publishes; accord.toml may allow the author.
                    requester_field="author_id",
                    allow_self_approval=False,
                ),
                Transition(
                    "withdraw",
                    ("published",),
                    "withdrawn",
                    permission="dummy.notes.review",
                    required_inputs=("reason",),
                ),
            ),
        )
    ]


# end docs


# docs: accord_before_transition
@hookimpl
def accord_before_transition(
    session: Session,
    record: object,
    workflow: Workflow,
    transition: Transition,
    principal: Principal,
    inputs: Mapping[str, Any],
) -> str | None:
    if workflow.name == "dummy.note" and transition.name == "publish":
        assert isinstance(record, DummyNote)
        body = record.body.strip()
        if not body or body.upper().startswith("TODO"):
            return "the note is empty or still says TODO; write it before publishing"
    return None


# end docs


# docs: accord_after_transition
@hookimpl
def accord_after_transition(
    workflow: Workflow,
    transition: Transition,
    model: str,
    record_id: int | str,
    principal: Principal,
    inputs: Mapping[str, Any],
) -> None:
    # Runs once the transition is committed; a real add-on might tell a chat channel.
    if workflow.name == "dummy.note":
        log.info("note #%s %s by %s", record_id, transition.target, principal.actor)


# end docs


# docs: accord_event_subscribers
def note_on_timeline(session: Session, event: Event) -> None:
    log_activity(
        session,
        event.payload["partner_id"],
        ActivityKind.NOTE,
        "Note published",
        body=event.payload["body"],
        source="dummy",
        source_ref=f"dummy_note:{event.payload['note_id']}",
    )


@hookimpl
def accord_event_subscribers() -> Sequence[EventSubscriber]:
    return [
        EventSubscriber("dummy.note_on_timeline", "dummy.note_published", handle=note_on_timeline)
    ]


# end docs


# docs: accord_jobs
def purge_drafts(session: Session, payload: dict[str, object]) -> None:
    query = delete(DummyNote).where(DummyNote.state == "draft")
    if "partner_id" in payload:
        query = query.where(DummyNote.partner_id == payload["partner_id"])
    session.execute(query)


@hookimpl
def accord_jobs() -> Sequence[JobType]:
    return [JobType("dummy.purge_drafts", run=purge_drafts, max_attempts=3)]


# end docs


# docs: accord_schedules
@hookimpl
def accord_schedules() -> Sequence[Schedule]:
    return [Schedule("dummy.nightly_purge", "0 3 * * *", job="dummy.purge_drafts")]


# end docs


# docs: accord_routes
async def hello_page(request: Request) -> HTMLResponse:
    name = request.query_params.get("name", "world")
    return HTMLResponse(f"<p>Hello, {escape(name)}!</p>")


@hookimpl
def accord_routes() -> Sequence[BaseRoute]:
    return [Route("/hello", hello_page, name="hello")]


# end docs


# docs: accord_public_routes
async def greeting(request: Request) -> JSONResponse:
    # Public: no user is signed in; the app's runtime is on request.state.
    settings = request.state.runtime.settings.section("dummy")
    return JSONResponse({"greeting": settings.greeting})


@hookimpl
def accord_public_routes() -> Sequence[BaseRoute]:
    return [Route("/greeting", greeting, name="greeting")]


# end docs


# docs: accord_template_folders
@hookimpl
def accord_template_folders() -> Sequence[Path]:
    return [HERE / "templates"]


# end docs


# docs: accord_static_folders
@hookimpl
def accord_static_folders() -> Sequence[StaticFolder]:
    return [StaticFolder("dummy", HERE / "static")]


# end docs


# docs: accord_menu_items
@hookimpl
def accord_menu_items() -> Sequence[MenuItem]:
    return [
        MenuItem("dummy.hello", "Hello", "/dummy/hello", permission="dummy.notes.read", order=900)
    ]


# end docs


# docs: accord_record_panels
def render_partner_notes(context: RenderContext) -> str:
    notes = context.session.scalars(
        select(DummyNote)
        .where(DummyNote.partner_id == getattr(context.record, "id", None))
        .order_by(DummyNote.id)
    ).all()
    if not notes:
        return "<p>No notes yet.</p>"
    items = "".join(f"<li>{escape(note.body)}</li>" for note in notes)
    return f"<ul class='dummy-notes'>{items}</ul>"


def render_archived_customer(context: RenderContext) -> str:
    note = context.record
    assert isinstance(note, DummyNote)
    customer = context.session.get(Partner, note.partner_id)
    if customer is None or customer.active:
        return ""
    return f"<p>The customer {escape(customer.name)} is archived.</p>"


@hookimpl
def accord_record_panels() -> Sequence[RecordPanel]:
    return [
        RecordPanel(
            "dummy.partner_notes", model="core_partner", title="Notes", render=render_partner_notes
        ),
        RecordPanel(
            "dummy.archived_customer",
            model="dummy_note",
            title="Archived customer",
            render=render_archived_customer,
            slot="alerts",
        ),
    ]


# end docs


# docs: accord_dashboard_widgets
def render_note_count(context: RenderContext) -> str:
    count = context.session.scalar(select(func.count()).select_from(DummyNote))
    return f"<p><strong>{count}</strong> notes</p>"


def render_notes_by_state(context: RenderContext) -> str:
    period = context.filters  # what the dashboard's filter bar asks for
    counts = dict(
        context.session.execute(
            select(DummyNote.state, func.count())
            .where(DummyNote.created_at >= period.start_at, DummyNote.created_at < period.end_at)
            .group_by(DummyNote.state)
        ).all()
    )
    states = ["draft", "published", "withdrawn"]
    return chart(
        "bar",
        labels=[state.title() for state in states],
        series={"Notes": [counts.get(state, 0) for state in states]},
        title="Notes written in the period, by state",
        empty="No notes were written in this period.",
    )


@hookimpl
def accord_dashboard_widgets() -> Sequence[DashboardWidget]:
    return [
        DashboardWidget(
            "dummy.note_count", "Notes", render=render_note_count, permission="dummy.notes.read"
        ),
        DashboardWidget(
            "dummy.notes_by_state",
            "Notes by state",
            render=render_notes_by_state,
            permission="dummy.notes.read",
        ),
    ]


# end docs


# docs: accord_product_lines
def product_lines(session: Session) -> Sequence[tuple[str, str]]:
    # A fixed list here; a plugin whose products carry their line reads them from its
    # table through the user's session.
    return [("dummy.machines", "Machines"), ("dummy.spares", "Spare parts")]


@hookimpl
def accord_product_lines() -> Sequence[ProductLines]:
    return [ProductLines("dummy.product_lines", choices=product_lines)]


# end docs


# docs: accord_search_providers
def find_notes(session: Session, text: str, limit: int) -> Sequence[SearchHit]:
    pattern = "%" + text.replace("%", r"\%").replace("_", r"\_") + "%"
    notes = session.scalars(
        select(DummyNote)
        .where(DummyNote.body.ilike(pattern, escape="\\"))
        .order_by(DummyNote.id)
        .limit(limit)
    )
    return [
        SearchHit(note.body[:80], f"/partners/{note.partner_id}#note-{note.id}", note.state)
        for note in notes
    ]


@hookimpl
def accord_search_providers() -> Sequence[SearchProvider]:
    return [SearchProvider("dummy.notes", "Notes", search=find_notes)]


# end docs


# docs: accord_model_views
def check_note(
    session: Session, values: Mapping[str, Any], note: DummyNote | None
) -> Mapping[str, str]:
    problems = {}
    if len(str(values.get("body") or "").split()) < 3:
        problems["body"] = "Say what happened in at least three words."
    customer = session.get(Partner, values["partner_id"]) if values.get("partner_id") else None
    if customer is not None and not customer.active:
        problems["partner_id"] = f"{customer.name} is archived; reactivate it first."
    return problems


def new_note(session: Session, principal: Principal) -> Mapping[str, Any]:
    return {"author_id": principal.user_id}


@hookimpl
def accord_model_views() -> Sequence[ModelView]:
    return [
        ModelView(
            "dummy-notes",
            model="dummy_note",
            title="Notes",
            columns=(
                ListColumn("body", "Note"),
                ListColumn("state", "State", sortable=True),
                ListColumn("partner_id", "Customer"),
                ListColumn("author_id", "Author"),
            ),
            search=("body",),
            filters=(
                ListFilter(
                    "state",
                    "State",
                    choices=(
                        ("draft", "Draft"),
                        ("published", "Published"),
                        ("withdrawn", "Withdrawn"),
                    ),
                ),
            ),
            default_sort="-id",
            permission="dummy.notes.read",
            form=(
                FormSection(
                    "",
                    (
                        FormField("partner_id", "Customer"),
                        FormField("body", "Note", help="What was said or agreed."),
                    ),
                ),
            ),
            detail=("partner_id", "body", "author_id", "created_at"),
            validate=check_note,
            initial=new_note,
        )
    ]


# end docs


# docs: accord_importers
def write_notes(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    """Each row is a note about the customer whose e-mail it names; a row imported before
    with another text updates its note."""
    emails = {row.values["customer"] for row in rows}
    found = session.execute(select(Partner.email, Partner.id).where(Partner.email.in_(emails)))
    customers: dict[str, int] = {email: partner_id for email, partner_id in found}
    outcomes: list[Written | Refused] = []
    for row in rows:
        partner_id = customers.get(row.values["customer"])
        if partner_id is None:
            outcomes.append(Refused("no customer you can see has this e-mail", "customer"))
        elif row.record_id is not None and (note := session.get(DummyNote, int(row.record_id))):
            note.body = row.values["body"]
            outcomes.append(Written("merged", note.id, "new text"))
        else:
            note = DummyNote(partner_id=partner_id, body=row.values["body"], state="draft")
            session.add(note)
            session.flush()
            outcomes.append(Written("created", note.id))
    return outcomes


@hookimpl
def accord_importers() -> Sequence[Importer]:
    return [
        Importer(
            "dummy.notes",
            title="Notes",
            model="dummy_note",
            fields=(
                ImportField("ref", "Reference", aliases=("note id",)),
                ImportField(
                    "customer",
                    "Customer e-mail",
                    required=True,
                    parse=import_parsers.email,
                    aliases=("e-mail", "email"),
                ),
                ImportField("body", "Note", required=True, parse=import_parsers.text(500)),
            ),
            write=write_notes,
            external_id="ref",
            permission="dummy.notes.write",
        )
    ]


# end docs


# docs: accord_cli_commands
@click.command(name="dummy-hello")
@click.option("--name", default="world", help="Who to greet.")
@pass_runtime
def dummy_hello(runtime: Runtime, name: str) -> None:
    """Greet someone with the greeting of the [dummy] settings."""
    settings = runtime.settings.section("dummy")
    click.echo(f"{settings.greeting}, {name}!")


@hookimpl
def accord_cli_commands() -> Sequence[click.Command]:
    return [dummy_hello]


# end docs
