"""Friendly error pages: what went wrong in words a user understands, never a traceback.
The details of a server error go to the ``accord.ui`` log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from accord.core.access import AccessDeniedError
from accord.ui.site import Site

log = logging.getLogger("accord.ui")

MESSAGES = {
    400: ("This request could not be understood", "Check what you sent and try again."),
    403: (
        "You may not see this page",
        "Your roles do not allow it. If you need it for your work, ask your administrator.",
    ),
    404: (
        "Page not found",
        "There is nothing at this address. It may have moved, or the link may be mistyped.",
    ),
    405: ("This action is not possible here", "Use the buttons and forms of the page."),
    500: (
        "Something went wrong on our side",
        "The error has been logged. Try again in a moment; if it keeps happening, tell your "
        "administrator what you were doing.",
    ),
}


def error_page(site: Site, request: Request, status: int) -> Response:
    title, message = MESSAGES.get(status, ("Something went wrong", "Try again in a moment."))
    values = {"status": status, "title": title, "message": message}
    try:
        return site.pages.response(
            request, "error.html", site.context(request, values), status_code=status
        )
    except Exception:  # the layout itself is broken: still no traceback for the user
        log.exception("cannot render the error page for status %s", status)
        return PlainTextResponse(f"{status} {title}. {message}", status_code=status)


def handlers(site: Site) -> Mapping[Any, Any]:
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return error_page(site, request, error.status_code)

    async def access_denied(request: Request, error: Exception) -> Response:
        log.info("access denied on %s: %s", request.url.path, error)
        return error_page(site, request, 403)

    async def server_error(request: Request, error: Exception) -> Response:
        log.error("error on %s %s", request.method, request.url.path, exc_info=error)
        return error_page(site, request, 500)

    return {
        HTTPException: http_error,
        AccessDeniedError: access_denied,
        500: server_error,
    }
