"""The record side of the model views plugins declare: each view's model with its form and
detail fields completed from the columns and checked at start-up, the panels other plugins
add to the model, and what the signed-in user may do with one record, asked of the access
table (DESIGN rule 3), never decided here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, inspect, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from starlette.exceptions import HTTPException
from starlette.requests import Request

from accord.core.access import Principal
from accord.core.contributions import ChoicesOf, FormField, ModelView, Operation, RecordPanel
from accord.core.errors import PluginError
from accord.core.manager import AccordPluginManager
from accord.core.workflow import WorkflowEngine
from accord.ui.fields import Field, FieldError, humanize, resolve, resolve_attribute
from accord.ui.lists import listed_models
from accord.ui.panels import panels_for

NOT_FOUND = "There is no such record, or you may not see it."


def primary_key(model: type[Any]) -> InstrumentedAttribute[Any]:
    """The attribute of ``model`` that maps its (first) primary key column."""
    mapper = inspect(model)
    prop = mapper.get_property_by_column(mapper.primary_key[0])
    attribute: InstrumentedAttribute[Any] = getattr(model, prop.key)
    return attribute


def typed_id(key: InstrumentedAttribute[Any], text: str, not_found: str) -> Any:
    """The id of a URL as ``key``'s column type; a malformed one is not found (404)."""
    try:
        kind = key.property.columns[0].type.python_type
    except NotImplementedError:
        return text
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise HTTPException(404, not_found) from None


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class DetailField:
    """A field of the record page: its label, the labels of its choices, and the model a
    reference points to."""

    name: str
    label: str
    choices: Mapping[str, str] | None
    target: type[Any] | None
    choices_of: ChoicesOf | None = None
    """The plugin's function giving the choices per request, when they are not fixed."""


@dataclass(frozen=True)
class Viewable:
    """A model view's records: how to find one through the user's session, its form and
    the fields and panels its page shows."""

    view: ModelView
    owner: str
    model: type[Any]
    sections: tuple[Section, ...]
    detail: tuple[DetailField, ...]
    panels: tuple[RecordPanel, ...]
    """The panels plugins add to the model's record pages, in their order."""
    workflow_fields: frozenset[str]

    @property
    def name(self) -> str:
        return self.view.name

    @property
    def table(self) -> Table:
        table: Table = self.model.__table__
        return table

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(field for section in self.sections for field in section.fields)

    @property
    def has_form(self) -> bool:
        return bool(self.sections)

    @property
    def key(self) -> InstrumentedAttribute[Any]:
        return primary_key(self.model)

    def page_path(self, record_id: Any) -> str:
        """The generic record page (``/views/<name>/<id>``), wherever ``record_url`` points."""
        return f"/views/{self.name}/{record_id}"

    def record_url(self, record_id: Any) -> str:
        return self.view.record_url(record_id)

    def record_id(self, text: str) -> Any:
        return typed_id(self.key, text, NOT_FOUND)

    def find(self, session: Session, text: str) -> Any:
        """The record of a URL read through the user's session: one they may not read is
        not found (404), so a page never tells whether it exists."""
        record = session.scalars(select(self.model).where(self.key == self.record_id(text))).first()
        if record is None:
            raise HTTPException(404, NOT_FOUND)
        return record

    def allows(self, principal: Principal, operation: Operation) -> bool:
        """Whether any access row lets the user do ``operation`` on some rows of the model
        (and, for reading, whether they hold the view's permission)."""
        if principal.is_system:
            return True
        if (
            operation == "read"
            and self.view.permission is not None
            and not principal.can(self.view.permission)
        ):
            return False
        policy = principal.policy
        return (
            policy is not None
            and policy.decide(principal.roles, self.view.model, operation).allowed
        )

    def may(
        self, session: Session, principal: Principal, record: Any, operation: Operation
    ) -> bool:
        """Whether the access table lets the user do ``operation`` on this very row."""
        if principal.is_system:
            return True
        if not self.allows(principal, operation):
            return False
        assert principal.policy is not None
        condition = principal.policy.criteria(principal, self.model, operation)
        if condition is None:
            return True
        identity = inspect(record).identity
        if identity is None:
            return True
        query = select(self.key).where(self.key == identity[0], condition)
        return session.connection().execute(query).first() is not None


def view_of(items: Mapping[str, Viewable], request: Request) -> Viewable:
    """The view of a URL's ``name``, which the user may read (404 for no such view, 403
    when their roles let them read none of its rows)."""
    item = items.get(request.path_params["name"])
    if item is None:
        raise HTTPException(404, "There is no such list.")
    if not item.allows(request.state.principal, "read"):
        raise HTTPException(403, f"You may not see {item.view.title.lower()}.")
    return item


def viewables(pm: AccordPluginManager, workflows: WorkflowEngine) -> dict[str, Viewable]:
    """Every plugin's model views with their forms and detail fields checked: a field that
    is not a column, a workflow's state in a form, or a reference to a model without a name
    refuses the app, naming plugin, view and field."""
    workflow_fields: dict[type[Any], set[str]] = defaultdict(set)
    for machine in workflows.machines.values():
        workflow_fields[machine.model].add(machine.workflow.state_field)
    found: dict[str, Viewable] = {}
    for name, listed in listed_models(pm).items():
        model = listed.model
        panels = panels_for(pm, listed.view.model)
        found[name] = _checked(listed.view, listed.owner, model, panels, workflow_fields[model])
    return found


def _checked(
    view: ModelView,
    owner: str,
    model: type[Any],
    panels: tuple[RecordPanel, ...],
    state_fields: set[str],
) -> Viewable:
    table: Table = model.__table__

    def fail(field_name: str, problem: str) -> PluginError:
        return PluginError(
            f"plugin {owner!r}, model view {view.name!r}, field {field_name!r}: {problem}"
        )

    key_columns = {column.name for column in table.primary_key.columns}
    sections = []
    seen: set[str] = set()
    for section in view.form:
        fields = []
        for declared in section.fields:
            name = declared.field
            if name not in table.c:
                if name in seen:
                    raise fail(name, "the form asks for it twice")
                fields.append(_attribute(view, model, declared, fail))
                seen.add(name)
                continue
            if name in seen:
                raise fail(name, "the form asks for it twice")
            if name in key_columns:
                raise fail(name, "the record's key is not a form field")
            if name in state_fields:
                raise fail(
                    name, "a workflow's state changes only through its transitions, not a form"
                )
            seen.add(name)
            column = table.c[name]
            try:
                fields.append(resolve(declared, column, referenced_model(model, column)))
            except FieldError as error:
                raise fail(name, str(error)) from None
        sections.append(Section(section.title, tuple(fields)))
    form_fields = {field.name: field for section in sections for field in section.fields}
    list_labels = {column.field: column.label for column in view.columns}
    names = view.detail or tuple(form_fields) or tuple(list_labels)
    detail = []
    for name in names:
        form_field = form_fields.get(name)
        if name not in table.c and form_field is not None:  # an attribute the form stores
            choices = dict(form_field.choices) if form_field.choices else None
            detail.append(DetailField(name, form_field.label, choices, None, form_field.choices_of))
            continue
        if name not in table.c:
            raise fail(name, f"{view.model} has no such column to show")
        column = table.c[name]
        choices = dict(form_field.choices) if form_field and form_field.choices else None
        label = form_field.label if form_field else list_labels.get(name) or humanize(name)
        detail.append(
            DetailField(
                name,
                label,
                choices,
                referenced_model(model, column),
                form_field.choices_of if form_field else None,
            )
        )
    return Viewable(
        view, owner, model, tuple(sections), tuple(detail), panels, frozenset(state_fields)
    )


def _attribute(
    view: ModelView, model: type[Any], declared: FormField, fail: Callable[[str, str], PluginError]
) -> Field:
    """A form field that is no column: an attribute of the model that the view's own
    ``create`` and ``update`` store (the kernel could not write it)."""
    name = declared.field
    if not hasattr(model, name) or name.startswith("_"):
        raise fail(name, f"{view.model} has no such column")
    if view.update is None or (view.creatable and view.create is None):
        raise fail(
            name,
            f"{view.model} has no such column; a field that is an attribute of the model "
            "needs the view's create and update to store it",
        )
    try:
        return resolve_attribute(declared)
    except FieldError as error:
        raise fail(name, str(error)) from None


def referenced_model(model: type[Any], column: Any) -> type[Any] | None:
    """The model a single-column foreign key points to, if any."""
    keys = list(column.foreign_keys)
    if len(keys) != 1:
        return None
    table_name = keys[0].column.table.name
    for mapper in model.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table_name:
            found: type[Any] = mapper.class_
            return found
    return None
