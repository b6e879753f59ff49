"""Alembic environment of Accord: run by `accord db ...`, which hands it an open connection.

One version branch per plugin plus ``core`` for the kernel; each plugin's revisions live in
its own ``migrations/versions`` folder. For ``--autogenerate`` only the tables of the chosen
plugin are compared, so one plugin's revision never touches another plugin's tables.
"""

from __future__ import annotations

from typing import Any

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise SystemExit("Accord's migrations run through `accord db upgrade`, not the alembic command")

owned_tables: dict[str, str] = config.attributes.get("owned_tables", {})
plugin: str | None = config.attributes.get("autogenerate_plugin")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if plugin is None:
        return True
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return owned_tables.get(str(table)) == plugin


context.configure(
    connection=connection,
    target_metadata=config.attributes["target_metadata"],
    include_object=include_object,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",
    on_version_apply=config.attributes.get("on_version_apply"),
    process_revision_directives=config.attributes.get("process_revision_directives"),
)

with context.begin_transaction():
    context.run_migrations()
