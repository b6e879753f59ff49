"""A campaign's mass e-mail: one job per recipient through the outbox (DESIGN rule 5),
idempotent per campaign and address, each mail with a signed unsubscribe link. An address
that unsubscribed is never written to again, by this campaign or any later one.

Each mail is tracked: it carries an open image of its own (``responses``), and its links
(the campaign's tracked links, and the web addresses written in its text, registered as
tracked links of the campaign when it is sent) lead through personal tracked links, so a
click is that recipient's ``email_clicked``. The unsubscribe link is never tracked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from accord.api import (
    AccordError,
    JobType,
    MailTemplate,
    Principal,
    Runtime,
    enqueue,
    runtime_of,
    send_mail,
)

from .links import link_token, link_url, serializer
from .models import Campaign, OptOut, Segment, TrackedLink
from .responses import open_token, open_url
from .segments import recipients
from .settings import settings_of
from .touches import record_touch

SEND_JOB = "campaigns.send_mail"
UNSUBSCRIBE_SALT = "accord.campaigns.unsubscribe"

MAILING_TEMPLATE = MailTemplate(
    "campaigns.mailing",
    subject="{{ subject }}",
    text=(
        "Dear {{ greeting }},\n\n{{ body }}\n"
        "{% for link in links %}\n{{ link.name }}: {{ link.url }}\n{% endfor %}\n"
        "--\nYou receive this because you are in touch with us. To receive no more of "
        "these messages: {{ unsubscribe_url }}\n"
    ),
    html=(
        "<p>Dear {{ greeting }},</p><p>{{ body_html }}</p>"
        "{% for link in links %}<p><a href='{{ link.url }}'>{{ link.name }}</a></p>{% endfor %}"
        "<hr><p><small>You receive this because you are in touch with us. "
        "<a href='{{ unsubscribe_url }}'>Unsubscribe</a></small></p>"
        "<img src='{{ open_url }}' width='1' height='1' alt='' style='border:0'>"
    ),
)
WEB_ADDRESS = re.compile(r"https?://[^\s<>\"']+")
TRAILING = ".,;:!?)]}'\""
"""Punctuation that ends a sentence rather than the address it follows."""


class MailingError(AccordError):
    pass


def is_unsubscribed(session: Session, email: str) -> bool:
    """Whether ``email`` asked to receive no campaign mail."""
    address = email.strip().lower()
    return session.scalar(select(OptOut.id).where(OptOut.email == address)) is not None


def unsubscribe_token(runtime: Runtime, email: str, campaign_id: int | None) -> str:
    return str(
        serializer(runtime, UNSUBSCRIBE_SALT).dumps(
            {"email": email.lower(), "campaign": campaign_id}
        )
    )


def unsubscribe(session: Session, email: str, campaign_id: int | None = None) -> bool:
    """Record that ``email`` wants no more campaign mail; returns whether it is new."""
    address = email.strip().lower()
    if is_unsubscribed(session, address):
        return False
    session.add(OptOut(email=address, campaign_id=campaign_id))
    session.flush()
    return True


def start_mailing(session: Session, campaign: Campaign) -> int:
    """Queue the campaign's mail to every person of its segment who did not unsubscribe:
    one job per address, in the caller's transaction; an address this campaign already
    queued is not queued again. Returns how many jobs were added."""
    if campaign.segment_id is None:
        raise MailingError(f"campaign {campaign.name!r}: choose a segment before sending")
    if not campaign.mail_subject.strip():
        raise MailingError(f"campaign {campaign.name!r}: the mail has no subject")
    segment = session.get(Segment, campaign.segment_id)
    if segment is None:
        raise MailingError(f"campaign {campaign.name!r}: its segment no longer exists")
    runtime_of(session).mail.render(campaign.mail_template, preview_context(campaign))
    register_body_links(session, campaign)
    added = 0
    for person in recipients(session, segment):
        if is_unsubscribed(session, person.email):
            continue
        added += enqueue(
            session,
            SEND_JOB,
            {
                "campaign_id": campaign.id,
                "email": person.email,
                "greeting": person.greeting,
                "lead_id": person.lead_id,
                "partner_id": person.partner_id,
            },
            key=f"campaigns.send:{campaign.id}:{person.email}",
        )
    return added


def preview_context(campaign: Campaign) -> dict[str, Any]:
    return {
        "subject": campaign.mail_subject,
        "body": campaign.mail_body,
        "body_html": Markup("{}").format(campaign.mail_body),
        "greeting": "Ada Lovelace",
        "links": [],
        "unsubscribe_url": "https://example.com/unsubscribe",
        "open_url": "https://example.com/open.gif",
        "campaign": campaign.name,
    }


def web_addresses(text: str) -> list[tuple[int, int, str]]:
    """The http(s) addresses written in ``text``: start, end and address of each, without
    the punctuation of the sentence around it."""
    found = []
    for match in WEB_ADDRESS.finditer(text):
        address = match.group().rstrip(TRAILING)
        if urlsplit(address).netloc:
            found.append((match.start(), match.start() + len(address), address))
    return found


def register_body_links(session: Session, campaign: Campaign) -> list[TrackedLink]:
    """Make each web address written in the mail's text a tracked link of the campaign
    (unless one leads there already), so that its clicks are tracked; they are the only
    addresses besides the campaign's own links that a mail's link may lead to. Returns
    the links added."""
    links = session.scalars(select(TrackedLink).where(TrackedLink.campaign_id == campaign.id)).all()
    known = {link.destination for link in links}
    names = {link.name for link in links}
    added = []
    for _, _, address in web_addresses(campaign.mail_body):
        if address in known or len(address) > 500:
            continue
        parts = urlsplit(address)
        base = f"{parts.netloc}{parts.path}".rstrip("/")[:52] or "link"
        name, number = base, 1
        while name in names:
            number += 1
            name = f"{base} ({number})"
        link = TrackedLink(
            campaign_id=campaign.id,
            name=name,
            destination=address,
            utm_source=campaign.channel[:100],
            utm_medium="email",
        )
        session.add(link)
        known.add(address)
        names.add(name)
        added.append(link)
    session.flush()
    return added


def tracked_body(body: str, urls: dict[str, str]) -> tuple[str, Markup]:
    """The mail's text with each address that has a tracked link replaced by ``urls``'s
    personal one: as text, and as HTML where the address is a link."""
    text, html = [], []
    position = 0
    for start, end, address in web_addresses(body):
        url = urls.get(address)
        if url is None:
            continue
        text += [body[position:start], url]
        html += [escape(body[position:start]), Markup("<a href='{}'>{}</a>").format(url, address)]
        position = end
    text.append(body[position:])
    html.append(escape(body[position:]))
    return "".join(text), Markup("".join(html))


def send_one(session: Session, payload: dict[str, Any]) -> None:
    """The job of one recipient: checks the opt-out again at send time, so an address that
    unsubscribed after the campaign was queued gets nothing."""
    campaign = session.get(Campaign, int(payload["campaign_id"]))
    email = str(payload["email"])
    if campaign is None or is_unsubscribed(session, email):
        return
    runtime = runtime_of(session)
    settings = settings_of(session)
    lead_id, partner_id = payload.get("lead_id"), payload.get("partner_id")
    sent = record_touch(
        session,
        campaign,
        "email_sent",
        lead_id=lead_id,
        partner_id=partner_id,
        email=email,
        detail=campaign.mail_subject,
    )
    campaign_links = session.scalars(
        select(TrackedLink).where(TrackedLink.campaign_id == campaign.id).order_by(TrackedLink.id)
    ).all()
    personal = {
        link.id: link_url(
            settings,
            link_token(
                runtime, link, lead_id=lead_id, partner_id=partner_id, sent_touch_id=sent.id
            ),
        )
        for link in campaign_links
    }
    written = {address for _, _, address in web_addresses(campaign.mail_body)}
    in_body = {link.destination: personal[link.id] for link in campaign_links}
    body, body_html = tracked_body(campaign.mail_body, in_body)
    listed = [link for link in campaign_links if link.destination not in written]
    token = unsubscribe_token(runtime, email, campaign.id)
    send_mail(
        session,
        campaign.mail_template,
        email,
        {
            "subject": campaign.mail_subject,
            "body": body,
            "body_html": body_html,
            "greeting": payload.get("greeting") or email,
            "links": [{"name": link.name, "url": personal[link.id]} for link in listed],
            "unsubscribe_url": f"{settings.public_url}/campaigns/unsubscribe/{token}",
            "open_url": open_url(settings, open_token(runtime, sent)),
            "campaign": campaign.name,
        },
        key=f"campaigns:{campaign.id}:{email}",
    )


JOBS = [JobType(SEND_JOB, send_one)]


@dataclass(frozen=True)
class Unsubscription:
    email: str
    campaign_id: int | None


def read_unsubscribe_token(runtime: Runtime, token: str) -> Unsubscription | None:
    try:
        payload: Any = serializer(runtime, UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("email"), str):
        return None
    campaign = payload.get("campaign")
    return Unsubscription(payload["email"], campaign if isinstance(campaign, int) else None)


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title></head><body><main><h1>{escape(title)}</h1>{body}</main></body></html>",
        status_code=status_code,
    )


def _unsubscribe(runtime: Runtime, who: Unsubscription) -> None:
    with runtime.db.session(Principal.system("campaigns.unsubscribe")) as session:
        unsubscribe(session, who.email, who.campaign_id)


async def unsubscribe_page(request: Request) -> Response:
    """GET shows what will happen and a button (mail scanners follow links, so a GET
    changes nothing); POST unsubscribes."""
    runtime: Runtime = request.state.runtime
    who = read_unsubscribe_token(runtime, str(request.path_params["token"]))
    if who is None:
        return page(
            "This link is not valid",
            "<p>The unsubscribe link may be incomplete. Please use the link of the mail "
            "exactly as you received it.</p>",
            status_code=404,
        )
    if request.method == "POST":
        await run_in_threadpool(_unsubscribe, runtime, who)
        return page(
            "You are unsubscribed",
            f"<p>We will send no more campaign mail to <strong>{escape(who.email)}</strong>.</p>",
        )
    return page(
        "Unsubscribe",
        f"<p>Send no more campaign mail to <strong>{escape(who.email)}</strong>?</p>"
        "<form method='post'><button type='submit'>Unsubscribe</button></form>",
    )
