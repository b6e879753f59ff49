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
from importlib.metadata import version
from typing import Any

import asgi_csrf as asgi_csrf_module  # type: ignore[import-untyped]
from packaging.version import Version
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
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

    checked: ASGIApp = asgi_csrf_module.asgi_csrf(
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
    return checked


async def read_multipart_token(boundary: bytes, receive: Receive) -> tuple[str | None, Receive]:
    """asgi-csrf's reading of the token out of a multipart body (an upload form's hidden
    ``csrftoken`` field), on the parser API python-multipart has had since 0.0.26.

    asgi-csrf 0.11 hands python-multipart's FormParser a ``FileClass`` argument that 0.0.26
    removed, so every multipart POST failed with a 500 (asgi-csrf issue #38; the fix
    proposed upstream, pull request #39, is not released). Going back to python-multipart
    0.0.25 would bring back the denial-of-service holes 0.0.26 and 0.0.27 closed
    (CVE-2026-40347, CVE-2026-42561). This function keeps asgi-csrf's contract: it reads
    the body up to the end of the ``csrftoken`` field, refuses a file that comes before it
    (asgi-csrf's FileBeforeToken: the whole upload would have to be held in memory), and
    returns the token (None when there is none) with a ``receive`` that replays what it
    read, so the app gets the whole body."""
    read: list[Message] = []
    headers: dict[bytes, bytes] = {}
    header_name, header_value, token = bytearray(), bytearray(), bytearray()
    in_token = False

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal in_token
        _, options = parse_options_header(headers.get(b"content-disposition"))
        if b"filename" in options:
            raise asgi_csrf_module.FileBeforeToken
        in_token = options.get(b"name") == b"csrftoken"

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if in_token:
            token.extend(data[start:end])

    def on_part_end() -> None:
        if in_token:
            raise asgi_csrf_module.TokenFound(token.decode("utf-8", "replace"))

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )

    async def replay() -> Message:
        return read.pop(0) if read else await receive()

    more_body = True
    try:
        while more_body:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":  # the client went away
                break
            parser.write(message.get("body", b""))
            more_body = message.get("more_body", False)
    except asgi_csrf_module.TokenFound as found:
        return str(found.args[0]), replay
    except MultipartParseError:
        pass  # a body that is not multipart holds no token: refused as one without
    return None, replay


# Only the release known to need it: a later one is trusted, and the tests of
# tests/ui/test_csrf.py tell whether it reads an upload's token.
if Version(version("asgi-csrf")) <= Version("0.11"):
    asgi_csrf_module._parse_multipart_form_data = read_multipart_token
