"""The kernel's own pages: the dashboard, made of the widgets the user may see, the kernel's
own first, each drawn for the period, team and product line chosen in its filter bar."""

from __future__ import annotations

import datetime as dt
import logging

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accord.core.access import Principal
from accord.core.contributions import DashboardWidget, RenderContext
from accord.core.security import User
from accord.ui.dashboard import PERIODS, parse_filters, product_line_choices, team_choices
from accord.ui.site import Site, csrf_token
from accord.ui.widgets import KERNEL_WIDGETS

log = logging.getLogger("accord.ui")


def routes(site: Site) -> list[BaseRoute]:
    sources = tuple(site.runtime.pm.collect("accord_product_lines"))
    widgets = tuple(sorted((*KERNEL_WIDGETS, *site.widgets), key=lambda w: (w.order, w.title)))

    def allowed(principal: Principal) -> list[DashboardWidget]:
        return [w for w in widgets if w.permission is None or principal.can(w.permission)]

    def dashboard(request: Request) -> Response:
        principal = request.state.principal
        session = request.state.session
        user = session.get(User, principal.user_id)
        bar = parse_filters(
            request.query_params,
            today=dt.datetime.now(dt.UTC).date(),
            teams=team_choices(session),
            product_lines=product_line_choices(session, sources),
        )
        context = RenderContext(
            session=session,
            user=user,
            params=dict(request.query_params),
            filters=bar.filters,
            csrftoken=csrf_token(request),
        )
        tiles = [(widget, render_widget(widget, context)) for widget in allowed(principal)]
        values = {"tiles": tiles, "bar": bar, "periods": PERIODS}
        return site.page(request, "dashboard.html", values)

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
