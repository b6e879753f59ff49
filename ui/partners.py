"""The customer 360 page, ``/partners/<id>``: who the customer is, what can be done with it,
everything that happened with it (the timeline, loaded page by page as the user scrolls),
a form to log a note, call, meeting or task, a "Mark done" button on the open tasks the user
may change, and the panels every enabled plugin adds for ``core_partner``. Everything is
read and written through the user's session, so a customer the user may not read is not
found, and the timeline holds only what the user may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.core.access import AccessDeniedError, Principal
from accord.core.activities import Activity, ActivityKind, TaskError, complete_task, log_activity
from accord.core.partners import Partner, PartnerKind
from accord.core.security import Team, User
from accord.ui.panels import panels_for, render_context, render_slots
from accord.ui.site import Site, flash
from accord.ui.templating import wants_fragment
from accord.ui.timeline import CursorError, decode_cursor, entry, kinds_to_log, load_page

TEMPLATE = "partner/page.html"
TASK_TEMPLATE = "partner/task.html"
TIMELINE_BLOCK = "timeline_page"
"""The block of partner/page.html an htmx request for older entries gets."""
ACTIVITY_BLOCK = "activity"
"""The block holding the log form and the timeline's first page, redrawn after logging."""
PEOPLE_SHOWN = 50
SUBJECT_MAX = 200
BODY_MAX = 10_000
LOGGABLE = {kind for kind, _ in kinds_to_log()}


@dataclass
class ActivityForm:
    """The log form's values as typed, and what is wrong with them, by field."""

    kind: str = "note"
    subject: str = ""
    body: str = ""
    due: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, form: FormData) -> ActivityForm:
        def text(name: str) -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else ""

        values = cls(text("kind") or "note", text("subject"), text("body"), text("due"))
        values.check()
        return values

    def check(self) -> None:
        if self.kind not in LOGGABLE:
            choices = ", ".join(sorted(LOGGABLE))
            self.errors["kind"] = f"Choose what to log: {choices} (got {self.kind!r})."
        if not self.subject:
            self.errors["subject"] = "Give it a subject, e.g. what the call was about."
        elif len(self.subject) > SUBJECT_MAX:
            self.errors["subject"] = (
                f"At most {SUBJECT_MAX} characters, got {len(self.subject)}; "
                "put the rest in the details."
            )
        if len(self.body) > BODY_MAX:
            self.errors["body"] = f"At most {BODY_MAX:,} characters, got {len(self.body):,}."
        if self.kind == "task" and not self.due:
            self.errors["due"] = "A task needs a due date."
        elif self.due and self.kind != "task":
            self.errors["due"] = "Only a task has a due date: choose Task, or clear the date."
        elif self.due and self.due_date is None:
            self.errors["due"] = (
                f"Write the date as YYYY-MM-DD, e.g. 2026-12-01 (got {self.due!r})."
            )

    @property
    def due_date(self) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.due) if self.due else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Header:
    """What the header shows besides the partner's own columns."""

    company: Partner | None
    people: list[Partner]
    more_people: bool
    owner: str
    team: str


def may_write(session: Session, principal: Principal, partner: Partner) -> bool:
    """Whether the access table lets ``principal`` change this customer (asked of the data
    layer's rules, not re-implemented): it decides the Edit link and the log form."""
    if principal.is_system:
        return True
    policy = principal.policy
    if policy is None or not policy.decide(principal.roles, "core_partner", "write").allowed:
        return False
    condition = policy.criteria(principal, Partner, "write")
    if condition is None:
        return True
    query = select(Partner.id).where(Partner.id == partner.id, condition)
    return session.connection().execute(query).first() is not None


def find_partner(session: Session, partner_id: int) -> Partner:
    """The customer read through the user's session; 404 when it does not exist or the
    user may not read it (the same answer, so the page does not tell which)."""
    partner = session.scalars(
        select(Partner)
        .where(Partner.id == partner_id)
        .options(selectinload(Partner.addresses), selectinload(Partner.external_ids))
    ).first()
    if partner is None:
        raise HTTPException(404, "There is no such customer, or you may not see it.")
    return partner


def header(session: Session, partner: Partner) -> Header:
    company = None
    if partner.company_id is not None:
        company = session.scalars(select(Partner).where(Partner.id == partner.company_id)).first()
    people: list[Partner] = []
    if partner.kind == PartnerKind.COMPANY:
        people = list(
            session.scalars(
                select(Partner)
                .where(Partner.company_id == partner.id)
                .order_by(Partner.name, Partner.id)
                .limit(PEOPLE_SHOWN + 1)
            )
        )
    owner = team = ""
    if partner.owner_id is not None:
        owner = session.scalar(select(User.name).where(User.id == partner.owner_id)) or ""
    if partner.team_id is not None:
        team = session.scalar(select(Team.name).where(Team.id == partner.team_id)) or ""
    return Header(company, people[:PEOPLE_SHOWN], len(people) > PEOPLE_SHOWN, owner, team)


def website_url(website: str) -> str:
    """A link for the website column, which people type with or without a scheme; anything
    that is not http(s) is shown as text, never linked (no ``javascript:`` links)."""
    text = website.strip()
    if not text:
        return ""
    if "://" not in text:
        text = f"https://{text}"
    return text if text.lower().startswith(("http://", "https://")) else ""


def routes(site: Site) -> list[BaseRoute]:
    panels = panels_for(site.runtime.pm, "core_partner")

    def values(
        request: Request,
        partner: Partner,
        form: ActivityForm | None = None,
        *,
        logged: str = "",
    ) -> dict[str, Any]:
        session: Session = request.state.session
        principal: Principal = request.state.principal
        before = None
        raw = request.query_params.get("before")
        if raw and request.method == "GET":
            try:
                before = decode_cursor(raw)
            except CursorError as error:
                raise HTTPException(400, str(error)) from None
        writable = may_write(session, principal, partner)
        return {
            "partner": partner,
            "header": header(session, partner),
            "website": website_url(partner.website),
            "may_write": writable,
            "edit_path": f"/views/partners/{partner.id}/edit",
            "slots": render_slots(panels, render_context(request, partner)),
            "page": load_page(session, partner.id, before=before, principal=principal),
            "older": before is not None,
            "form": form or ActivityForm(),
            "kinds": kinds_to_log(),
            "logged": logged,
            "today": dt.datetime.now(dt.UTC).date().isoformat(),
        }

    def partner_page(request: Request) -> Response:
        partner = find_partner(request.state.session, request.path_params["partner_id"])
        return site.page(request, TEMPLATE, values(request, partner))

    def timeline_page(request: Request) -> Response:
        """Older entries for the timeline's "revealed" sentinel: the partner is looked up
        through the session first, so an unreadable partner's timeline is a 404 too."""
        session: Session = request.state.session
        partner = find_partner(session, request.path_params["partner_id"])
        raw = request.query_params.get("before", "")
        try:
            before = decode_cursor(raw) if raw else None
        except CursorError as error:
            raise HTTPException(400, str(error)) from None
        page = load_page(session, partner.id, before=before, principal=request.state.principal)
        return site.page(
            request,
            TEMPLATE,
            {"partner": partner, "page": page},
            fragment=TIMELINE_BLOCK,
        )

    async def log(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(write_activity, request, form)

    def write_activity(request: Request, data: FormData) -> Response:
        session: Session = request.state.session
        principal: Principal = request.state.principal
        partner = find_partner(session, request.path_params["partner_id"])
        form = ActivityForm.read(data)
        status = 200
        if not form.errors:
            due = form.due_date
            try:
                log_activity(
                    session,
                    partner.id,
                    ActivityKind(form.kind),
                    form.subject,
                    body=form.body,
                    user_id=principal.user_id,
                    due_at=dt.datetime.combine(due, dt.time(), tzinfo=dt.UTC) if due else None,
                )
            except AccessDeniedError:
                session.rollback()
                form.errors["form"] = (
                    "Your roles do not let you add to this customer's timeline; nothing was saved."
                )
                status = 403
        else:
            status = 422
        if status == 200:
            done = f"{dict(kinds_to_log())[form.kind]} logged: {form.subject}"
            if not wants_fragment(request):
                flash(request, done)
                return RedirectResponse(f"/partners/{partner.id}#timeline", status_code=303)
            return site.page(
                request,
                TEMPLATE,
                values(request, partner, logged=done),
                fragment=ACTIVITY_BLOCK,
            )
        # An error status rolls the request's unit of work back; the template tells htmx
        # to swap these answers too, so the messages show next to the fields.
        session.rollback()
        partner = find_partner(session, partner.id)
        return site.page(
            request,
            TEMPLATE,
            values(request, partner, form),
            status_code=status,
            fragment=ACTIVITY_BLOCK,
        )

    def mark_done(request: Request) -> Response:
        """Mark an open task of the customer done: through the user's session, so only who
        may change the activity (the access table's rows) may; a done task leaves the
        dashboard's "My tasks" and stays on the timeline as done."""
        session: Session = request.state.session
        partner = find_partner(session, request.path_params["partner_id"])
        task = session.scalars(
            select(Activity).where(
                Activity.id == request.path_params["activity_id"],
                Activity.partner_id == partner.id,
            )
        ).first()
        if task is None:
            raise HTTPException(404, "There is no such entry on this customer's timeline.")
        try:
            complete_task(session, task)
        except TaskError:
            raise HTTPException(400, "Only a task with a due date can be marked done.") from None
        except AccessDeniedError:
            session.rollback()
            raise HTTPException(
                403, "Your roles do not let you change this customer's tasks; nothing was saved."
            ) from None
        if not wants_fragment(request):
            flash(request, f"Done: {task.subject}")
            return RedirectResponse(f"/partners/{partner.id}#activity-{task.id}", status_code=303)
        names: dict[int, str] = {}
        if task.user_id is not None:
            author = session.scalar(select(User.name).where(User.id == task.user_id))
            names = {task.user_id: author} if author else {}
        values = {"partner": partner, "entry": entry(task, names, dt.datetime.now(dt.UTC))}
        return site.page(request, TASK_TEMPLATE, values, fragment="entry")

    return [
        Route("/partners/{partner_id:int}", partner_page, name="partner"),
        Route("/partners/{partner_id:int}/timeline", timeline_page, name="partner_timeline"),
        Route(
            "/partners/{partner_id:int}/activities",
            log,
            methods=["POST"],
            name="partner_log_activity",
        ),
        Route(
            "/partners/{partner_id:int}/activities/{activity_id:int}/done",
            mark_done,
            methods=["POST"],
            name="partner_task_done",
        ),
    ]
