"""The opening of a mass e-mail: each mail carries a 1x1 image of Accord's whose address
names the mail (its ``email_sent`` touch) in a token signed as the tracked links are.
Loading it records the recipient's ``email_opened`` once per mail (``touches.respond``);
the clicks of the mail's links go through the tracked links (``links``). The figures of
opens and clicks a campaign's page shows are counted here."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature
from sqlalchemy import distinct, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from accord.api import Principal, Runtime

from .links import serializer
from .models import Touch
from .settings import CampaignsSettings
from .touches import respond

log = logging.getLogger("accord.campaigns")

OPEN_SALT = "accord.campaigns.open"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A transparent GIF of one pixel."""
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
}


def open_token(runtime: Runtime, sent: Touch) -> str:
    """The token of the open image of the mail whose ``email_sent`` touch is ``sent``."""
    return str(serializer(runtime, OPEN_SALT).dumps({"sent": sent.id}))


def open_url(settings: CampaignsSettings, token: str) -> str:
    return f"{settings.public_url}/campaigns/o/{token}.gif"


def read_open_token(runtime: Runtime, token: str) -> int | None:
    try:
        payload: Any = serializer(runtime, OPEN_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("sent"), int):
        return None
    return int(payload["sent"])


def record_open(runtime: Runtime, token: str) -> None:
    """Record the open of the mail ``token`` names; a token that is tampered with or names
    no mail records nothing. A failure only logs: the image is served whatever happens."""
    sent_touch_id = read_open_token(runtime, token)
    if sent_touch_id is None:
        return
    try:
        with runtime.db.session(Principal.system("campaigns.open"), writes=True) as session:
            respond(session, sent_touch_id, "email_opened")
    except SQLAlchemyError:
        log.exception("the open of mail touch %s could not be recorded", sent_touch_id)


async def open_image(request: Request) -> Response:
    """``GET /campaigns/o/<token>.gif``: the same image and headers whatever the token, so
    the answer tells nobody whether a token exists; never cached, so each reading reaches
    Accord (and only the first counts)."""
    runtime: Runtime = request.state.runtime
    await run_in_threadpool(record_open, runtime, str(request.path_params["token"]))
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)


@dataclass(frozen=True)
class MailFigures:
    """What a campaign's mass e-mail did: mails sent, mails opened, mails with a click (and
    the clicks, one per mail and link), read with the reader's access."""

    sent: int
    opened: int
    clicked: int
    clicks: int

    def rate(self, count: int) -> float | None:
        return count / self.sent if self.sent else None


def mail_figures(session: Session, campaign_id: int) -> MailFigures:
    """A mail with a click counts as opened whether or not its image was loaded: it was
    read, with images off (as mail programs count it). Its touches stay what happened."""
    mail = Touch.sent_touch_id
    of_campaign = Touch.campaign_id == campaign_id
    counted = {
        "sent": func.count(Touch.id).filter(Touch.kind == "email_sent"),
        "opened": func.count(distinct(mail)).filter(
            Touch.kind.in_(("email_opened", "email_clicked"))
        ),
        "clicked": func.count(distinct(mail)).filter(Touch.kind == "email_clicked"),
        "clicks": func.count(Touch.id).filter(Touch.kind == "email_clicked"),
    }
    row = session.execute(
        select(*(value.label(name) for name, value in counted.items())).where(
            of_campaign, Touch.kind.in_(("email_sent", "email_opened", "email_clicked"))
        )
    ).one()
    return MailFigures(sent=row.sent, opened=row.opened, clicked=row.clicked, clicks=row.clicks)
