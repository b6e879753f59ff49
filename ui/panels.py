"""Record panels (``accord_record_panels``): the HTML plugins add to a record page, in its
named slots, each rendered in a savepoint so that one failing panel is logged and shown as
failed while the page and the other panels still render."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.requests import Request

from accord.core.access import Principal
from accord.core.contributions import RecordPanel, RenderContext, Slot
from accord.core.manager import AccordPluginManager
from accord.core.runtime import runtime_of
from accord.core.security import User
from accord.ui.site import csrf_token

log = logging.getLogger("accord.ui")

SLOTS: tuple[Slot, ...] = get_args(Slot)


@dataclass(frozen=True)
class ShownPanel:
    """A panel with its HTML, or ``failed`` when its render raised (and was logged)."""

    panel: RecordPanel
    html: Markup
    failed: bool = False

    @property
    def anchor(self) -> str:
        return "panel-" + self.panel.name.replace(".", "-").replace("_", "-")


def panels_for(pm: AccordPluginManager, model: str) -> tuple[RecordPanel, ...]:
    """Every enabled plugin's panels for ``model`` (a table name), in their order."""
    found = [panel for panel in pm.collect("accord_record_panels") if panel.model == model]
    return tuple(sorted(found, key=lambda panel: (panel.order, panel.title)))


def render_panel(panel: RecordPanel, context: RenderContext) -> ShownPanel | None:
    """The panel's HTML; ``None`` when it has nothing to say (an empty string)."""
    try:
        # A savepoint: on PostgreSQL a failed statement would otherwise abort the whole
        # transaction, and every panel after it with it.
        with context.session.begin_nested():
            html = panel.render(context)
    except Exception:
        log.exception("record panel %r failed on %s", panel.name, panel.model)
        return ShownPanel(panel, Markup(""), failed=True)
    if not html or not html.strip():
        return None
    return ShownPanel(panel, Markup(html))


def render_slots(
    panels: Sequence[RecordPanel], context: RenderContext
) -> dict[Slot, list[ShownPanel]]:
    """The rendered panels by slot, every slot present (empty when nobody fills it)."""
    slots: dict[Slot, list[ShownPanel]] = {slot: [] for slot in SLOTS}
    for panel in panels:
        shown = render_panel(panel, context)
        if shown is not None:
            slots[panel.slot].append(shown)
    return slots


def render_context(request: Request, record: object) -> RenderContext:
    """What a panel of ``record``'s page sees: the signed-in user's session and user, the
    record, the page's query parameters and the CSRF token for its forms."""
    session: Session = request.state.session
    principal: Principal = request.state.principal
    user = session.get(User, principal.user_id) if principal.user_id is not None else None
    return RenderContext(
        session=session,
        user=user,
        record=record,
        params=dict(request.query_params),
        csrftoken=csrf_token(request),
    )


def record_slots(request: Request, model: str, record: object) -> dict[Slot, list[ShownPanel]]:
    """The panels every enabled plugin adds to ``model`` (a table name), rendered for
    ``record`` as the signed-in user: for a record page that a plugin serves itself (the
    orders' offer and order pages), exactly as the generic record page renders its own.
    The template shows them with the macros of ``_panels.html``."""
    session: Session = request.state.session
    panels = panels_for(runtime_of(session).pm, model)
    return render_slots(panels, render_context(request, record))
