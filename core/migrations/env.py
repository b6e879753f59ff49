"""Alembic environment of Accord: run by `accord db ...`, which hands it an open connection.

One version branch per plugin plus ``core`` for the kernel; each plugin's revisions live in
its own ``migrations/versions`` folder. For ``--autogenerate`` only the tables of the chosen
plugin are compared, so one plugin's revision never touches another plugin's tables.
"""

from __future__ import annotations

from alembic import context

from accord.core.migrate import include_object_of

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise SystemExit("Accord's migrations run through `accord db upgrade`, not the alembic command")

include_object = include_object_of(
    config.attributes.get("owned_tables", {}), config.attributes.get("autogenerate_plugin")
)

context.configure(
    connection=connection,
    target_metadata=config.attributes["target_metadata"],
    include_object=include_object,
    compare_type=True,
    # Custom column types are part of the public surface, so revisions import accord.api.
    user_module_prefix="accord.api.",
    render_as_batch=connection.dialect.name == "sqlite",
    on_version_apply=config.attributes.get("on_version_apply"),
    process_revision_directives=config.attributes.get("process_revision_directives"),
)

with context.begin_transaction():
    context.run_migrations()
