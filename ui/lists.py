"""The lists of the models plugins declare viewable (``accord_model_views``), at
``/views/<name>`` and ``/views/<name>.csv``: search, filters, sort, keyset pages, a capped
count, chosen columns. Rows are read only through the request's session, so the access
table decides which rows a list, its count and its export hold (DESIGN rules 3 and 9)."""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import decimal
import enum
import io
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, Table, bindparam, false, func, or_, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from accord.core.access import Principal
from accord.core.contributions import ListColumn, ListFilter, ModelView
from accord.core.errors import PluginError
from accord.core.manager import AccordPluginManager
from accord.core.numbers import Numbers
from accord.ui.site import Site
from accord.ui.templating import wants_fragment

PAGE_SIZE = 50
COUNT_CAP = 1000
"""Beyond this many rows the list says "more than 1,000" instead of counting them all."""
COUNTED = "accord_list_count"
"""The column of a page's rows that holds the capped count."""
FILTERS_KEPT = 1000
"""Filter conditions a list keeps built; past it they are built again."""
NAME_SUFFIX = "__accord_name"
"""The column of a page's rows that holds the name of the row a column points to."""
CSV_BATCH = 500
RESULTS_BLOCK = "results"
"""The block of list/list.html that an htmx request (search, filter, sort, page) gets."""


class ListQueryError(ValueError):
    """A query parameter of a list that cannot be honoured; its message is shown."""


@dataclass(frozen=True)
class ListedModel:
    """A checked view with the model class it lists."""

    view: ModelView
    owner: str
    model: type[Any]
    _filters: dict[tuple[str, str], ColumnElement[bool]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The condition of each filter and choice, built once (SQL expressions are immutable);
    a filter's values are only its choices."""

    @property
    def table(self) -> Table:
        table: Table = self.model.__table__
        return table

    def column(self, name: str) -> InstrumentedAttribute[Any]:
        attribute: InstrumentedAttribute[Any] = getattr(self.model, name)
        return attribute

    @cached_property
    def references(self) -> dict[str, Reference]:
        """The view's columns that point to a row with a name (an owner), by column (found
        once, not per page)."""
        found = {c.field: referenced_name(self.model, c.field) for c in self.view.columns}
        return {name: reference for name, reference in found.items() if reference is not None}

    def sortable(self) -> list[str]:
        return [column.field for column in self.view.columns if column.sortable]

    def readable_by(self, principal: Principal) -> bool:
        """The user may see the list: a read grant on the model and the view's permission."""
        if principal.is_system:
            return True
        if self.view.permission is not None and not principal.can(self.view.permission):
            return False
        policy = principal.policy
        return (
            policy is not None and policy.decide(principal.roles, self.view.model, "read").allowed
        )

    def creatable_by(self, principal: Principal) -> bool:
        """The view has a form and an access row lets the user create rows of the model."""
        if not self.view.form or not self.view.creatable:
            return False
        if principal.is_system:
            return True
        policy = principal.policy
        return (
            policy is not None and policy.decide(principal.roles, self.view.model, "create").allowed
        )


def listed_models(pm: AccordPluginManager) -> dict[str, ListedModel]:
    """Every plugin's views, checked against their models; a field that is not a column, or
    a sort or filter without an index, refuses the app naming plugin, view and field."""
    models: dict[str, type[Any]] = {}
    for model in pm.collect("accord_models"):
        if isinstance(model, type) and hasattr(model, "__table__"):
            models.setdefault(str(model.__table__.name), model)
    listed: dict[str, ListedModel] = {}
    for owner, view in pm.collect_with_owner("accord_model_views"):
        model = models.get(view.model)
        if model is None:
            raise PluginError(
                f"plugin {owner!r}, model view {view.name!r}: no plugin declares a model with "
                f"the table {view.model!r}; name a table from accord_models"
            )
        item = ListedModel(view, owner, model)
        _check(item)
        listed[view.name] = item
    return listed


def _check(item: ListedModel) -> None:
    view, table = item.view, item.table

    def fail(field_name: str, problem: str) -> None:
        raise PluginError(
            f"plugin {item.owner!r}, model view {view.name!r}, field {field_name!r}: {problem}"
        )

    def leads_an_index(name: str) -> bool:
        column = table.c[name]
        if column.primary_key and next(iter(table.primary_key.columns)) is column:
            return True
        firsts = [list(index.columns)[:1] for index in table.indexes]
        return any(first and first[0] is column for first in firsts)

    if not view.name.replace("-", "").replace("_", "").isalnum():
        fail(view.name, "a view's name is a URL slug: letters, digits, '-' and '_'")
    names = [column.field for column in view.columns]
    fields = [*names, *view.search, *(f.field for f in view.filters)]
    for name in fields:
        if name not in table.c:
            fail(name, f"{view.model} has no such column")
    for name in view.default_columns:
        if name not in names:
            fail(name, "a default column must be one of the view's columns")
    for column in view.columns:
        if column.sortable and not leads_an_index(column.field):
            fail(column.field, f"sortable, but no index of {view.model} starts with it")
        if column.sortable and table.c[column.field].nullable:
            fail(column.field, "sortable, but nullable: pages go by keyset, which needs values")
    for list_filter in view.filters:
        if not leads_an_index(list_filter.field):
            fail(list_filter.field, f"a filter, but no index of {view.model} starts with it")
        if list_filter.kind == "choice" and not list_filter.choices:
            fail(list_filter.field, "a choice filter needs its choices")
        if not isinstance(list_filter.choices, tuple):
            continue  # asked per request, of the request's session
        for value, _ in list_filter.choices:
            try:
                typed(item, list_filter.field, value)
            except (ValueError, TypeError, decimal.InvalidOperation):
                fail(list_filter.field, f"the choice {value!r} is not a value of the column")
    sort = view.default_sort.removeprefix("-")
    if sort != "id" and sort not in item.sortable():
        fail(sort, "the default sort must be 'id' or a sortable column")
    if "id" not in table.c:
        fail("id", f"{view.model} has no 'id' column, which keyset pages need")


# --- what the user asked for ------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """A list's query parameters, checked: ``q``, ``sort`` (``-`` for descending),
    ``f_<field>`` filters, ``col`` (repeated) columns, ``after``/``before`` cursors."""

    search: str = ""
    sort: str = "id"
    descending: bool = False
    filters: Mapping[str, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    after: tuple[Any, int] | None = None
    before: tuple[Any, int] | None = None

    @property
    def sort_param(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string's pairs of this query, with ``changes`` (``sort``, ``cursor``)."""
        pairs: list[tuple[str, str]] = []
        if self.search:
            pairs.append(("q", self.search))
        pairs.append(("sort", changes.get("sort", self.sort_param)))
        pairs.extend((f"f_{name}", value) for name, value in self.filters.items())
        pairs.extend(("col", name) for name in self.columns)
        if "after" in changes:
            pairs.append(("after", changes["after"]))
        if "before" in changes:
            pairs.append(("before", changes["before"]))
        return pairs


def parse_query(item: ListedModel, params: Any, session: Session) -> tuple[ListQuery, list[str]]:
    """The query the parameters ask for, and what was wrong with them (each bad parameter
    falls back to the view's default, and its message is shown); ``session`` answers the
    filters whose choices a plugin works out per request."""
    view = item.view
    problems: list[str] = []
    search = (params.get("q") or "").strip()[:200]
    sort, descending = view.default_sort.removeprefix("-"), view.default_sort.startswith("-")
    asked = params.get("sort")
    if asked:
        name = asked.removeprefix("-")
        if name == "id" or name in item.sortable():
            sort, descending = name, asked.startswith("-")
        else:
            choices = ", ".join(repr(s) for s in item.sortable()) or "none"
            problems.append(
                f"This list cannot be sorted by {asked!r}; sortable columns: {choices}."
            )
    filters: dict[str, str] = {}
    for list_filter in view.filters:
        value = params.get(f"f_{list_filter.field}") or ""
        if not value:
            continue
        if value in dict(_choices(list_filter, session)):
            filters[list_filter.field] = value
        else:
            problems.append(f"{list_filter.label}: {value!r} is not one of the choices.")
    known = {column.field for column in view.columns}
    asked_columns = set(params.getlist("col"))
    columns = tuple(c.field for c in view.columns if c.field in asked_columns)  # view's order
    unknown = [name for name in params.getlist("col") if name not in known]
    if unknown:
        problems.append(f"This list has no column {unknown[0]!r}.")
    if not columns:
        columns = view.default_columns or tuple(column.field for column in view.columns)
    query = ListQuery(search, sort, descending, filters, columns)
    for direction in ("after", "before"):
        token = params.get(direction)
        if not token:
            continue
        try:
            cursor = decode_cursor(item, sort, token)
        except ListQueryError as error:
            problems.append(f"{error} Showing the first page.")
            break
        return ListQuery(
            search, sort, descending, filters, columns, **{direction: cursor}
        ), problems
    return query, problems


def _choices(list_filter: ListFilter, session: Session) -> tuple[tuple[str, str], ...]:
    if list_filter.kind == "boolean":
        return (("yes", "Yes"), ("no", "No"))
    if isinstance(list_filter.choices, tuple):
        return list_filter.choices
    return tuple(list_filter.choices(session))


# --- cursors: the sort value and the id of a page's edge row --------------------------------


def encode_cursor(value: Any, row_id: int) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, dt.date | decimal.Decimal):
        value = str(value)
    raw = json.dumps([value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(item: ListedModel, sort: str, token: str) -> tuple[Any, int]:
    bad = ListQueryError("The page link is not valid (it may be from another sort order).")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, row_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad from None
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        raise bad
    try:
        kind = item.table.c[sort].type.python_type
    except NotImplementedError:
        kind = object
    try:
        if issubclass(kind, enum.Enum):
            value = kind(value)
        elif kind is dt.datetime:
            value = dt.datetime.fromisoformat(value)
        elif kind is dt.date:
            value = dt.date.fromisoformat(value)
        elif kind is decimal.Decimal:
            value = decimal.Decimal(value)
        elif kind in (str, int, float, bool) and not isinstance(value, kind):
            raise bad
    except (ValueError, TypeError, decimal.InvalidOperation):
        raise bad from None
    return value, row_id


def typed(item: ListedModel, name: str, value: str) -> Any:
    """A filter's choice (a string in the URL) as a value of its column."""
    try:
        kind = item.table.c[name].type.python_type
    except NotImplementedError:
        return value
    if issubclass(kind, enum.Enum | int | float | decimal.Decimal) and not issubclass(kind, bool):
        return kind(value)
    if kind in (dt.date, dt.datetime):
        return kind.fromisoformat(value)
    return value


# --- reading --------------------------------------------------------------------------------


def conditions(item: ListedModel, query: ListQuery) -> list[ColumnElement[bool]]:
    """The search and the filters; the access table adds its own through the session."""
    where: list[ColumnElement[bool]] = []
    if query.search and item.view.search:
        pattern = "%" + query.search.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern += "%"
        where.append(
            or_(*(item.column(name).ilike(pattern, escape="\\") for name in item.view.search))
        )
    elif query.search:
        where.append(false())
    for list_filter in item.view.filters:
        value = query.filters.get(list_filter.field)
        if value is None:
            continue
        condition = item._filters.get((list_filter.field, value))
        if condition is None:
            column = item.column(list_filter.field)
            if list_filter.kind == "boolean":
                condition = column.is_(value == "yes")
            else:
                condition = column == typed(item, list_filter.field, value)
            if len(item._filters) > FILTERS_KEPT:  # choices a plugin works out may change
                item._filters.clear()
            item._filters[(list_filter.field, value)] = condition
        where.append(condition)
    return where


def ordered(item: ListedModel, query: ListQuery, statement: Select[Any]) -> Select[Any]:
    """Keyset paging: rows after (or before) the cursor in ``(sort, id)`` order."""
    sort, ident = item.column(query.sort), item.column("id")
    keys = tuple_(sort, ident) if query.sort != "id" else None
    backwards = query.before is not None
    descending = query.descending != backwards
    cursor = query.after or query.before
    if cursor is not None:
        value, row_id = cursor
        if keys is None:
            statement = statement.where(ident < row_id if descending else ident > row_id)
        else:
            edge = tuple_(value, row_id)
            statement = statement.where(keys < edge if descending else keys > edge)
    if query.sort == "id":
        order = [ident.desc() if descending else ident.asc()]
    else:
        order = [sort.desc(), ident.desc()] if descending else [sort.asc(), ident.asc()]
    return statement.order_by(*order)


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    count: int
    capped: bool
    next_cursor: str | None
    previous_cursor: str | None
    labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    """The names of the rows that columns point to, read with the page (by column)."""


def listed_columns(item: ListedModel, query: ListQuery) -> Select[Any]:
    """The SELECT of the columns a page shows, with the id and the sort key that its links
    and cursors need: plain rows (``row.name``), not records, which cost their identity
    map, their instrumented state and every other column."""
    names = dict.fromkeys(("id", query.sort, *query.columns))
    return select(*(item.column(name) for name in names))


def read_page(session: Session, item: ListedModel, query: ListQuery) -> Page:
    """One page of rows, the capped count and the names of the rows they point to (their
    owners), read through the user's session in one statement: the count is a column of
    every row, and each name comes from an outer join (NULL where the user may not read
    the row it names, which then shows as its id)."""
    where = conditions(item, query)
    counted = select(item.column("id")).where(*where).limit(COUNT_CAP + 1).subquery()
    count_of = select(func.count()).select_from(counted)
    columns = listed_columns(item, query).add_columns(count_of.scalar_subquery().label(COUNTED))
    joined: dict[str, str] = {}
    # One join per model: a second one, or one to the listed model itself, would need an
    # alias; those names are read by a query of their own (reference_labels).
    targets: set[type[Any]] = {item.model}
    for name in query.columns:
        reference = item.references.get(name)
        if reference is None or reference.target in targets:
            continue
        targets.add(reference.target)
        joined[name] = f"{name}{NAME_SUFFIX}"
        columns = columns.add_columns(reference.name.label(joined[name])).outerjoin(
            reference.target, item.column(name) == reference.key
        )
    rows = list(session.execute(ordered(item, query, columns.where(*where)).limit(PAGE_SIZE + 1)))
    if rows:
        count = getattr(rows[0], COUNTED)
    else:  # past the last page (a stale link) there is no row to carry the count
        count = (session.scalar(count_of) or 0) if query.after or query.before else 0
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if query.before is not None:
        rows.reverse()

    def cursor(row: Any) -> str:
        return encode_cursor(getattr(row, query.sort), row.id)

    paging = query.after is not None or query.before is not None
    next_cursor = previous_cursor = None
    if rows:
        has_next = more if query.before is None else True
        has_previous = more if query.before is not None else query.after is not None
        next_cursor = cursor(rows[-1]) if has_next else None
        previous_cursor = cursor(rows[0]) if has_previous and paging else None
    labels: dict[str, dict[Any, str]] = {name: {} for name in joined}
    for name, label in joined.items():
        for row in rows:
            shown = getattr(row, label)  # None: no such row, or one the user may not read
            if shown is not None:
                labels[name][getattr(row, name)] = str(shown)
    return Page(
        rows, min(count, COUNT_CAP), count > COUNT_CAP, next_cursor, previous_cursor, labels
    )


def display(
    row: Any, name: str, labels: Mapping[str, Mapping[Any, str]], numbers: Numbers | None
) -> str:
    """A cell as text: a decimal number as the company writes it (``numbers``), or plain
    (``12500.00``) for a machine when ``numbers`` is ``None`` (the CSV export)."""
    value = getattr(row, name)
    if name in labels and value in labels[name]:
        return labels[name][value]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, decimal.Decimal) and numbers is not None:
        return numbers.show(value)
    return str(value)


def reference_labels(
    session: Session, item: ListedModel, columns: Sequence[str], rows: Sequence[Any]
) -> dict[str, dict[Any, str]]:
    """For columns that point to a row with a ``name`` (an owner), those names: one query per
    such column and page, through the user's session (a row they may not read stays an id)."""
    labels: dict[str, dict[Any, str]] = {}
    for name in columns:
        found = item.references.get(name)
        ids = {getattr(row, name) for row in rows} - {None}
        if found is None or not ids:
            continue
        names = session.execute(found.names, {"ids": list(ids)})
        labels[name] = {key: str(label) for key, label in names}
    return labels


@dataclass(frozen=True)
class Reference:
    """A column that points to a row of a model with a ``name`` (an owner): that model,
    its key and its name."""

    target: type[Any]
    key: InstrumentedAttribute[Any]
    name: InstrumentedAttribute[Any]

    @cached_property
    def names(self) -> Select[Any]:
        """The keys and names of the rows whose keys are the parameter ``ids``."""
        return select(self.key, self.name).where(self.key.in_(bindparam("ids", expanding=True)))


def referenced_name(model: type[Any], name: str) -> Reference | None:
    """The reference of the column ``name`` of ``model``, if it points to a row with a name."""
    table: Table = model.__table__
    keys = list(table.c[name].foreign_keys)
    if len(keys) != 1:
        return None
    target = next(
        (
            mapper.class_
            for mapper in model.registry.mappers
            if getattr(mapper.local_table, "name", None) == keys[0].column.table.name
        ),
        None,
    )
    if target is None or not hasattr(target, "name"):
        return None
    return Reference(target, getattr(target, keys[0].column.name), target.name)


# --- pages ----------------------------------------------------------------------------------


def routes(site: Site) -> list[BaseRoute]:
    listed = listed_models(site.runtime.pm)

    def find(request: Request) -> ListedModel:
        item = listed.get(request.path_params["name"])
        if item is None:
            raise HTTPException(404, "There is no such list.")
        if not item.readable_by(request.state.principal):
            raise HTTPException(403, f"You may not see the list {item.view.title!r}.")
        return item

    def list_page(request: Request) -> Response:
        item = find(request)
        session: Session = request.state.session
        query, problems = parse_query(item, request.query_params, session)
        page = read_page(session, item, query)
        unread = [name for name in query.columns if name not in page.labels]
        labels = {**page.labels, **reference_labels(session, item, unread, page.rows)}
        path = request.url.path
        values = {
            "view": item.view,
            "query": query,
            "page": page,
            "problems": problems,
            "list_path": path,
            "csv_path": f"{path}.csv",
            "columns": [c for c in item.view.columns if c.field in query.columns],
            "sortable": set(item.sortable()),
            "filter_choices": [(f, _choices(f, session)) for f in item.view.filters],
            "cells": lambda row, name: display(row, name, labels, site.numbers),
            "link": lambda **changes: link(path, query, **changes),
            "csv_link": link(f"{path}.csv", query),
            "new_path": f"{path}/new" if item.creatable_by(request.state.principal) else None,
        }
        # htmx swaps only a 2xx answer, so a fragment with a problem is still a 200.
        status = 400 if problems and not wants_fragment(request) else 200
        return site.page(request, "list/list.html", values, status, fragment=RESULTS_BLOCK)

    def list_csv(request: Request) -> Response:
        item = find(request)
        query, problems = parse_query(item, request.query_params, request.state.session)
        if problems:
            return Response("\n".join(problems) + "\n", status_code=400, media_type="text/plain")
        session: Session = request.state.session
        labels = {c.field: c.label for c in item.view.columns}
        header = [labels[name] for name in query.columns]
        spool = write_csv(header, export_rows(session, item, query))
        disposition = f'attachment; filename="{item.view.name}.csv"'
        return StreamingResponse(
            chunks(spool),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )

    return [
        Route("/views/{name:str}.csv", list_csv, name="list_csv"),
        Route("/views/{name:str}", list_page, name="list"),
    ]


def link(path: str, query: ListQuery, **changes: Any) -> str:
    return f"{path}?{urlencode(query.params(**changes))}"


def export_rows(session: Session, item: ListedModel, query: ListQuery) -> Iterator[list[str]]:
    """Every row of the list (not one page), in keyset batches, read through the user's
    session (plain rows, so memory follows the batch)."""
    current = ListQuery(query.search, query.sort, query.descending, query.filters, query.columns)
    where = conditions(item, query)
    while True:
        statement = ordered(item, current, listed_columns(item, query).where(*where))
        rows = list(session.execute(statement.limit(CSV_BATCH)))
        labels = reference_labels(session, item, query.columns, rows)
        for row in rows:
            yield [display(row, name, labels, None) for name in query.columns]
        if len(rows) < CSV_BATCH:
            return
        last = (getattr(rows[-1], query.sort), rows[-1].id)
        current = ListQuery(
            query.search, query.sort, query.descending, query.filters, query.columns, after=last
        )


def write_csv(header: list[str], rows: Iterator[list[str]]) -> IO[bytes]:
    """The CSV, written while the request's unit of work is open (the sign-in middleware
    ends it when the response starts), into a file that stays in memory while small."""
    spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115 (streamed)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    text.flush()
    text.detach()
    spool.seek(0)
    return spool


def chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(64 * 1024):
            yield chunk


__all__ = ["ListColumn", "ListFilter", "ModelView", "listed_models", "routes"]
