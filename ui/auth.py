"""Signing in and out, and changing one's password.

A wrong login and a wrong password get the same message, so the form does not tell who has
an account. Attempts are limited per login and per client address with the ``limits``
library's moving window: a burst is refused however it is spread over the minute. The
counters live in the process's memory: with several app processes each counts on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.core.access import Principal, principal_of
from accord.core.db import act_as, utcnow
from accord.core.runtime import Runtime
from accord.core.security import User, hash_password, verify_password
from accord.ui.signed_in import SESSION_USER, session_version, sign_in, sign_out
from accord.ui.site import Site, flash

WRONG_CREDENTIALS = "Wrong login or password."
TOO_MANY_ATTEMPTS = "Too many attempts; try again in a minute."
MIN_PASSWORD_LENGTH = 8
"""As accord.core.security.hash_password requires."""


@dataclass
class Throttle:
    """Counts attempts per login and per client address; refuses once either is spent."""

    per_login: RateLimitItem = field(default_factory=lambda: parse("5/minute"))
    # An office behind one address may hold many users signing in at nine.
    per_address: RateLimitItem = field(default_factory=lambda: parse("20/minute"))
    limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )

    def attempt(self, login: str, address: str, purpose: str = "login") -> bool:
        """Count one attempt; False once the login or the address has spent its share.
        ``purpose`` keeps counters apart (guessing a current password is not a login)."""
        login_ok = self.limiter.hit(self.per_login, purpose, "login", login.casefold())
        address_ok = self.limiter.hit(self.per_address, purpose, "address", address)
        return login_ok and address_ok


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(value: Any) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


@cache
def _decoy_hash() -> str:
    return hash_password("decoy password, never anyone's")


def check_credentials(runtime: Runtime, login: str, password: str) -> tuple[int, str] | None:
    """The user id and session version when the login and password are right; records the
    time of the sign-in. An unknown login costs the same hashing as a known one."""
    with runtime.db.session(Principal.system("sign-in")) as session:
        user = session.scalar(select(User).where(User.login == login))
        if user is None or not user.active:
            verify_password(User(password_hash=_decoy_hash()), password)
            return None
        if not verify_password(user, password):
            return None
        user.last_login_at = utcnow()
        secret = runtime.settings.secret_key.get_secret_value()
        return user.id, session_version(secret, user.password_hash)


def change_password(
    runtime: Runtime, session: Session, user_id: int, current: str, new: str
) -> str | None:
    """Set the user's new password if ``current`` is right, in the request's unit of work
    ``session`` (on SQLite a writing request holds the write lock: another unit of work
    would wait for it); returns the new session version, or None when ``current`` is
    wrong. The user may not write user rows (only administrators may), so this acts as the
    system, for this change only, after checking the current password."""
    acting = principal_of(session)
    act_as(session, Principal.system(f"password-change:{user_id}"))
    user = None
    try:
        user = session.get(User, user_id, populate_existing=True)
        if user is None or not verify_password(user, current):
            return None
        user.password_hash = hash_password(new)
        session.flush()  # checked and audited as the system's change
        password_hash = user.password_hash
    finally:
        if user is not None:
            session.expunge(user)  # read as the system: no row of the user's own reads
        if acting is not None:
            act_as(session, acting)
    return session_version(runtime.settings.secret_key.get_secret_value(), password_hash)


def routes(site: Site, throttle: Throttle | None = None) -> list[BaseRoute]:
    runtime = site.runtime
    web = runtime.settings.web
    throttle = throttle or Throttle(
        per_login=parse(f"{web.login_attempts_per_login}/minute"),
        per_address=parse(f"{web.login_attempts_per_address}/minute"),
    )

    def login_page(
        request: Request, next_path: str, error: str = "", login: str = "", status: int = 200
    ) -> Response:
        values = {"error": error, "login": login, "next": next_path}
        return site.page(request, "auth/login.html", values, status_code=status)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            next_path = safe_next(request.query_params.get("next"))
            if SESSION_USER in request.session:  # signed in already (or the page will say not)
                return RedirectResponse(next_path, status_code=303)
            return login_page(request, next_path)
        form = await request.form()
        name = str(form.get("login", "")).strip()
        password = str(form.get("password", ""))
        next_path = safe_next(form.get("next"))
        if not throttle.attempt(name, client_address(request)):
            return login_page(request, next_path, TOO_MANY_ATTEMPTS, name, status=429)
        signed = await run_in_threadpool(check_credentials, runtime, name, password)
        if signed is None:
            return login_page(request, next_path, WRONG_CREDENTIALS, name, status=400)
        sign_in(request, *signed)
        return RedirectResponse(next_path, status_code=303)

    async def logout(request: Request) -> Response:
        sign_out(request)
        flash(request, "You have logged out.", "info")
        return RedirectResponse("/login", status_code=303)

    async def password(request: Request) -> Response:
        if request.method == "GET":
            return site.page(request, "auth/password.html", {"errors": {}})
        form = await request.form()
        current = str(form.get("current", ""))
        new = str(form.get("new", ""))
        confirm = str(form.get("confirm", ""))
        errors = password_form_errors(current, new, confirm)
        principal = request.state.principal
        if not errors and not throttle.attempt(
            str(principal.user_id), client_address(request), purpose="password-change"
        ):
            errors["current"] = TOO_MANY_ATTEMPTS
        if not errors:
            version = await run_in_threadpool(
                change_password, runtime, request.state.session, principal.user_id, current, new
            )
            if version is None:
                errors["current"] = "This is not your current password."
            else:
                sign_in(request, principal.user_id, version)
                flash(request, "Your password has been changed.")
                return RedirectResponse("/", status_code=303)
        return site.page(request, "auth/password.html", {"errors": errors}, status_code=400)

    return [
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/account/password", password, methods=["GET", "POST"], name="password"),
    ]


def password_form_errors(current: str, new: str, confirm: str) -> dict[str, str]:
    """What is wrong with the form, by field, before the current password is checked."""
    errors: dict[str, str] = {}
    if not current:
        errors["current"] = "Enter your current password."
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
    elif new == current:
        errors["new"] = "Choose a password different from the current one."
    if confirm != new:
        errors["confirm"] = "This does not match the new password."
    return errors
