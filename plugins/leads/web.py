"""Web-to-lead: the company's sites post their contact forms (an HTML form or JSON) to
``/leads/web/<site key>``. The lead is checked, deduplicated and assigned like any other,
and the visitor gets an auto-reply naming the representative who will call.

The route is public: it defends itself with the site key (``[leads.web_forms.<key>]``), a
honeypot field that people never see and bots fill in, and a rate limit per site and
client address."""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass
from html import escape
from typing import Any

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from accord.api import MailTemplate, Principal, Runtime, Team, User, send_mail

from .models import Lead
from .service import LeadData, LeadInputError, create_lead, log_lead_activity
from .settings import LeadsSettings, WebSite

log = logging.getLogger("accord.plugins.leads")

HONEYPOT = "fax"
"""A field of the form that people never see (hidden by the site's CSS) and bots fill in:
a post that fills it is answered as a success and kept nowhere."""
MESSAGE = "message"
"""The visitor's free text; it becomes the lead's notes."""
POSTED_FIELDS = frozenset(LeadData.model_fields) - {"channel", "product_line", "notes"}
AUTO_REPLY = "leads.web_auto_reply"

AUTO_REPLY_TEMPLATE = MailTemplate(
    AUTO_REPLY,
    subject="Thank you for contacting {{ site }}",
    text=(
        "Dear {{ greeting }},\n\n"
        "thank you for your message to {{ site }}. "
        "{% if representative %}{{ representative.name }} will get in touch with you shortly; "
        "you can also reach {{ representative.name }} directly:\n\n"
        "  {{ representative.name }}{% if representative.team %}, {{ representative.team }}"
        "{% endif %}\n"
        "  {{ representative.email }}\n"
        "{% else %}our team will get in touch with you shortly.\n{% endif %}\n"
        "Kind regards,\n{{ site }}\n"
    ),
    html=(
        "<p>Dear {{ greeting }},</p>"
        "<p>thank you for your message to {{ site }}. "
        "{% if representative %}{{ representative.name }} will get in touch with you shortly; "
        "you can also reach {{ representative.name }} directly:</p>"
        "<p class='representative'><strong>{{ representative.name }}</strong>"
        "{% if representative.team %}, {{ representative.team }}{% endif %}<br>"
        "<a href='mailto:{{ representative.email }}'>{{ representative.email }}</a></p>"
        "{% else %}our team will get in touch with you shortly.</p>{% endif %}"
        "<p>Kind regards,<br>{{ site }}</p>"
    ),
)


@dataclass(frozen=True)
class Outcome:
    lead_id: int | None
    status: str  # created, matched, ignored


_limiters: weakref.WeakKeyDictionary[Runtime, MovingWindowRateLimiter] = weakref.WeakKeyDictionary()


def limiter_of(runtime: Runtime) -> MovingWindowRateLimiter:
    """One rate limiter per app's runtime (in memory: per process, like the sign-in limit)."""
    found = _limiters.get(runtime)
    if found is None:
        found = _limiters[runtime] = MovingWindowRateLimiter(MemoryStorage())
    return found


def wants_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


async def web_to_lead(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    settings = runtime.settings.section("leads")
    assert isinstance(settings, LeadsSettings)
    key = request.path_params["site"]
    as_json = wants_json(request)
    site = settings.web_forms.get(key)
    if site is None:
        return problem(as_json, 404, f"unknown site key {key!r}; ask for the site's key")
    client = request.client.host if request.client else "unknown"
    rate = parse(settings.web_rate_limit)
    if not limiter_of(runtime).hit(rate, "leads.web", key, client):
        return problem(
            as_json, 429, "too many posts from this address; try again in a minute", retry=True
        )
    try:
        values = await posted_values(request, as_json)
    except ValueError as error:
        return problem(as_json, 422, str(error))
    if str(values.pop(HONEYPOT, "") or "").strip():
        log.info("web-to-lead %s: honeypot filled by %s, ignored", key, client)
        return answered(as_json, site, Outcome(None, "ignored"))
    try:
        outcome = await run_in_threadpool(record_lead, runtime, key, site, values)
    except LeadInputError as error:
        return problem(as_json, 422, str(error), field=error.field)
    return answered(as_json, site, outcome)


async def posted_values(request: Request, as_json: bool) -> dict[str, Any]:
    if as_json:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ValueError("send a JSON object of the lead's fields")
        values: dict[str, Any] = body
    else:
        form = await request.form()
        values = {name: value for name, value in form.items() if isinstance(value, str)}
    unknown = sorted(set(values) - POSTED_FIELDS - {HONEYPOT, MESSAGE})
    if unknown:
        known = ", ".join(sorted(POSTED_FIELDS | {MESSAGE}))
        raise ValueError(f"unknown field {unknown[0]!r}; the form may send: {known}")
    for name, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f"{name}: send text, got {type(value).__name__}")
    return values


def record_lead(runtime: Runtime, key: str, site: WebSite, values: dict[str, Any]) -> Outcome:
    data = {name: value for name, value in values.items() if name in POSTED_FIELDS}
    data["channel"] = site.channel
    data["product_line"] = site.product_line
    data["notes"] = values.get(MESSAGE, "")
    with runtime.db.session(Principal.system(f"web-to-lead:{key}"), writes=True) as session:
        result = create_lead(session, data)
        lead = result.lead
        if site.auto_reply and lead.email:
            send_auto_reply(session, site, lead)
        return Outcome(lead.id, "created" if result.created else "matched")


def representative(session: Session, lead: Lead) -> dict[str, str] | None:
    if lead.owner_id is None:
        return None
    user = session.get(User, lead.owner_id)
    if user is None or not user.email:
        return None
    team = session.get(Team, user.team_id) if user.team_id is not None else None
    return {"name": user.name, "email": user.email, "team": team.name if team else ""}


def send_auto_reply(session: Session, site: WebSite, lead: Lead) -> None:
    contact = representative(session, lead)
    context = {
        "site": site.title,
        "greeting": lead.person or lead.company or "customer",
        "representative": contact,
    }
    reply_to = contact["email"] if contact else None
    send_mail(session, AUTO_REPLY, lead.email, context, reply_to=reply_to)
    who = f" naming {contact['name']}" if contact else ""
    log_lead_activity(session, lead, f"Auto-reply sent to {lead.email}{who}", kind="email")


def problem(
    as_json: bool, status: int, message: str, *, field: str = "", retry: bool = False
) -> Response:
    headers = {"Retry-After": "60"} if retry else None
    if as_json:
        body = {"error": message, **({"field": field} if field else {})}
        return JSONResponse(body, status_code=status, headers=headers)
    page = (
        "<!doctype html><title>Not sent</title><h1>Your message was not sent</h1>"
        f"<p>{escape(message)}</p>"
    )
    return HTMLResponse(page, status_code=status, headers=headers)


def answered(as_json: bool, site: WebSite, outcome: Outcome) -> Response:
    # The same answer whether the lead was new, matched or a bot's: the public must not
    # learn which addresses the company knows.
    if as_json:
        return JSONResponse({"status": "received"}, status_code=202)
    if site.redirect:
        return RedirectResponse(site.redirect, status_code=303)
    return HTMLResponse(
        f"<!doctype html><title>Thank you</title><h1>Thank you</h1>"
        f"<p>{escape(site.title)} has your message and will get in touch with you shortly.</p>"
    )
