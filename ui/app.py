"""``create_app(runtime)``: the web app composed from its parts and the enabled plugins'
routes, templates, static folders, menu items and dashboard widgets. Nothing is added after
start-up and nothing is global: two apps in one process serve two configurations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from accord.core.errors import PluginError
from accord.core.manager import AccordPluginManager
from accord.core.runtime import Runtime
from accord.ui import auth, boards, forms, imports, lists, partners, records, search, views
from accord.ui.csrf import csrf_protection
from accord.ui.errors import handlers
from accord.ui.signed_in import SignedInMiddleware
from accord.ui.site import Site
from accord.ui.viewable import viewables

UI_STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "accord_session"
# First path segments the app itself answers; a plugin of that name could not be mounted.
RESERVED = frozenset(
    {
        "static",
        "login",
        "logout",
        "account",
        "views",
        "search",
        "boards",
        "partners",
        "imports",
    }
)


def create_app(runtime: Runtime, *, secure_cookies: bool | None = None) -> Starlette:
    """The web app for ``runtime``'s configuration.

    ``secure_cookies`` (default: ``[web] secure_cookies``) marks the session and CSRF
    cookies ``Secure``: turn it on when the app is reached over HTTPS; browsers then never
    send them over plain HTTP.
    """
    web = runtime.settings.web
    runtime.mail  # noqa: B018  mail templates and their overrides fail at start-up, not at a send
    if secure_cookies is None:
        secure_cookies = web.secure_cookies
    runtime.policy  # noqa: B018  (built now: a setting it refuses stops the start-up)
    site = Site.from_runtime(runtime, secure_cookies=secure_cookies)
    site = boards.with_board_menu(site)
    viewable = viewables(runtime.pm, runtime.workflows)
    routes: list[BaseRoute] = [
        *views.routes(site),
        *auth.routes(site),
        *lists.routes(site),
        *forms.routes(site, viewable),
        *records.routes(site, viewable),
        *boards.routes(site),
        *search.routes(site),
        *partners.routes(site),
        *imports.routes(site),
        Mount("/static/accord", StaticFiles(directory=UI_STATIC), name="static"),
        *static_mounts(runtime.pm),
        *plugin_mounts(runtime.pm),
    ]
    middleware = [
        Middleware(csrf_protection, site=site),
        Middleware(
            SessionMiddleware,
            secret_key=runtime.settings.secret_key.get_secret_value(),
            session_cookie=SESSION_COOKIE,
            max_age=int(timedelta(days=web.session_days).total_seconds()),
            same_site="lax",
            https_only=secure_cookies,
        ),
        Middleware(SignedInMiddleware, site=site),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=dict(handlers(site)),
        lifespan=job_runner(runtime),
    )


def plugin_mounts(pm: AccordPluginManager) -> list[BaseRoute]:
    """Each plugin's routes (public ones too) under ``/<plugin>``, named
    ``"<plugin>:<route>"``: route names only need to be unique within their plugin's mount
    (``leads:index``, ``orders:index``)."""
    by_plugin: dict[str, list[BaseRoute]] = defaultdict(list)
    contributed = [
        *pm.collect_with_owner("accord_routes"),
        *pm.collect_with_owner("accord_public_routes"),
    ]
    for owner, route in contributed:
        if owner in RESERVED:
            raise PluginError(
                f"plugin {owner!r}: its routes would be mounted at /{owner}, which the web "
                f"app uses itself; rename the plugin"
            )
        by_plugin[owner].append(route)
    return [Mount(f"/{owner}", routes=routes, name=owner) for owner, routes in by_plugin.items()]


def static_mounts(pm: AccordPluginManager) -> list[BaseRoute]:
    mounts: list[BaseRoute] = []
    for owner, folder in pm.collect_with_owner("accord_static_folders"):
        if folder.name == "accord":
            raise PluginError(
                f"plugin {owner!r}: the static folder name 'accord' is the web app's own; "
                "name the folder after the plugin"
            )
        mounts.append(
            Mount(
                f"/static/{folder.name}",
                StaticFiles(directory=folder.path),
                name=f"static-{folder.name}",
            )
        )
    return mounts


def job_runner(
    runtime: Runtime,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the in-process job runner runs while the app does (unless
    ``[jobs] in_process`` is off, when `accord worker` processes run the jobs)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from accord.core.jobs import start_in_process

        worker = await run_in_threadpool(start_in_process, runtime)
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop_thread, 30.0)

    return lifespan
