"""The kernel's own pages: the dashboard, made of the widgets the user may see."""

from __future__ import annotations

import logging

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accord.core.contributions import DashboardWidget, RenderContext
from accord.core.security import User
from accord.ui.site import Site

log = logging.getLogger("accord.ui")


def routes(site: Site) -> list[BaseRoute]:
    def dashboard(request: Request) -> Response:
        principal = request.state.principal
        session = request.state.session
        user = session.get(User, principal.user_id)
        context = RenderContext(session=session, user=user, params=dict(request.query_params))
        tiles = [(widget, render_widget(widget, context)) for widget in site.widgets_for(principal)]
        return site.page(request, "dashboard.html", {"tiles": tiles})

    return [Route("/", dashboard, name="home")]


def render_widget(widget: DashboardWidget, context: RenderContext) -> Markup | None:
    """The widget's HTML (already escaped by the widget), or None when it failed: one broken
    tile must not take the whole dashboard down."""
    try:
        # A savepoint: on PostgreSQL a failed statement would otherwise abort the whole
        # transaction, and every tile after it with it.
        with context.session.begin_nested():
            return Markup(widget.render(context))
    except Exception:
        log.exception("dashboard widget %r failed", widget.name)
        return None
