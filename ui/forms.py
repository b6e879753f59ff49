"""Forms generated from the model views' declarations: create at ``/views/<view>/new``, edit
at ``/views/<view>/<id>/edit``, and the suggestions of a reference field (the rows of the
referenced model the user may read that match what they type, ten at a time, so a field
pointing at a million customers stays a small answer).

Each submitted value is typed or given a message next to its field; the plugin's validator
then has its say; only values without a message are written, through the user's session,
so the access layer refuses what the user's roles do not allow (a form-level message and
403, nothing written). A view may save through its plugin's service (``ModelView.create``,
``update``) instead of a plain INSERT or UPDATE; what that service refuses
(``RecordInputError``) is shown next to its fields with 422, and nothing is written. A
success redirects to the record's page with a flash message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.core.access import AccessDeniedError, Principal
from accord.core.errors import PluginError, RecordInputError
from accord.core.numbers import Numbers
from accord.core.workflow import WorkflowEngine
from accord.ui.fields import Field, form_text, label_column, parse, record_label
from accord.ui.site import Site, flash
from accord.ui.viewable import Section, Viewable, view_of

FORM_BLOCK = "form"
"""The block of form/form.html that an htmx submission gets back."""
CHOICES_BLOCK = "choices"
SUGGESTIONS = 10
VERSION_FIELD = "_version"
"""The version of the record the form was read from, to catch a change made meanwhile."""
FIND_SUFFIX = "__find"
"""The search box of a reference field is named ``<field>__find``; it is never saved."""
KERNEL_DEFAULTS = ("owner_id", "team_id")


@dataclass
class FormState:
    """What the form shows: the entered texts, the messages by field, a form-level message,
    and the names of the records reference fields point to."""

    texts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    references: dict[str, str] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()
    """``(label, path)`` pairs shown with the problem: the record a new one duplicates."""
    picked: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The values ticked in each ``multiple`` field."""

    def tell(self, messages: Mapping[str, str]) -> None:
        """Messages by field: beside a field of the form, above it for any other name."""
        for name, message in messages.items():
            if name in self.texts:
                self.errors[name] = message
            else:
                self.problem = f"{self.problem} {message}".strip()


def bound(item: Viewable, session: Session) -> Viewable:
    """``item`` with the choices its plugin works out per request (``FormField.choices``
    as a function of the session: the channels of its settings) filled in. A single choice
    that has no choices today (a setting left empty, which means "any value") is typed in
    as text, not offered as an empty list."""
    if not any(spec.choices_of is not None for spec in item.fields):
        return item
    sections = tuple(
        Section(
            section.title,
            tuple(
                spec if spec.choices_of is None else _with_choices(spec, session)
                for spec in section.fields
            ),
        )
        for section in item.sections
    )
    return replace(item, sections=sections)


def _with_choices(spec: Field, session: Session) -> Field:
    assert spec.choices_of is not None
    choices = tuple(spec.choices_of(session))
    if not choices and spec.kind == "choice":
        return replace(spec, kind="text", choices=())
    return replace(spec, choices=choices)


def reference_label(session: Session, target: type[Any], value: Any) -> str | None:
    """The name of the referenced record, read through the user's session: ``None`` when
    there is no such record or the user may not read it."""
    key = primary_key(target)
    name = label_column(target)
    if name is None:
        return None
    try:  # a value from a URL or a form is a string: as the key's type, or not found
        value = key.property.columns[0].type.python_type(value)
    except (TypeError, ValueError):
        return None
    found = session.execute(select(key, name).where(key == value)).first()
    if found is None:
        return None
    return str(found[1]) if found[1] else f"#{found[0]}"


def primary_key(model: type[Any]) -> Any:
    mapper = inspect(model)
    return getattr(model, mapper.get_property_by_column(mapper.primary_key[0]).key)


def version_key(model: type[Any]) -> str | None:
    """The model's version counter (a workflow record's), if it has one."""
    column = inspect(model).version_id_col
    return None if column is None else str(column.key)


def read_values(
    session: Session, item: Viewable, form: FormData, record: Any, numbers: Numbers
) -> tuple[dict[str, Any], FormState]:
    """The typed values of the submitted form and what to show again; messages for the
    fields that are not valid, the plugin validator's included. Numbers are read as the
    company writes them (``numbers``)."""
    state = FormState()
    values: dict[str, Any] = {}
    for spec in item.fields:
        sent = [str(value) for value in form.getlist(spec.name)]
        state.texts[spec.name] = sent[-1].strip() if sent else ""
        if spec.kind == "multiple":
            state.picked[spec.name] = tuple(sent)
        value, problem = parse(spec, sent, numbers)
        if problem:
            state.errors[spec.name] = problem
            continue
        if spec.kind == "reference" and value is not None:
            assert spec.target is not None
            name = reference_label(session, spec.target, value)
            if name is None:
                state.errors[spec.name] = (
                    f"There is no such {spec.label.lower()}, or you may not see it; pick one of "
                    "the suggestions."
                )
                continue
            state.references[spec.name] = name
        values[spec.name] = value
    if not state.errors and item.view.validate is not None:
        state.tell(item.view.validate(session, dict(values), record))
    return values, state


def initial_state(
    session: Session, item: Viewable, values: Mapping[str, Any], numbers: Numbers
) -> FormState:
    state = FormState()
    for spec in item.fields:
        value = values.get(spec.name)
        text = value if isinstance(value, str) else form_text(spec, value, numbers)
        state.texts[spec.name] = text
        if spec.kind == "multiple":
            state.picked[spec.name] = tuple(form_text(spec, one, numbers) for one in value or ())
        if spec.kind == "reference" and value not in (None, ""):
            assert spec.target is not None
            name = reference_label(session, spec.target, value)
            if name is not None:
                state.references[spec.name] = name
    return state


def initial_values(session: Session, item: Viewable, principal: Principal) -> dict[str, Any]:
    """A new record's values before the user types: the plugin's, then the kernel's
    defaults, the user as its owner and their team (when the model has those columns), so
    that a salesperson's new customer lands in their own scope."""
    values = dict(item.view.initial(session, principal)) if item.view.initial else {}
    defaults = {"owner_id": principal.user_id, "team_id": principal.team_id}
    for name in KERNEL_DEFAULTS:
        if name in item.table.c and name not in values and defaults[name] is not None:
            values[name] = defaults[name]
    return values


def new_record(
    session: Session,
    item: Viewable,
    workflows: WorkflowEngine,
    principal: Principal,
    values: Mapping[str, Any],
) -> Any:
    """The record to create: its initial values (``initial_values``) under the form's, added
    in its workflow's first state."""
    record = item.model()
    for name, value in {**initial_values(session, item, principal), **values}.items():
        setattr(record, name, value)
    if item.workflow_fields:
        workflows.start(session, record)
    else:
        session.add(record)
    return record


def saved_as(item: Viewable, record: Any, what: str) -> Any:
    """The record a plugin's ``create``/``update`` returned, checked to be one of the view's."""
    if not isinstance(record, item.model):
        raise PluginError(
            f"plugin {item.owner!r}, model view {item.name!r}: {what} returned "
            f"{type(record).__name__}, not a {item.model.__name__} record"
        )
    return record


def refused(state: FormState, error: RecordInputError) -> FormState:
    state.tell(error.problems)
    state.links = error.links
    if not state.errors:  # the template says it under the fields' list otherwise
        state.problem = f"{state.problem} Nothing was saved."
    return state


def routes(site: Site, items: Mapping[str, Viewable]) -> list[BaseRoute]:
    workflows = site.runtime.workflows

    def form_view(request: Request) -> Viewable:
        item = view_of(items, request)
        if not item.has_form:
            raise HTTPException(404, f"{item.view.title} have no form.")
        return bound(item, request.state.session)

    def render(
        request: Request,
        item: Viewable,
        state: FormState,
        record: Any = None,
        status: int = 200,
    ) -> Response:
        record_id = None if record is None else getattr(record, item.key.key, None)
        editing = record is not None
        version = version_key(item.model)
        values = {
            "item": item,
            "view": item.view,
            "state": state,
            "editing": editing,
            "title": (
                f"Edit {record_label(record, record_id)}"
                if editing
                else f"New: {item.view.title.lower()}"
            ),
            "action": f"{item.page_path(record_id)}/edit" if editing else f"/views/{item.name}/new",
            "cancel": item.record_url(record_id) if editing else f"/views/{item.name}",
            "version_field": VERSION_FIELD,
            "version": getattr(record, version) if editing and version else None,
            "suggest_path": f"/views/{item.name}/suggest",
            "find_suffix": FIND_SUFFIX,
        }
        return site.page(request, "form/form.html", values, status, fragment=FORM_BLOCK)

    def done(request: Request, item: Viewable, record: Any, message: str) -> Response:
        flash(request, message)
        target = item.record_url(getattr(record, item.key.key))
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    # --- create -------------------------------------------------------------------------

    def creatable(request: Request) -> Viewable:
        item = form_view(request)
        if not item.view.creatable:
            raise HTTPException(404, f"{item.view.title} are not created with a form.")
        if not item.allows(request.state.principal, "create"):
            raise HTTPException(403, f"You may not create {item.view.title.lower()}.")
        return item

    def new_form(request: Request) -> Response:
        item = creatable(request)
        session: Session = request.state.session
        principal: Principal = request.state.principal
        given: dict[str, Any] = initial_values(session, item, principal)
        # A link may prefill the form: "New note" on a customer's page gives its id.
        for spec in item.fields:
            if spec.name in request.query_params:
                given[spec.name] = request.query_params[spec.name]
        return render(request, item, initial_state(session, item, given, site.numbers))

    async def create(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(save_new, request, form)

    def save_new(request: Request, form: FormData) -> Response:
        item = creatable(request)
        session: Session = request.state.session
        principal: Principal = request.state.principal
        values, state = read_values(session, item, form, None, site.numbers)
        if state.errors or state.problem:
            return render(request, item, state, status=422)
        try:
            if item.view.create is not None:
                given = {**initial_values(session, item, principal), **values}
                record = saved_as(item, item.view.create(session, principal, given), "create")
            else:
                record = new_record(session, item, workflows, principal, values)
            session.flush()
        except RecordInputError as error:
            session.rollback()
            return render(request, item, refused(state, error), status=422)
        except AccessDeniedError:
            session.rollback()
            state.problem = (
                f"Your roles do not let you create {item.view.title.lower()} like this one: "
                "the record would be outside what you may change (check its owner and team). "
                "Nothing was saved."
            )
            return render(request, item, state, status=403)
        except IntegrityError as error:
            session.rollback()
            state.problem = conflict_message(error)
            return render(request, item, state, status=409)
        label = record_label(record, getattr(record, item.key.key))
        return done(request, item, record, f"{label} was created.")

    # --- edit ---------------------------------------------------------------------------

    def editable(request: Request) -> tuple[Viewable, Any]:
        item = form_view(request)
        session: Session = request.state.session
        record = item.find(session, request.path_params["id"])
        if not item.may(session, request.state.principal, record, "write"):
            raise HTTPException(403, "You may see this record but not change it.")
        return item, record

    def edit_form(request: Request) -> Response:
        item, record = editable(request)
        values = {spec.name: getattr(record, spec.name) for spec in item.fields}
        state = initial_state(request.state.session, item, values, site.numbers)
        return render(request, item, state, record)

    async def update(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(save_edit, request, form)

    def save_edit(request: Request, form: FormData) -> Response:
        item, record = editable(request)
        session: Session = request.state.session
        values, state = read_values(session, item, form, record, site.numbers)
        version = version_key(item.model)
        if version is not None and str(form.get(VERSION_FIELD, "")) != str(
            getattr(record, version)
        ):
            state.problem = (
                "This record was changed by someone else since you opened the form. Your "
                "entries are kept below; reload the record to see the change, then save again."
            )
            return render(request, item, state, record, status=409)
        if state.errors or state.problem:
            return render(request, item, state, record, status=422)
        try:
            if item.view.update is not None:
                principal: Principal = request.state.principal
                changed = item.view.update(session, principal, record, values)
                record = saved_as(item, changed, "update")
            else:
                for name, value in values.items():
                    setattr(record, name, value)
            session.flush()
        except RecordInputError as error:
            session.rollback()
            state = refused(state, error)
            return render(request, item, state, item.find(session, request.path_params["id"]), 422)
        except AccessDeniedError:
            session.rollback()
            state.problem = (
                "Your roles do not let you save this change: the record would be outside what "
                "you may change (check its owner and team). Nothing was saved."
            )
            return render(request, item, state, item.find(session, request.path_params["id"]), 403)
        except StaleDataError:
            session.rollback()
            state.problem = "This record was changed by someone else meanwhile; nothing was saved."
            return render(request, item, state, item.find(session, request.path_params["id"]), 409)
        except IntegrityError as error:
            session.rollback()
            state.problem = conflict_message(error)
            return render(request, item, state, item.find(session, request.path_params["id"]), 409)
        label = record_label(record, getattr(record, item.key.key))
        return done(request, item, record, f"{label} was saved.")

    # --- suggestions of a reference field -----------------------------------------------

    def suggest(request: Request) -> Response:
        item = form_view(request)
        spec = next((s for s in item.fields if s.name == request.path_params["field"]), None)
        if spec is None or spec.kind != "reference" or spec.target is None:
            raise HTTPException(404, "This form has no such reference field.")
        session: Session = request.state.session
        text = (request.query_params.get(spec.name + FIND_SUFFIX) or "").strip()[:100]
        current = (request.query_params.get(spec.name) or "").strip()
        current_label = reference_label(session, spec.target, current) if current else None
        matches = suggestions(session, spec, text) if text else []
        values = {
            "spec": spec,
            "searched": text,
            "current": current if current_label is not None else "",
            "current_label": current_label,
            "matches": [(key, name) for key, name in matches if str(key) != current],
        }
        return site.page(request, "form/choices.html", values, fragment=CHOICES_BLOCK)

    return [
        Route("/views/{name:str}/new", new_form, methods=["GET"], name="record_new"),
        Route("/views/{name:str}/new", create, methods=["POST"]),
        Route("/views/{name:str}/suggest/{field:str}", suggest, name="record_suggest"),
        Route("/views/{name:str}/{id:str}/edit", edit_form, methods=["GET"], name="record_edit"),
        Route("/views/{name:str}/{id:str}/edit", update, methods=["POST"]),
    ]


def suggestions(session: Session, spec: Field, text: str) -> list[tuple[Any, str]]:
    """Up to ten rows of the referenced model whose name contains ``text`` (or whose id it
    is), by name, read through the user's session. The name column's index serves the
    order, so the database stops at the tenth match instead of sorting every row."""
    assert spec.target is not None
    key, name = primary_key(spec.target), label_column(spec.target)
    assert name is not None
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    condition: ColumnElement[bool] = name.ilike(f"%{escaped}%", escape="\\")
    if text.isdigit() and len(text) < 18:
        condition = or_(condition, key == int(text))
    rows = session.execute(
        select(key, name).where(condition).order_by(name, key).limit(SUGGESTIONS)
    )
    return [(row[0], str(row[1]) if row[1] else f"#{row[0]}") for row in rows]


def conflict_message(error: IntegrityError) -> str:
    detail = str(error.orig).splitlines()[0] if error.orig is not None else ""
    return (
        "This clashes with another record (a value that must be unique is already used, or a "
        f"record it refers to is gone): {detail}. Nothing was saved."
    )


__all__ = ["routes"]
