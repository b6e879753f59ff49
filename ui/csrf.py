"""Cross-site request forgery protection for every state-changing request, htmx's included.

Why asgi-csrf: it is small, ASGI-level (so it guards the plugins' routes too, without any
view opting in), kept by datasette's author and used by datasette in production, and its
double-submit cookie needs no server-side store, which suits sessions kept in a signed
cookie. A form sends the token in the field ``csrftoken``; htmx sends it in the header
``x-csrftoken``, which the layout sets on ``<body hx-headers=...>``. Starlette has no CSRF
protection of its own, and hand-rolled token checks are easy to get subtly wrong.
"""

from __future__ import annotations

import logging
from typing import Any

from asgi_csrf import asgi_csrf  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.ui.site import Site

log = logging.getLogger("accord.ui")

# asgi-csrf lets a POST without any cookie through (nothing to forge without a session);
# these paths are checked anyway, so nobody can be signed in to an attacker's account.
ALWAYS_PROTECTED = ["/login", "/logout", "/account/password"]


def csrf_protection(app: ASGIApp, site: Site) -> ASGIApp:
    """``app`` wrapped so that a POST, PUT, PATCH or DELETE without the token gets a 403 page."""

    async def refuse(scope: Scope, send: Send, reason: Any) -> None:
        log.warning("CSRF check failed for %s %s: %s", scope["method"], scope["path"], reason)
        request = Request(scope)
        context = site.context(
            request,
            {
                "status": 403,
                "title": "This form has expired",
                "message": (
                    "For your safety the change was not made: the page it came from was "
                    "open for too long or came from another site. Go back, reload the page "
                    "and try again."
                ),
            },
        )
        response = site.pages.response(request, "error.html", context, status_code=403)

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)

    checked: ASGIApp = asgi_csrf(
        app,
        signing_secret=site.runtime.settings.secret_key.get_secret_value(),
        always_protect=ALWAYS_PROTECTED,
        # A plugin's public route is posted to by other sites and programs, which hold no
        # token; it defends itself (accord_public_routes).
        skip_if_scope=lambda scope: site.is_public(scope["path"]),
        cookie_secure=site.secure_cookies,
        cookie_samesite="Lax",
        send_csrf_failed=refuse,
    )

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        # asgi-csrf reads a multipart body's token with an API python-multipart no longer
        # has (and fails with a 500); a multipart form (an upload) must send the token in
        # the x-csrftoken header, as htmx does for every request of the layout.
        if (
            scope["type"] == "http"
            and scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
            and dict(scope["headers"]).get(b"content-type", b"").startswith(b"multipart/")
            and b"x-csrftoken" not in dict(scope["headers"])
            and not dict(scope["headers"]).get(b"authorization", b"").startswith(b"Bearer ")
        ):
            await refuse(scope, send, "multipart form without the x-csrftoken header")
            return
        await checked(scope, receive, send)

    return wrapped
