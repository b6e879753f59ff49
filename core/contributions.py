"""What plugins contribute through hooks: small frozen records, collected once per manager.

A contribution is data, so the kernel can list it (`accord plugins plan`), check it for
duplicates and hand it to the part that uses it (security, workflow, UI, job runner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from markupsafe import Markup

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from accord.core.access import Principal
    from accord.core.security import User


@dataclass(frozen=True)
class Permission:
    """A named right, e.g. ``leads.convert``; roles are granted permissions.

    ``roles`` are the roles that hold it by default: how a plugin gives its permissions
    to the kernel's hats (``roles=("back_office",)``); ``[roles.<name>] permissions`` in
    accord.toml still decides in the end."""

    name: str
    title: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Role:
    """A hat a user wears (salesperson, agent, back office...), with the permissions it grants."""

    name: str
    title: str
    permissions: tuple[str, ...] = ()


Operation = Literal["read", "write", "create", "delete"]


@dataclass(frozen=True)
class AccessRule:
    """A row of the access table (DESIGN rule 3).

    With a ``role`` it *grants* ``operations`` on the rows of ``model`` (a table name, or
    ``"*"`` for every model) that ``scope`` selects; ``role="*"`` grants it to every
    signed-in user. Without a role it *restricts*: everybody's rows must also be in
    ``scope``. Scopes: ``all``, ``own`` (the owner column), ``team``, ``subtree`` (the
    team column, the principal's team or every team below it), ``via:<column>`` (the
    rows whose parent the principal may do the same on), or a named :class:`Scope`.
    """

    name: str
    model: str
    operations: tuple[Operation, ...]
    role: str | None = None
    scope: str = "all"


@dataclass(frozen=True)
class Scope:
    """A named record rule in Python: ``criteria(model, principal)`` returns the SQL
    condition selecting the rows the principal may see (never an eval'd string)."""

    name: str
    criteria: Callable[[type[Any], Principal], ColumnElement[bool]]


@dataclass(frozen=True)
class Guard:
    """A condition of a transition, in Python: ``check(session, record, inputs)`` returns
    the reason shown to the user while the transition cannot happen, or ``None``.

    ``WorkflowEngine.available`` asks guards with empty ``inputs`` to tell the user
    beforehand what blocks a step, so a guard that judges an input lets it pass when
    it is absent (the required-inputs check names a missing one)."""

    name: str
    check: Callable[[Session, Any, Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class Transition:
    """A move of a workflow record from one of ``source`` states to ``target``.

    ``permission`` is what the actor must hold (``accord.toml`` may name another one);
    ``required_inputs`` must be given, not blank (a loss reason); every guard must pass.
    ``requester_field`` names the record's column holding the id of the user who asked
    for the step; with ``allow_self_approval=False`` that user may not perform it (four
    eyes), which ``accord.toml`` may also change."""

    name: str
    source: tuple[str, ...]
    target: str
    permission: str | None = None
    required_inputs: tuple[str, ...] = ()
    guards: tuple[Guard, ...] = ()
    requester_field: str | None = None
    allow_self_approval: bool = True


@dataclass(frozen=True)
class Workflow:
    """A state machine over one model's state column; the model needs a version column
    (``WorkflowMixin`` gives both) so that concurrent transitions cannot both win."""

    name: str
    model: str
    initial: str
    states: tuple[str, ...]
    transitions: tuple[Transition, ...]
    state_field: str = "state"


@dataclass(frozen=True)
class Event:
    """A fact that happened and was committed, as subscribers receive it. ``occurred_at``
    is when it was emitted (its outbox row's time), however late the subscriber runs."""

    name: str
    payload: dict[str, Any]
    occurred_at: dt.datetime


@dataclass(frozen=True)
class EventSubscriber:
    """Runs ``handle`` after commit for every event named ``event``."""

    name: str
    event: str
    handle: Callable[[Session, Event], None]


@dataclass(frozen=True)
class JobType:
    """Work the job runner can do, by name, with retries."""

    name: str
    run: Callable[[Session, dict[str, Any]], None]
    max_attempts: int = 5


@dataclass(frozen=True)
class Schedule:
    """A job type started on a cron expression, once per period across all workers."""

    name: str
    cron: str
    job: str
    payload: dict[str, Any] = field(default_factory=dict)


PeriodKind = Literal["month", "quarter", "year", "last_12_months", "custom"]


@dataclass(frozen=True)
class DashboardFilters:
    """What the dashboard's filter bar asks for, checked, as every widget receives it.

    ``start`` and ``end`` are the first and the last day of the period (both included);
    ``start_at`` and ``end_at`` are the same period as UTC moments, ``end_at`` excluded,
    for ``created_at >= start_at AND created_at < end_at``. ``team_id`` is the chosen team
    or ``None`` for all; ``team_ids`` holds it and every team below it, the rows a widget
    counts for that team. ``product_line`` is a value offered by a plugin's
    :class:`ProductLines`, or ``None`` for all."""

    period: PeriodKind
    start: dt.date
    end: dt.date
    team_id: int | None = None
    team_ids: frozenset[int] = frozenset()
    product_line: str | None = None

    @classmethod
    def this_month(cls, today: dt.date | None = None) -> DashboardFilters:
        day = today or dt.datetime.now(dt.UTC).date()
        start = day.replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return cls("month", start, following - dt.timedelta(days=1))

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    def months(self) -> list[dt.date]:
        """The first day of every month the period touches, oldest first: the buckets of
        a per-month chart."""
        first = self.start.replace(day=1)
        months = []
        while first <= self.end:
            months.append(first)
            first = (first + dt.timedelta(days=32)).replace(day=1)
        return months


@dataclass(frozen=True)
class RenderContext:
    """What a panel or a widget sees when it renders: the user's session (so it reads only
    what the user may), the record of a record page, the request's query parameters and,
    on the dashboard, the filters the user chose (this month and everything otherwise).
    ``csrftoken`` is the signed-in user's token: a form that posts puts ``csrf_field()``
    inside, so that it is accepted with and without JavaScript."""

    session: Session
    user: User | None
    record: object | None = None
    params: dict[str, str] = field(default_factory=dict)
    filters: DashboardFilters = field(default_factory=DashboardFilters.this_month)
    csrftoken: str = ""

    def csrf_field(self) -> Markup:
        """The hidden input carrying the CSRF token, for a panel's or a widget's ``<form
        method="post">`` (htmx sends the token in a header too, but a form posted without
        JavaScript has only this field)."""
        return Markup('<input type="hidden" name="csrftoken" value="{}">').format(self.csrftoken)


Render = Callable[[RenderContext], str]
Slot = Literal["header_actions", "alerts", "side_panels", "tabs"]


@dataclass(frozen=True)
class MenuItem:
    """An entry of the navigation, shown to users who hold ``permission`` and, when
    ``model`` (a table name) is given, whose access rows let them read that model."""

    name: str
    label: str
    path: str
    permission: str | None = None
    section: str = "main"
    order: int = 100
    model: str | None = None


@dataclass(frozen=True)
class RecordPanel:
    """HTML that a plugin adds to another model's record page, in a named slot."""

    name: str
    model: str
    title: str
    render: Render
    slot: Slot = "side_panels"
    order: int = 100


@dataclass(frozen=True)
class DashboardWidget:
    """A tile of the dashboard; ``render`` returns escaped HTML."""

    name: str
    title: str
    render: Render
    permission: str | None = None
    order: int = 100


@dataclass(frozen=True)
class ProductLines:
    """Where the dashboard's product-line filter finds its choices: ``choices(session)``
    returns ``(value, label)`` pairs, read through the user's session (product lines are
    often data, such as the distinct lines of a product table). The chosen value reaches
    every widget as ``context.filters.product_line``."""

    name: str
    choices: Callable[[Session], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    subtitle: str = ""


@dataclass(frozen=True)
class SearchProvider:
    """Answers the global search box for one kind of record."""

    name: str
    title: str
    search: Callable[[Session, str, int], Sequence[SearchHit]]


@dataclass(frozen=True)
class StaticFolder:
    """A folder served under ``/static/<name>/``."""

    name: str
    path: Path


@dataclass(frozen=True)
class ListColumn:
    """A column of a model's list: an attribute of the model, shown under ``label``;
    ``sortable`` ones need an index that starts with that column (DESIGN rule 9)."""

    field: str
    label: str
    sortable: bool = False


ChoicesOf = Callable[["Session"], Sequence[tuple[str, str]]]
"""``choices(session)``: ``(value, label)`` pairs worked out for each request, from the
plugin's settings (``runtime_of(session).settings``) or from data the user may read."""
Choices = tuple[tuple[str, str], ...] | ChoicesOf


ListFilterKind = Literal["choice", "boolean"]


@dataclass(frozen=True)
class ListFilter:
    """A filter of a model's list on one indexed column: ``choice`` offers ``choices``
    (value, label) pairs, ``boolean`` offers yes and no. ``choices`` may be a function of
    the request's session, asked on each request: the channels of the plugin's settings."""

    field: str
    label: str
    kind: ListFilterKind = "choice"
    choices: Choices = ()


FieldKind = Literal[
    "text",
    "textarea",
    "email",
    "tel",
    "url",
    "integer",
    "decimal",
    "date",
    "datetime",
    "boolean",
    "choice",
    "multiple",
    "reference",
]


@dataclass(frozen=True)
class FormField:
    """A field of a model's form: a column of the model. What is not given is inferred from
    the column: ``label`` from its name, ``kind`` from its type (a string, a long string as
    ``textarea``, a number, a date, a boolean, an enum as ``choice``, a foreign key as
    ``reference``), ``required`` from ``NOT NULL`` without a default, ``choices`` from the
    enum's values. ``choices`` may also be a function of the request's session (the
    channels of the plugin's settings); a ``choice`` whose function gives none (a setting
    left empty, meaning any value) is then typed in as text. A ``reference`` is picked by
    searching the rows the user may read; ``multiple`` picks any number of the choices (a
    tuple of values).

    A field may also be an attribute of the model that is no column (a property reading a
    JSON column): it needs ``kind``, and the view's ``create`` and ``update`` store it."""

    field: str
    label: str = ""
    help: str = ""
    kind: FieldKind | None = None
    required: bool | None = None
    choices: Choices = ()


@dataclass(frozen=True)
class FormSection:
    """A titled group of a form's fields (``title`` may be empty for a form of one group)."""

    title: str
    fields: tuple[FormField, ...]


FormValidator = Callable[["Session", Mapping[str, Any], Any], Mapping[str, str]]
"""``validate(session, values, record)``: messages by field name for what the values may
not be (``{"email": "already used by Acme"}``); ``record`` is ``None`` on creation. The
values are already typed (an int, a date, an enum member, ``None`` for empty)."""
InitialValues = Callable[["Session", "Principal"], Mapping[str, Any]]
"""``initial(session, principal)``: values of a new record, shown in the form for the
fields it asks and set as they are for the others (an author, a default currency)."""
CreateRecord = Callable[["Session", "Principal", Mapping[str, Any]], Any]
"""``create(session, principal, values)``: adds the record a form describes through the
plugin's own service (normalising, deduplicating, assigning) and returns it; ``values`` are
the form's typed values over the ``initial`` ones. It raises ``RecordInputError`` (field →
message) for values the service refuses; the form shows them and nothing is written."""
UpdateRecord = Callable[["Session", "Principal", Any, Mapping[str, Any]], Any]
"""``update(session, principal, record, values)``: changes ``record`` as the edit form
asks, through the plugin's own service; refuses like ``CreateRecord``."""


@dataclass(frozen=True)
class ModelView:
    """A list of a model's rows at ``/views/<name>``, with its CSV export: search, filters,
    sort, keyset pages and a capped count, over exactly the rows the user may read; and a
    page per record at ``/views/<name>/<id>`` with its workflow buttons and the panels
    plugins add to the model.

    ``model`` is the table name; ``default_columns`` (default: all) are the columns shown
    until the user picks others; ``search`` are the text columns the search box looks in;
    ``default_sort`` is a sortable column, ``-`` in front for descending. ``permission``
    (besides a read grant on the model) is what the user must hold to see the list.

    ``form`` (sections of fields) lets users who may create or change the model's rows do
    so at ``/views/<name>/new`` and ``/views/<name>/<id>/edit``; ``validate`` checks the
    values beyond their types; ``initial`` gives a new record's values. ``create`` and
    ``update`` save through the plugin's service instead of a plain INSERT or UPDATE;
    ``creatable=False`` keeps the form for editing only (the records come from elsewhere,
    a conversion). ``detail`` are the
    fields the record page shows (default: the form's, else the list's columns).
    ``record_path`` (``"/partners/{id}"``) says that the model's record page lives
    elsewhere: lists and forms link there instead."""

    name: str
    model: str
    title: str
    columns: tuple[ListColumn, ...]
    default_columns: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    filters: tuple[ListFilter, ...] = ()
    default_sort: str = "id"
    permission: str | None = None
    order: int = 100
    form: tuple[FormSection, ...] = ()
    detail: tuple[str, ...] = ()
    validate: FormValidator | None = None
    initial: InitialValues | None = None
    record_path: str | None = None
    create: CreateRecord | None = None
    update: UpdateRecord | None = None
    creatable: bool = True

    def record_url(self, record_id: object) -> str:
        """The path of a record's page: ``record_path`` filled in, or ``/views/<name>/<id>``."""
        if self.record_path is not None:
            return self.record_path.format(id=record_id)
        return f"/views/{self.name}/{record_id}"


@dataclass(frozen=True)
class MailTemplate:
    """A message a plugin sends, as Jinja2 source: ``subject`` and ``text`` always,
    ``html`` optionally (then sent as the alternative of the text). Only the html part is
    autoescaped; a variable missing from the context is an error naming it. Name it
    ``<plugin>.<message>``; the integrator may override it by that name."""

    name: str
    subject: str
    text: str
    html: str | None = None
