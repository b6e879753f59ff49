"""The global search box: ``/search?q=`` asks every plugin's search provider
(``accord_search_providers``) and groups their hits by provider. Providers read through the
user's session, so the access table decides what each user finds (DESIGN rules 3 and 9)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accord.core.contributions import SearchHit, SearchProvider
from accord.ui.site import Site

log = logging.getLogger("accord.ui")

MIN_LENGTH = 2
"""Shorter text finds too much to be of use, and costs every provider a query."""
MAX_LENGTH = 200
HITS_PER_PROVIDER = 5
TEMPLATE = "search/search.html"
RESULTS_BLOCK = "results"
"""The block of search/search.html that the top bar's dropdown (an htmx request) gets."""


@dataclass(frozen=True)
class HitGroup:
    """One provider's answer: its hits, or ``failed`` when it raised (and was logged)."""

    title: str
    hits: Sequence[SearchHit] = ()
    failed: bool = False


def search_text(raw: str | None) -> str:
    """The text to look for, or "" when it is too short to search."""
    text = (raw or "").strip()[:MAX_LENGTH]
    return text if len(text) >= MIN_LENGTH else ""


def ask(provider: SearchProvider, session: Session, text: str) -> HitGroup:
    """One provider's hits, at most ``HITS_PER_PROVIDER``; a provider that fails is logged
    and reported as failed, so the others' hits are still shown."""
    try:
        # A savepoint: on PostgreSQL a failed statement would otherwise abort the whole
        # transaction, and every provider after it with it.
        with session.begin_nested():
            hits = list(provider.search(session, text, HITS_PER_PROVIDER))
    except Exception:
        log.exception("search provider %r failed", provider.name)
        return HitGroup(provider.title, failed=True)
    return HitGroup(provider.title, tuple(hits[:HITS_PER_PROVIDER]))


def search_all(providers: Sequence[SearchProvider], session: Session, text: str) -> list[HitGroup]:
    """The groups with something to say (hits or a failure), in the providers' order."""
    groups = [ask(provider, session, text) for provider in providers]
    return [group for group in groups if group.hits or group.failed]


def routes(site: Site) -> list[BaseRoute]:
    providers: tuple[SearchProvider, ...] = tuple(
        site.runtime.pm.collect("accord_search_providers")
    )

    def search_page(request: Request) -> Response:
        text = search_text(request.query_params.get("q"))
        groups = search_all(providers, request.state.session, text) if text else []
        values = {
            "text": text,
            "groups": groups,
            "min_length": MIN_LENGTH,
        }
        return site.page(request, TEMPLATE, values, fragment=RESULTS_BLOCK)

    return [Route("/search", search_page, name="search")]
