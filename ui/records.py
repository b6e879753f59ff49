"""A page per record of every model view, at ``/views/<view>/<id>``: its fields in words, the
panels other plugins add to its model (each in its own savepoint, so one failing panel
does not take the page down), its workflow buttons and its history; and the deletion of a
record, confirmed. Records are read through the user's session (one they may not read is
not found) and change only through the workflow engine and the access layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.core.access import AccessDeniedError, Principal
from accord.core.numbers import Numbers
from accord.core.workflow import Available, WorkflowEngine
from accord.ui.fields import humanize, label_column, record_label, shown
from accord.ui.panels import render_context, render_slots
from accord.ui.site import Site, flash
from accord.ui.templating import wants_fragment
from accord.ui.transitions import attempt, held_back
from accord.ui.viewable import Viewable, view_of

RECORD_BLOCK = "record"
"""The block of record/record.html that an htmx transition gets back."""


@dataclass(frozen=True)
class Shown:
    """A field of the record page: its label, its value in words and, for a reference to a
    record with a page, that page."""

    name: str
    label: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a step asked for from the page did not happen, shown next to the buttons."""

    transition: str
    message: str
    inputs: Mapping[str, str]


def shown_fields(
    session: Session,
    item: Viewable,
    record: Any,
    pages: Mapping[type[Any], Viewable],
    numbers: Numbers,
) -> list[Shown]:
    """The record's detail fields in words; a reference as the referenced record's name,
    read through the user's session (one they may not read stays ``#<id>``)."""
    result = []
    for field in item.detail:
        value = getattr(record, field.name)
        if field.target is None or value is None:
            choices = field.choices
            if field.choices_of is not None:  # the plugin's, from its settings or data
                choices = dict(field.choices_of(session))
            result.append(Shown(field.name, field.label, shown(value, numbers, choices)))
            continue
        target = field.target
        key = item_key(target)
        name_column = label_column(target)
        found = None
        if name_column is not None:
            found = session.execute(select(name_column).where(key == value)).scalar_one_or_none()
        text = str(found) if found else f"#{value}"
        page = pages.get(target)
        url = page.record_url(value) if page is not None and found is not None else None
        result.append(Shown(field.name, field.label, text, url))
    return result


def item_key(model: type[Any]) -> Any:
    mapper = inspect(model)
    return getattr(model, mapper.get_property_by_column(mapper.primary_key[0]).key)


def step_permitted(
    workflows: WorkflowEngine, principal: Principal, actions: Sequence[Available]
) -> dict[str, bool]:
    """Per step, whether the user holds its permission (``accord.toml`` may name another)."""
    permitted = {}
    for action in actions:
        step = workflows.machines[action.workflow].steps[action.name]
        permitted[action.name] = step.permission is None or principal.can(step.permission)
    return permitted


def routes(site: Site, items: Mapping[str, Viewable]) -> list[BaseRoute]:
    workflows = site.runtime.workflows
    pages = {item.model: item for item in reversed(list(items.values()))}

    def find_view(request: Request) -> Viewable:
        return view_of(items, request)

    def render(
        request: Request,
        item: Viewable,
        record: Any,
        status: int = 200,
        refusal: Refusal | None = None,
        toast: str | None = None,
    ) -> Response:
        session: Session = request.state.session
        principal: Principal = request.state.principal
        slots = render_slots(item.panels, render_context(request, record))
        record_id = getattr(record, item.key.key)
        actions = workflows.available(session, record)
        writable = item.may(session, principal, record, "write")
        permitted = step_permitted(workflows, principal, actions)
        held = held_back(actions, {n: ok and writable for n, ok in permitted.items()})
        states = {
            machine.workflow.state_field
            for machine in workflows.machines.values()
            if machine.model is item.model
        }
        values = {
            "item": item,
            "view": item.view,
            "record": record,
            "record_id": record_id,
            "title": record_label(record, record_id),
            "states": [humanize(str(getattr(record, name))) for name in sorted(states)],
            "fields": shown_fields(session, item, record, pages, site.numbers),
            "actions": [action for action in actions if action.allowed],
            "held": held,
            "refusal": refusal,
            "toast": toast,
            "slots": slots,
            "can_edit": item.has_form and writable,
            "can_delete": item.may(session, principal, record, "delete"),
            "history": workflows.history(session, record) if actions or states else [],
            "page_path": item.page_path(record_id),
            "humanize": humanize,
        }
        return site.page(request, "record/record.html", values, status, fragment=RECORD_BLOCK)

    def record_page(request: Request) -> Response:
        item = find_view(request)
        record = item.find(request.state.session, request.path_params["id"])
        return render(request, item, record)

    async def transition(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(take_step, request, form)

    def take_step(request: Request, form: FormData) -> Response:
        item = find_view(request)
        session: Session = request.state.session
        record = item.find(session, request.path_params["id"])
        name = request.path_params["transition"]
        available = {action.name: action for action in workflows.available(session, record)}
        step = available.get(name)
        if step is None:
            known = [m for m in workflows.machines.values() if m.model is item.model]
            if not any(name in machine.steps for machine in known):
                raise HTTPException(404, "This record has no such step.")
        required = step.required_inputs if step is not None else ()
        inputs = {key: str(form.get(key) or "").strip() for key in required}
        label = humanize(name)
        refused = attempt(session, workflows, record, name, inputs, label, "the page")
        if refused is not None:
            status, message = refused
            # The record as it is now (the rollback expired it), or gone meanwhile.
            record = item.find(session, request.path_params["id"])
            return render(request, item, record, status, Refusal(name, message, inputs))
        target = humanize(step.target if step is not None else name).lower()
        done = f"{record_label(record)}: {label.lower()} done, now {target}."
        if wants_fragment(request):
            return render(request, item, record, toast=done)
        flash(request, done)
        return RedirectResponse(item.page_path(getattr(record, item.key.key)), status_code=303)

    def deletable(request: Request) -> tuple[Viewable, Any]:
        item = find_view(request)
        session: Session = request.state.session
        record = item.find(session, request.path_params["id"])
        if not item.may(session, request.state.principal, record, "delete"):
            raise HTTPException(403, "You may not delete this record.")
        return item, record

    def confirm_page(
        request: Request, item: Viewable, record: Any, status: int = 200, problem: str = ""
    ) -> Response:
        record_id = getattr(record, item.key.key)
        values = {
            "item": item,
            "view": item.view,
            "title": record_label(record, record_id),
            "record_url": item.record_url(record_id),
            "delete_path": f"{item.page_path(record_id)}/delete",
            "problem": problem,
        }
        return site.page(request, "record/delete.html", values, status)

    def delete_confirm(request: Request) -> Response:
        item, record = deletable(request)
        return confirm_page(request, item, record)

    def delete(request: Request) -> Response:
        item, record = deletable(request)
        session: Session = request.state.session
        title = record_label(record, getattr(record, item.key.key))
        try:
            session.delete(record)
            session.flush()
        except AccessDeniedError:
            session.rollback()
            raise HTTPException(403, "You may not delete this record.") from None
        except IntegrityError:
            session.rollback()
            record = item.find(session, request.path_params["id"])
            problem = (
                f"{title} cannot be deleted: other records refer to it. Remove or change "
                "them first, or mark this one inactive."
            )
            return confirm_page(request, item, record, 409, problem)
        flash(request, f"{title} was deleted.")
        target = f"/views/{item.name}"
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    return [
        Route("/views/{name:str}/{id:str}", record_page, name="record"),
        Route(
            "/views/{name:str}/{id:str}/delete",
            delete_confirm,
            methods=["GET"],
            name="record_delete",
        ),
        Route("/views/{name:str}/{id:str}/delete", delete, methods=["POST"]),
        Route(
            "/views/{name:str}/{id:str}/transition/{transition:str}",
            transition,
            methods=["POST"],
            name="record_transition",
        ),
    ]


__all__ = ["routes"]
