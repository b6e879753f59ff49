"""The send button of a campaign's page: queues the mass e-mail in the request's session
(so the segment holds only the people the user may read) and says how many went out, or
what is missing, changing nothing then."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.api import principal_of

from .mailing import MailingError, start_mailing
from .models import Campaign
from .security import SEND


def send(session: Session, campaign_id: int) -> str:
    principal = principal_of(session)
    if principal is None or not principal.can(SEND):
        raise HTTPException(403, "Sending a campaign needs the permission campaigns.send.")
    campaign = session.scalar(select(Campaign).where(Campaign.id == campaign_id))
    if campaign is None:
        raise HTTPException(404, "There is no such campaign.")
    try:
        with session.begin_nested():
            queued = start_mailing(session, campaign)
    except MailingError as error:
        return str(error)
    return f"{queued} mails queued" if queued else "Everyone of the segment has it already"


async def send_campaign(request: Request) -> Response:
    session: Session = request.state.session
    try:
        campaign_id = int(request.path_params["id"])
    except ValueError:
        raise HTTPException(404, "There is no such campaign.") from None
    result = await run_in_threadpool(send, session, campaign_id)
    return RedirectResponse(
        f"/views/campaigns/{campaign_id}?send_result={quote(result)}", status_code=303
    )


def routes() -> list[BaseRoute]:
    return [Route("/{id}/send", send_campaign, methods=["POST"], name="send")]
