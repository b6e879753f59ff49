"""The demo company: a folder with settings, a migrated SQLite database holding every
built-in plugin, and an administrator whose credentials are printed."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from accord.core.access import Principal
from accord.core.config_file import write_new_config
from accord.core.plugin import discover_plugins
from accord.core.runtime import Runtime
from accord.core.security import User, create_user, hash_password, set_roles

ADMIN_LOGIN = "admin"


def build_demo(folder: Path, report: Callable[[str], None] = print) -> tuple[str, str]:
    """Create or refresh the demo in ``folder``; returns the admin's login and password.

    Running it again keeps the data and gives the admin a new password.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "accord.toml"
    built_in = sorted(
        found.name for found in discover_plugins().values() if found.origin == "built-in"
    )
    if not config.exists():
        write_new_config(config, plugins=built_in)
        report(f"wrote {config}")
    runtime = Runtime(config)
    try:
        enabled = [found.name for found in runtime.settings.enabled]
        report(f"enabled plugins: {', '.join(enabled) or 'none yet (the kernel only)'}")
        runtime.migrator.upgrade(report=report)
        password = secrets.token_urlsafe(12)
        with runtime.db.session(Principal.system("demo")) as session:
            admin = session.scalar(select(User).where(User.login == ADMIN_LOGIN))
            if admin is None:
                create_user(
                    session, ADMIN_LOGIN, password, name="Demo Administrator", roles=["admin"]
                )
            else:
                admin.password_hash = hash_password(password)
                set_roles(session, admin, {*admin.roles, "admin"})
        report(f"database: {runtime.settings.database_url}")
        report(f"log in as: {ADMIN_LOGIN} / {password}")
        return ADMIN_LOGIN, password
    finally:
        runtime.close()
