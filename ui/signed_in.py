"""Who is asking, and the request's unit of work: every page but the public ones needs a
signed-in user, and the request runs in one database session acting as them, committed when
the response succeeds and rolled back otherwise.

Who the user is, is read in that session's transaction, by its first statement: the
security version, which the database raises with every change to users, role grants, roles
and teams. While it stays the same the runtime's principal of the user stands; once it
changed, the user, roles and teams are read again in the same transaction. So a deactivated
user, a changed password, a role revoked or a move to another team, by any process, is seen
by the very next request, and the rest of the request acts on what its own transaction sees.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.core.access import AccessDeniedError, Principal
from accord.core.db import act_as
from accord.core.runtime import SignedInUser
from accord.core.security import user_for_api_key
from accord.ui.site import SITE_KEY, Site, flash

# A request with another method is meant to change data (RFC 9110 section 9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger("accord.ui")

SESSION_USER = "user_id"
SESSION_VERSION = "version"
PUBLIC_PATHS = frozenset({"/login", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def session_version(secret: str, password_hash: str) -> str:
    """Changes when the password changes, so that every other session of the user ends."""
    digest = hmac.new(secret.encode(), password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def sign_in(request: Request, user_id: int, version: str) -> None:
    """Start a fresh session for the user (nothing of the anonymous one is kept)."""
    request.session.clear()
    request.session[SESSION_USER] = user_id
    request.session[SESSION_VERSION] = version


def sign_out(request: Request) -> None:
    request.session.clear()


def login_redirect(request: Request) -> Response:
    """To the login form, coming back here afterwards; htmx is told to load the login page
    as a whole (a redirect inside an htmx swap would put the form into a fragment)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/login" if here == "/" else f"/login?{urlencode({'next': here})}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class _FailedResponseError(Exception):
    """Thrown into the unit of work when the response is an error, to roll it back."""


class SignedInMiddleware:
    """Requires a signed-in user and opens the request's unit of work: ``request.state.principal``
    and ``request.state.session`` for every view, the plugins' included."""

    def __init__(self, app: ASGIApp, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[SITE_KEY] = self.site
        scope.setdefault("state", {})["runtime"] = self.site.runtime
        if is_public(scope["path"]) or self.site.is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            # A program with an API key: it acts as the key's user, carries no cookie (so
            # there is nothing to forge, and asgi-csrf lets it through), and is refused
            # with a 401 rather than sent to a login form it cannot fill in.
            principal = await run_in_threadpool(self.principal_of_key, authorization)
            if principal is None:
                await Response(
                    "Invalid, expired or revoked API key.\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="accord"'},
                    media_type="text/plain",
                )(scope, receive, send)
                return
            unit = self.unit_of_work(request, principal)
            session = await run_in_threadpool(unit.__enter__)
            await self.serve(unit, session, principal, request, scope, receive, send)
            return
        user_id = request.session.get(SESSION_USER)
        if not isinstance(user_id, int):
            await login_redirect(request)(scope, receive, send)
            return
        unit = self.unit_of_work(request, None)
        opened, problem = await run_in_threadpool(
            self.open_as_user, unit, user_id, request.session.get(SESSION_VERSION)
        )
        if opened is None:
            sign_out(request)
            flash(request, problem, "info")
            await login_redirect(request)(scope, receive, send)
            return
        session, principal = opened
        await self.serve(unit, session, principal, request, scope, receive, send)

    def unit_of_work(
        self, request: Request, principal: Principal | None
    ) -> AbstractContextManager[Session]:
        return self.site.runtime.db.session(
            principal,
            context=f"request:{secrets.token_hex(6)}",
            writes=request.method not in SAFE_METHODS,
        )

    def open_as_user(
        self, unit: AbstractContextManager[Session], user_id: int, version: Any
    ) -> tuple[tuple[Session, Principal] | None, str]:
        """Open the request's unit of work and find, in its transaction, who user
        ``user_id`` is: the session acting as them and their principal, or None (the unit
        of work ended) and why their browser's session is over."""
        session = unit.__enter__()
        try:
            found = self.site.runtime.signed_in(session, user_id)
            problem = self.session_problem(found, version)
            if found is not None and not problem:
                act_as(session, found.principal)
                return (session, found.principal), ""
        except BaseException as error:
            unit.__exit__(type(error), error, error.__traceback__)
            raise
        unit.__exit__(None, None, None)
        return None, problem

    def session_problem(self, found: SignedInUser | None, version: Any) -> str:
        """Why a browser's session of this user is over, or "" while it is not."""
        if found is None:
            return "Your account is no longer active."
        secret = self.site.runtime.settings.secret_key.get_secret_value()
        if not isinstance(version, str) or not hmac.compare_digest(
            version, session_version(secret, found.password_hash)
        ):
            return "Your password was changed; please log in again."
        return ""

    async def serve(
        self,
        unit: AbstractContextManager[Session],
        session: Session,
        principal: Principal,
        request: Request,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        request.state.principal = principal
        request.state.session = session
        await self.run(unit, scope, receive, send)

    async def run(
        self,
        unit: AbstractContextManager[Session],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Run the view; commit before the response starts (so a failed commit is a 500,
        not a success page for a change that was lost), roll back on an error status."""
        finished = False

        async def finish(error: BaseException | None) -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            if error is None:
                await run_in_threadpool(unit.__exit__, None, None, None)
            else:
                await run_in_threadpool(unit.__exit__, type(error), error, error.__traceback__)

        async def send_after_commit(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                await finish(None if status < 400 else _FailedResponseError(f"status {status}"))
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        except BaseException as error:
            await finish(error)
            raise
        await finish(_FailedResponseError("no response"))

    def principal_of_key(self, authorization: str) -> Principal | None:
        """The principal of the user an API key acts as, or None for a bad key."""
        runtime = self.site.runtime
        with runtime.db.session(Principal.system("api-key")) as session:
            user = user_for_api_key(session, authorization)
            user_id = user.id if user is not None else None
        if user_id is None:
            return None
        try:
            return runtime.principal_for(user_id)
        except AccessDeniedError:
            return None
