"""Pages: Jinja2 templates from the UI and the plugins, rendered whole or, for htmx, as one
block of the same template (jinja2-fragments), so no page exists in two copies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from accord.core.numbers import Numbers

UI_TEMPLATES = Path(__file__).parent / "templates"
FRAGMENT_BLOCK = "content"
"""The block every page fills with its own content: what an htmx request gets back."""


def wants_fragment(request: Request) -> bool:
    """An htmx request swaps part of a page; a boosted one (a whole-page navigation done
    by htmx) still wants the whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"


@pass_context
def url_for(context: Context, name: str, /, **path_params: Any) -> str:
    """``url_for("leads:detail", id=7)``: the path of a named route (a path, not an absolute
    URL, so that it stays right behind a proxy)."""
    request: Request = context["request"]
    return request.url_for(name, **path_params).path


class Pages:
    """The template environment: plugins' folders first, so a plugin may override one of
    the UI's templates (as datasette allows), then the UI's own. ``plugin_folders`` come in
    load order (a plugin after its dependencies) and are searched from the last, so a
    plugin may also override a template of a plugin it depends on.

    Every template may write a number as the company does (``[company] locale``) with
    the ``number`` filter: ``{{ order.amount | number }}`` keeps a Decimal's own places,
    ``{{ forecast.weighted | number(2) }}`` rounds to two."""

    def __init__(self, plugin_folders: Iterable[Path], numbers: Numbers) -> None:
        folders = [*reversed(list(plugin_folders)), UI_TEMPLATES]
        self.env = Environment(
            loader=FileSystemLoader([str(folder) for folder in folders]),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["url_for"] = url_for
        self.env.filters["number"] = numbers.show

    def html(self, name: str, context: Mapping[str, Any], block: str | None = None) -> str:
        if block is None:
            return self.env.get_template(name).render(context)
        return render_block(self.env, name, block, dict(context))

    def response(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        fragment: str = FRAGMENT_BLOCK,
    ) -> HTMLResponse:
        """The page ``name``; for an htmx request only its block ``fragment`` (by default
        ``content``). The answer varies on ``HX-Request``, so no cache mixes the two."""
        block = fragment if wants_fragment(request) else None
        return HTMLResponse(
            self.html(name, context, block),
            status_code=status_code,
            headers={"Vary": "HX-Request", **(headers or {})},
        )
