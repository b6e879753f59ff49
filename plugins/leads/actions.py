"""The steps of a lead that take more than a workflow button: converting it, merging a
duplicate into it, assigning it by the rules. Each runs in the request's session, so the
access table decides whether the user may, and in a savepoint, so a refusal changes
nothing and is shown in the panel that asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.api import AccessDeniedError, AccordError, RenderContext

from .assignment import choose
from .conversion import convert_lead
from .merge import merge_leads
from .models import Lead
from .service import LeadInputError
from .views import lead_path, render, render_conversion, render_duplicates
from .workflows import leads_settings


def find_lead(session: Session, text: str) -> Lead:
    try:
        lead_id = int(text)
    except ValueError:
        raise HTTPException(404, "There is no such lead.") from None
    lead = session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        raise HTTPException(404, "There is no such lead.")
    return lead


def redirect(request: Request, path: str) -> Response:
    """htmx follows ``HX-Redirect`` with a full page load; a browser without htmx gets 303."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": path})
    return RedirectResponse(path, status_code=303)


def attempt(session: Session, work: Callable[[], Any]) -> str | None:
    """Run ``work`` in a savepoint; the reason it was refused, or None when it was done."""
    try:
        with session.begin_nested():
            work()
    except LeadInputError as error:
        return str(error)  # names the field
    except (AccordError, AccessDeniedError) as error:
        return str(getattr(error, "reason", None) or error)
    return None


def optional_int(form: FormData, name: str, label: str) -> int | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{label}: {text!r} is not a whole number") from None


def optional_date(form: FormData, name: str, label: str) -> dt.date | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{label}: {text!r} is not a date (YYYY-MM-DD)") from None


def convert(request: Request, form: FormData) -> Response:
    session: Session = request.state.session
    lead = find_lead(session, request.path_params["id"])
    made: list[int] = []

    def work() -> None:
        try:
            partner_id = optional_int(form, "partner_id", "Existing customer number")
            probability = optional_int(form, "probability", "Probability")
            close = optional_date(form, "expected_close", "Expected close")
        except ValueError as error:
            raise AccordError(str(error)) from None
        conversion = convert_lead(
            session,
            lead,
            partner_id=partner_id,
            opportunity_name=str(form.get("opportunity_name") or ""),
            expected_revenue=str(form.get("expected_revenue") or "0"),
            probability=probability,
            expected_close=close,
            stage=str(form.get("stage") or "qualification"),
        )
        made.append(conversion.partner.id)

    problem = attempt(session, work)
    if problem is None:
        return redirect(request, f"/partners/{made[0]}")
    session.refresh(lead)
    context = RenderContext(
        session=session, user=None, record=lead, params={"convert_error": problem}
    )
    return HTMLResponse(render_conversion(context))


def merge(request: Request, form: FormData) -> Response:
    session: Session = request.state.session
    survivor = find_lead(session, request.path_params["id"])
    merged = find_lead(session, str(form.get("merged_id") or ""))
    problem = attempt(session, lambda: merge_leads(session, survivor, merged))
    if problem is None:
        return redirect(request, lead_path(survivor.id))
    context = RenderContext(session=session, user=None, record=survivor)
    html = render_duplicates(context)
    return HTMLResponse(render("problem.html", message=problem) + html)


def assign(request: Request, form: FormData) -> Response:
    session: Session = request.state.session
    lead = find_lead(session, request.path_params["id"])
    chosen: list[Any] = []

    def work() -> None:
        assignment = choose(session, leads_settings(session), lead)
        if assignment is None:
            raise AccordError("no assignment rule matches this lead; assign it by hand")
        lead.owner_id, lead.team_id = assignment.owner_id, assignment.team_id
        session.flush()
        chosen.append(assignment)

    problem = attempt(session, work)
    if problem is None:
        return redirect(request, lead_path(lead.id))
    return HTMLResponse(render("problem.html", message=problem))


def form_route(handler: Callable[[Request, FormData], Response]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(handler, request, form)

    return endpoint


def routes() -> list[BaseRoute]:
    return [
        Route("/{id}/convert", form_route(convert), methods=["POST"], name="convert"),
        Route("/{id}/merge", form_route(merge), methods=["POST"], name="merge"),
        Route("/{id}/assign", form_route(assign), methods=["POST"], name="assign"),
    ]
