"""Tracked links: a signed token per link, and per person when the link is personal.
``GET /campaigns/t/<token>`` records the click with its UTM parameters and redirects to
the destination registered on the link, never to an address taken from the request. A
link in a mass e-mail also names the mail (its ``email_sent`` touch): its click is that
recipient's ``email_clicked``, not a ``link_click``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from accord.api import Event, Principal, Runtime, runtime_of

from .models import Campaign, LinkError, Touch, TrackedLink, check_destination
from .settings import CampaignsSettings
from .touches import link_utm, record_touch, respond

SALT = "accord.campaigns.link"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
__all__ = ["LinkError", "check_destination", "link_token", "link_url", "tracked_link"]


def serializer(runtime: Runtime, salt: str = SALT) -> URLSafeSerializer:
    return URLSafeSerializer(runtime.settings.secret_key.get_secret_value(), salt=salt)


def link_token(
    runtime: Runtime,
    link: TrackedLink,
    *,
    lead_id: int | None = None,
    partner_id: int | None = None,
    sent_touch_id: int | None = None,
) -> str:
    """The token of ``link``; with a lead or a partner, a personal one that records who
    clicked; with ``sent_touch_id``, the link of that mail, whose click is an e-mail
    click."""
    payload: dict[str, int] = {"link": link.id}
    if lead_id is not None:
        payload["lead"] = lead_id
    if partner_id is not None:
        payload["partner"] = partner_id
    if sent_touch_id is not None:
        payload["sent"] = sent_touch_id
    return str(serializer(runtime).dumps(payload))


def link_url(settings: CampaignsSettings, token: str) -> str:
    return f"{settings.public_url}/campaigns/t/{token}"


def with_utm(destination: str, utm: dict[str, str]) -> str:
    """The destination with the UTM parameters added (its own query kept, its own UTM
    values kept where it sets them), so the web analytics see the campaign too."""
    parts = urlsplit(destination)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in utm.items():
        if value and key not in query:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def not_found() -> Response:
    return HTMLResponse(
        "<!doctype html><title>Link not found</title><h1>This link is not valid</h1>"
        "<p>The link may be incomplete or no longer in use. Please check the address, or "
        "visit our home page.</p>",
        status_code=404,
    )


def follow(runtime: Runtime, token: str, query: dict[str, str]) -> str | None:
    """Record the click of ``token`` and return where it leads, or ``None`` for a token
    that is tampered with or names no link."""
    try:
        payload: Any = serializer(runtime).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("link"), int):
        return None
    with runtime.db.session(Principal.system("campaigns.link"), writes=True) as session:
        link = session.get(TrackedLink, payload["link"])
        campaign = session.get(Campaign, link.campaign_id) if link is not None else None
        if link is None or campaign is None:
            return None
        utm = {key: query[key][:100] for key in UTM_KEYS if query.get(key)}
        sent = payload.get("sent")
        if isinstance(sent, int) and session.get(Touch, sent) is not None:
            # Clicked in a mass e-mail: recorded once per mail and link, redirected always.
            respond(session, sent, "email_clicked", link=link, utm=utm)
            return with_utm(link.destination, link_utm(link, campaign, utm))
        lead_id = payload.get("lead") if isinstance(payload.get("lead"), int) else None
        partner_id = payload.get("partner") if isinstance(payload.get("partner"), int) else None
        touch = record_touch(
            session,
            campaign,
            "link_click",
            lead_id=lead_id,
            partner_id=partner_id,
            link=link,
            utm=utm,
            detail=link.name,
        )
        recorded = {key: getattr(touch, key) for key in UTM_KEYS}
        return with_utm(link.destination, recorded)


def on_order_placed(session: Session, event: Event) -> None:
    """A web-store order carries the token of the tracked link its buyer came through
    (``campaign_token`` of ``orders.order_placed``): the click is now known to be this
    customer's, so it becomes a touch on the customer, before the order's revenue."""
    token, partner_id = event.payload.get("campaign_token"), event.payload.get("partner_id")
    if not token or partner_id is None:
        return
    try:
        payload: Any = serializer(runtime_of(session)).loads(str(token))
    except BadSignature:
        return
    if not isinstance(payload, dict) or not isinstance(payload.get("link"), int):
        return
    link = session.get(TrackedLink, payload["link"])
    campaign = session.get(Campaign, link.campaign_id) if link is not None else None
    if link is None or campaign is None:
        return
    lead_id = payload.get("lead") if isinstance(payload.get("lead"), int) else None
    record_touch(
        session,
        campaign,
        "link_click",
        lead_id=lead_id,
        partner_id=int(partner_id),
        link=link,
        detail=f"order {event.payload.get('number', '')}".strip(),
    )


async def tracked_link(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    token = str(request.path_params["token"])
    query = {key: value for key, value in request.query_params.items() if key in UTM_KEYS}
    destination = await run_in_threadpool(follow, runtime, token, query)
    if destination is None:
        return not_found()
    return RedirectResponse(destination, status_code=302)
