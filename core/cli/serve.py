"""``accord serve``: the web app under uvicorn.

The kernel does not import the web UI (an import contract keeps it free of screens); the app
is named the way uvicorn names one, ``module:factory``, and found when the command runs. A
company could serve another front end built on the same kernel with ``--app``.
"""

from __future__ import annotations

from typing import Any

import click

from accord.core.errors import AccordError
from accord.core.runtime import Runtime

DEFAULT_APP = "accord.ui:create_app"
pass_runtime = click.make_pass_decorator(Runtime)


def host_option(function: Any) -> Any:
    return click.option(
        "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
    )(function)


def port_option(function: Any) -> Any:
    return click.option(
        "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port."
    )(function)


def secure_cookies_option(function: Any) -> Any:
    return click.option(
        "--secure-cookies",
        is_flag=True,
        help="Send cookies over HTTPS only, whatever [web] secure_cookies says.",
    )(function)


def serve_app(
    runtime: Runtime,
    host: str,
    port: int,
    *,
    secure_cookies: bool = False,
    app: str = DEFAULT_APP,
) -> None:
    """Build the app for ``runtime`` and serve it until interrupted."""
    import uvicorn
    from uvicorn.importer import ImportFromStringError, import_from_string

    try:
        factory = import_from_string(app)
    except ImportFromStringError as error:
        raise AccordError(f"--app {app!r}: {error}") from None
    runtime.db.check_connection()
    require_up_to_date(runtime)
    asgi_app = factory(runtime, secure_cookies=True if secure_cookies else None)
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(f"Accord is running at http://{shown_host}:{port}/ (press Ctrl+C to stop)")
    uvicorn.run(asgi_app, host=host, port=port, log_level="info", proxy_headers=True)


def require_up_to_date(runtime: Runtime) -> None:
    """Refuse to serve a database whose schema is behind the enabled plugins: every page
    would fail. Checked once at start-up, from alembic's table."""
    migrator = runtime.migrator
    script = migrator.script()
    behind = []
    for branch, at in migrator.current().items():
        if branch not in migrator.enabled_branches:
            continue
        found = script.get_revision(at) if at else None
        if found is None or not found.is_head:
            behind.append(branch)
    if behind:
        raise AccordError(
            f"the database is not up to date for {', '.join(behind)}; "
            "run `accord db upgrade` first, then serve"
        )


@click.command()
@host_option
@port_option
@secure_cookies_option
@click.option(
    "--app",
    default=DEFAULT_APP,
    show_default=True,
    help="The app factory, as module:function, called with the runtime.",
)
@pass_runtime
def serve(runtime: Runtime, host: str, port: int, secure_cookies: bool, app: str) -> None:
    """Serve the web app (and, unless [jobs] in_process is off, run the jobs)."""
    serve_app(runtime, host, port, secure_cookies=secure_cookies, app=app)


COMMANDS = [serve]
