"""The parts of the web app that every page uses: the runtime, the templates, the navigation
and the dashboard widgets the plugins contribute, and the flash messages of a session."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route, compile_path

from accord.core.access import Principal
from accord.core.contributions import DashboardWidget, MenuItem
from accord.core.errors import PluginError
from accord.core.manager import AccordPluginManager
from accord.core.numbers import Numbers
from accord.core.runtime import Runtime
from accord.ui.templating import FRAGMENT_BLOCK, Pages, wants_fragment

log = logging.getLogger("accord.ui")

APP_NAME = "Accord"
FlashKind = Literal["success", "info", "error"]
FLASH_KEY = "flashes"


@dataclass(frozen=True)
class Site:
    """What the pages are built from; assembled once by ``create_app``."""

    runtime: Runtime
    pages: Pages
    menu: tuple[MenuItem, ...] = ()
    widgets: tuple[DashboardWidget, ...] = ()
    secure_cookies: bool = False
    public_paths: tuple[re.Pattern[str], ...] = ()
    """The paths of the plugins' public routes (``accord_public_routes``)."""

    @classmethod
    def from_runtime(cls, runtime: Runtime, *, secure_cookies: bool = False) -> Site:
        pm = runtime.pm
        menu = sorted(
            pm.collect("accord_menu_items"), key=lambda item: (item.section, item.order, item.label)
        )
        widgets = sorted(
            pm.collect("accord_dashboard_widgets"), key=lambda widget: (widget.order, widget.title)
        )
        return cls(
            runtime=runtime,
            pages=Pages(template_folders(pm), runtime.settings.company.numbers),
            menu=tuple(menu),
            widgets=tuple(widgets),
            secure_cookies=secure_cookies,
            public_paths=public_paths(pm),
        )

    @property
    def numbers(self) -> Numbers:
        """How the company types and reads numbers (``[company] locale``)."""
        return self.runtime.settings.company.numbers

    def is_public(self, path: str) -> bool:
        """Whether ``path`` is one of a plugin's public routes: no sign-in, no CSRF check."""
        return any(pattern.match(path) for pattern in self.public_paths)

    def menu_for(self, principal: Principal | None) -> list[MenuItem]:
        if principal is None:
            return []
        return [
            item
            for item in self.menu
            if (item.permission is None or principal.can(item.permission))
            and (item.model is None or may_read(principal, item.model))
        ]

    def widgets_for(self, principal: Principal) -> list[DashboardWidget]:
        return [
            widget
            for widget in self.widgets
            if widget.permission is None or principal.can(widget.permission)
        ]

    def context(self, request: Request, values: Mapping[str, Any]) -> dict[str, Any]:
        """The template context of a page: the layout's needs, then the page's own values."""
        principal = current_principal(request)
        return {
            "request": request,
            "app_name": APP_NAME,
            "principal": principal,
            "menu": self.menu_for(principal),
            "current_path": request.url.path,
            "csrftoken": csrf_token(request),
            "flashes": [],
            **values,
        }

    def page(
        self,
        request: Request,
        name: str,
        values: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        fragment: str = FRAGMENT_BLOCK,
    ) -> HTMLResponse:
        """Render page ``name`` with the layout, or for htmx only its block ``fragment``
        (the ``content`` block unless a view swaps a smaller part, such as a list's rows).
        Flash messages are taken from the session only when the whole page is shown."""
        context = self.context(request, values or {})
        if not wants_fragment(request) and "session" in request.scope:
            context["flashes"] = take_flashes(request)
        return self.pages.response(request, name, context, status_code, headers, fragment)


def public_paths(pm: AccordPluginManager) -> tuple[re.Pattern[str], ...]:
    """The full paths (``/<plugin><route path>``) of the plugins' public routes."""
    patterns = []
    for owner, route in pm.collect_with_owner("accord_public_routes"):
        if not isinstance(route, Route):
            raise PluginError(
                f"plugin {owner!r}: accord_public_routes must return Starlette Route objects "
                f"(a path each), got {route!r}"
            )
        patterns.append(compile_path(f"/{owner}{route.path}")[0])
    return tuple(patterns)


def template_folders(pm: AccordPluginManager) -> list[Path]:
    """The plugins' template folders in load order; ``Pages`` searches them last-loaded
    first, so a plugin overrides the templates of the kernel and of its dependencies."""
    return list(pm.collect("accord_template_folders"))


def may_read(principal: Principal, table: str) -> bool:
    """Whether any access row lets ``principal`` read rows of ``table``."""
    if principal.is_system:
        return True
    policy = principal.policy
    return policy is not None and policy.decide(principal.roles, table, "read").allowed


SITE_KEY = "accord.site"
"""Where the app's Site is kept in each request's ASGI scope."""


def page(
    request: Request,
    name: str,
    values: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Page ``name`` in the app's layout, for any view, a plugin's included: a template
    that extends ``base.html`` and fills its ``content`` block; an htmx request gets that
    block only. The template sees ``values`` and the layout's names (``request``,
    ``principal``, ``csrftoken`` for forms, ``url_for``)."""
    site = request.scope.get(SITE_KEY)
    if not isinstance(site, Site):
        raise RuntimeError("page() needs a request of the app made by accord.ui.create_app")
    return site.page(request, name, values, status_code)


def current_principal(request: Request) -> Principal | None:
    """The signed-in user's principal, set by the sign-in middleware; None on public pages."""
    principal = request.scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else None


def csrf_token(request: Request) -> str:
    """The request's CSRF token (set by the CSRF middleware), for forms that post; empty
    where the middleware did not run."""
    token = request.scope.get("csrftoken")
    return str(token()) if callable(token) else ""


def flash(request: Request, text: str, kind: FlashKind = "success") -> None:
    """A message shown once, on the next page the user sees (kept in the session)."""
    messages = list(request.session.get(FLASH_KEY, []))
    messages.append({"kind": kind, "text": text})
    request.session[FLASH_KEY] = messages[-5:]


def take_flashes(request: Request) -> list[dict[str, str]]:
    messages = request.session.pop(FLASH_KEY, [])
    return [message for message in messages if isinstance(message, dict)]
