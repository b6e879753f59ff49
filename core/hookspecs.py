# mypy: disable-error-code="empty-body"
"""Every hook of the kernel, in one place (STYLE: one spec module).

A plugin implements a hook with a function of the same name decorated with
``accord.api.hookimpl`` in its ``hooks`` module. Hooks that contribute things return a
sequence of frozen records from ``accord.core.contributions``; the kernel collects them
once and refuses a duplicate name, naming both plugins. docs/hooks.md shows each hook with
an example that the test suite runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from sqlalchemy import Table
    from sqlalchemy.orm import Session
    from starlette.routing import BaseRoute

    from accord.core.access import Principal
    from accord.core.contributions import (
        AccessRule,
        DashboardWidget,
        EventSubscriber,
        JobType,
        MailTemplate,
        MenuItem,
        ModelView,
        Permission,
        ProductLines,
        RecordPanel,
        Role,
        Schedule,
        Scope,
        SearchProvider,
        StaticFolder,
        Transition,
        Workflow,
    )
    from accord.core.demo import DemoContext
    from accord.core.importing import Importer
    from accord.core.settings import AccordSettings, PluginSettings

PROJECT = "accord"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- configuration ------------------------------------------------------------------------


@hookspec
def accord_settings_section() -> type[PluginSettings] | None:
    """The pydantic model of this plugin's section of ``accord.toml``.

    Called once per enabled plugin while settings load (each plugin answers for its own
    section, so the kernel calls each implementation on its own). The section is the table
    named after the plugin (``[leads]``) and the ``ACCORD_LEADS__*`` environment
    variables. Return a subclass of ``accord.api.PluginSettings``; an unknown key or a
    wrong value fails at start-up naming the key and the file or variable.

    Example::

        class LeadsSettings(PluginSettings):
            disqualify_reasons: tuple[str, ...] = ("no budget", "no need")

        @hookimpl
        def accord_settings_section():
            return LeadsSettings
    """


# --- data -----------------------------------------------------------------------------------


@hookspec
def accord_models() -> Sequence[type[object] | Table]:
    """The SQLAlchemy models this plugin owns (and plain ``Table`` objects, for
    association tables without a class of their own).

    Called when the plugin manager is built. The tables of these models belong to the
    plugin: its migrations create them, ``accord plugins plan`` lists them, and
    autogenerate for ``--plugin NAME`` compares only them. Tables are named
    ``<plugin>_<thing>``.

    Example::

        @hookimpl
        def accord_models():
            from .models import Lead, LeadSource
            return [Lead, LeadSource]
    """


# --- security -------------------------------------------------------------------------------


@hookspec
def accord_permissions() -> Sequence[Permission]:
    """The named permissions this plugin checks (``leads.convert``, ``orders.approve``);
    ``roles`` gives one to existing roles (the kernel's hats) by default.

    Example::

        @hookimpl
        def accord_permissions():
            return [Permission("leads.convert", "Convert a qualified lead")]
    """


@hookspec
def accord_roles() -> Sequence[Role]:
    """Roles ("hats") this plugin brings, each with the permissions it grants by default.

    ``accord.toml`` may add roles and change their permissions; the kernel's own roles
    (admin, salesperson, agent, distributor, back office...) come from its default plugin.

    Example::

        @hookimpl
        def accord_roles():
            return [Role("telemarketer", "Telemarketing", permissions=("leads.qualify",))]
    """


@hookspec
def accord_access_rules() -> Sequence[AccessRule]:
    """Rows of the access table for this plugin's models (DESIGN rule 3).

    A row with a role grants; rows without one restrict everybody; no grant means no
    access. ``accord.toml`` changes a row by its name (``[access."leads.lead_agent"]``)
    and may add rows. ``accord roles show ROLE`` prints the result.

    Example::

        @hookimpl
        def accord_access_rules():
            return [
                AccessRule("leads.lead_salesperson", "leads_lead",
                           ("read", "write", "create"), role="salesperson", scope="own"),
                AccessRule("leads.lead_manager", "leads_lead",
                           ("read", "write", "create", "delete"), role="sales_manager",
                           scope="subtree"),
            ]
    """


@hookspec
def accord_scopes() -> Sequence[Scope]:
    """Named record rules, in Python, that access rows may use as their scope.

    Example::

        @hookimpl
        def accord_scopes():
            return [Scope("leads.unassigned",
                          lambda model, principal: model.owner_id.is_(None))]
    """


@hookspec
def accord_check_settings(settings: AccordSettings, roles: Sequence[str]) -> Sequence[str]:
    """What is wrong with this plugin's settings that only the whole configuration shows: a
    role name that no plugin declares, say. Each problem is one message naming the key.

    Called once the roles are known (with ``accord.toml``'s ``[roles]`` applied), when the
    access table is built: by the web app as it starts, by ``accord db upgrade`` and by the
    first sign-in. Problems stop the start-up, all of them listed. Check only your own
    section (``settings.section("<plugin>")``).

    Example::

        @hookimpl
        def accord_check_settings(settings, roles):
            section = settings.section("leads")
            return [f"{settings.config}, [leads] qualifying_roles: unknown role {role!r}"
                    for role in section.qualifying_roles if role not in roles]
    """


# --- workflow and events -------------------------------------------------------------------


@hookspec
def accord_workflows() -> Sequence[Workflow]:
    """State machines over this plugin's models, run by the workflow engine
    (``runtime.workflows``): checked when it is built, and the only way their records
    change state. docs/hooks.md describes transitions, guards and the four-eyes rule.

    Example::

        @hookimpl
        def accord_workflows():
            return [Workflow(
                name="lead", model="leads_lead", initial="new",
                states=("new", "qualified", "disqualified"),
                transitions=(
                    Transition("qualify", ("new",), "qualified", permission="leads.qualify"),
                    Transition("disqualify", ("new",), "disqualified",
                               required_inputs=("reason",)),
                ),
            )]
    """


@hookspec
def accord_before_transition(
    session: Session,
    record: object,
    workflow: Workflow,
    transition: Transition,
    principal: Principal,
    inputs: Mapping[str, Any],
) -> str | None:
    """A last word on a transition of any plugin's workflow: return a reason to veto it.

    Called by the workflow engine for every transition, after the state, the permission,
    the self-approval rule, the required inputs and the transition's guards have passed,
    and before anything is written; also by ``WorkflowEngine.available`` (with empty
    ``inputs``) so the user sees the reason before trying. Every implementation is called;
    the first reason returned (in pluggy's call order) blocks the transition with
    ``TransitionBlockedError`` and is shown to the user as given. Return ``None`` to let it
    pass. Check ``workflow.name`` first: the hook sees every plugin's transitions. Only read
    here; changes belong after the transition (``accord_after_transition``, or an event).

    Example::

        @hookimpl
        def accord_before_transition(session, record, workflow, transition, principal,
                                     inputs):
            if workflow.name == "orders.order" and transition.name == "confirm":
                if customer_over_credit_line(session, record.partner_id):
                    return "the customer is over its credit line; ask administration"
            return None
    """


@hookspec
def accord_after_transition(
    workflow: Workflow,
    transition: Transition,
    model: str,
    record_id: int | str,
    principal: Principal,
    inputs: Mapping[str, Any],
) -> None:
    """Something to do in this process once a transition is committed.

    Called after the transaction holding the transition commits, never when it rolls
    back, once per transition, with the record's table name and primary key (the
    session that made the change is finished by then, so the hook gets ids, not
    objects). Each implementation runs on its own (a wrapper is refused): one that raises
    is logged on the ``accord.workflow`` logger, the others still run, and the committed
    transition stays. For work that must not be lost (mail, webhooks, another
    plugin's records) subscribe to the transition's outbox event
    ``"<workflow>.<transition>"`` instead: it survives a crash (DESIGN rule 5).

    Example::

        @hookimpl
        def accord_after_transition(workflow, transition, model, record_id, principal,
                                    inputs):
            if workflow.name == "leads.lead":
                pipeline_cache.forget(record_id)
    """


@hookspec
def accord_event_subscribers() -> Sequence[EventSubscriber]:
    """Functions run after commit, from the outbox, for events other plugins emit. Each
    gets an ``Event``: ``name``, ``payload`` and ``occurred_at`` (when it was emitted,
    however late it is delivered).

    Example::

        @hookimpl
        def accord_event_subscribers():
            return [EventSubscriber("campaigns.attribute", "orders.order_confirmed",
                                    handle=attribute_revenue)]
    """


@hookspec
def accord_jobs() -> Sequence[JobType]:
    """Job types that events, schedules or code can start by name.

    Example::

        @hookimpl
        def accord_jobs():
            return [JobType("collections.dunning_run", run=run_dunning, max_attempts=3)]
    """


@hookspec
def accord_schedules() -> Sequence[Schedule]:
    """Jobs started on a cron expression, once per period even with several workers.

    Example::

        @hookimpl
        def accord_schedules():
            return [Schedule("collections.nightly_dunning", "0 6 * * *",
                             job="collections.dunning_run")]
    """


@hookspec
def accord_mail_templates() -> Sequence[MailTemplate]:
    """The mail this plugin sends, as templates that ``accord.api.send_mail`` renders by
    name.

    Collected once when the runtime first sends mail (the web app and `accord worker` do it
    at start-up), with the integrator's overrides from ``[mail] templates`` applied; a
    syntax error, or an override file naming no template, fails there. Subject and text
    are plain text, html is autoescaped; every variable a template uses must be in the
    context given to ``send_mail``.

    Example::

        @hookimpl
        def accord_mail_templates():
            return [MailTemplate("leads.assigned", subject="New lead: {{ lead }}",
                                 text="Hello {{ user }}, {{ lead }} is yours.")]
    """


@hookspec
def accord_demo(demo: DemoContext) -> None:
    """Add this plugin's demo data to the demo company (`accord demo`).

    Called after the kernel has seeded the demo's sales network, users and customers, for
    each enabled plugin in dependency order (a plugin finds the data of those it depends
    on), once per database: a later `accord demo` keeps the data and does not call it
    again, but calls the hook of a plugin enabled since. ``demo`` gives a session acting as
    the system principal (the plugin's own transaction: an error leaves nothing of it), a
    ``rng`` seeded with the plugin's name (draw every random choice from it, so the demo
    is the same on every machine), ``users`` by login (admin, mia, sam, sue, ugo, dana,
    bea), ``teams`` by name, the 80 ``customers``, and ``report(text)`` for progress.

    Example::

        @hookimpl
        def accord_demo(demo):
            for customer in demo.rng.sample(demo.customers, 20):
                demo.session.add(Lead(partner_id=customer.id, owner_id=customer.owner_id))
            demo.report("20 leads")
    """


# --- web ------------------------------------------------------------------------------------


@hookspec
def accord_routes() -> Sequence[BaseRoute]:
    """Starlette routes of this plugin, mounted under ``/<plugin>``.

    Route names are then ``"<plugin>:<name>"`` in ``url_for``.

    Example::

        @hookimpl
        def accord_routes():
            return [Route("/pipeline", pipeline_page, name="pipeline")]
    """


@hookspec
def accord_public_routes() -> Sequence[BaseRoute]:
    """Routes of this plugin that anyone may call without signing in, mounted under
    ``/<plugin>`` beside its ``accord_routes``: a web form on the company's site posting a
    lead, a carrier's webhook.

    The app gives them no user, no unit of work and no CSRF check (the caller is another
    site or a program, never a form of Accord's own): the route defends itself (a site key,
    a signature, a honeypot, a rate limit) and opens its own unit of work with a system
    principal, on ``request.state.runtime`` (the app's Runtime, set on every request).

    Example::

        @hookimpl
        def accord_public_routes():
            return [Route("/web/{site}", web_to_lead, methods=["POST"], name="web")]
    """


@hookspec
def accord_template_folders() -> Sequence[Path]:
    """Folders of Jinja2 templates; a folder of a later plugin may override a template.

    Example::

        @hookimpl
        def accord_template_folders():
            return [Path(__file__).parent / "templates"]
    """


@hookspec
def accord_static_folders() -> Sequence[StaticFolder]:
    """Folders of static files, served under ``/static/<name>/``.

    Example::

        @hookimpl
        def accord_static_folders():
            return [StaticFolder("leads", Path(__file__).parent / "static")]
    """


@hookspec
def accord_menu_items() -> Sequence[MenuItem]:
    """Entries of the navigation; each is shown only to users holding its permission.

    Example::

        @hookimpl
        def accord_menu_items():
            return [MenuItem("leads.pipeline", "Pipeline", "/leads/pipeline",
                             permission="leads.read")]
    """


@hookspec
def accord_record_panels() -> Sequence[RecordPanel]:
    """Panels this plugin adds to a record page, its own or another plugin's.

    ``model`` names the record type (``core_partner`` for the customer 360 page at
    ``/partners/<id>``); the panel renders escaped HTML from a ``RenderContext`` holding
    the record, read through the user's session. ``slot`` places it: ``header_actions``
    (buttons beside Edit), ``alerts`` (above the timeline), ``side_panels`` (beside it) or
    ``tabs``. Each panel renders in a savepoint: one that fails is logged and shown as
    failed, the page and the other panels still render.

    Example::

        @hookimpl
        def accord_record_panels():
            return [RecordPanel("orders.partner_orders", model="core_partner",
                                title="Orders", render=render_partner_orders)]
    """


@hookspec
def accord_dashboard_widgets() -> Sequence[DashboardWidget]:
    """Tiles of the dashboard.

    ``render`` gets a ``RenderContext`` with the user's session and ``filters``, the
    period, team and product line the user chose (a ``DashboardFilters``); it returns
    escaped HTML, e.g. from ``accord.api.chart``. Each tile renders in a savepoint: one
    that fails is logged and shown as failed, the others still render.

    Example::

        @hookimpl
        def accord_dashboard_widgets():
            return [DashboardWidget("leads.by_channel", "Leads by channel",
                                    render=render_leads_by_channel)]
    """


@hookspec
def accord_product_lines() -> Sequence[ProductLines]:
    """Choices of the dashboard's product-line filter. ``choices(session)`` is called with
    the user's session each time the dashboard is shown; the values of every plugin are
    offered together, and a widget receives the chosen one as
    ``context.filters.product_line`` (``None`` for all product lines).

    Example::

        def product_lines(session):
            lines = session.scalars(select(Product.product_line).distinct())
            return [(line, line.title()) for line in lines if line]

        @hookimpl
        def accord_product_lines():
            return [ProductLines("orders.product_lines", choices=product_lines)]
    """


@hookspec
def accord_search_providers() -> Sequence[SearchProvider]:
    """Answers to the global search box, one provider per kind of record.

    Example::

        @hookimpl
        def accord_search_providers():
            return [SearchProvider("orders.by_number", "Orders", search=find_orders)]
    """


@hookspec
def accord_model_views() -> Sequence[ModelView]:
    """Lists of this plugin's models, served at ``/views/<name>`` with a CSV export at
    ``/views/<name>.csv``, and shown in the navigation to users who may read the model.

    Called once when the web app is built, which checks each view against its model: every
    column, search field and filter must be a column of the model, and every sortable
    column and filter must lead an index of its table (DESIGN rule 9), or the app refuses
    to start, naming the plugin, the view and the field. The list reads through the
    user's session, so it, its count and its export hold exactly the rows the access table
    lets the user read; pages go by keyset (sort value and id), the count stops at 1,000.

    Example::

        @hookimpl
        def accord_model_views():
            return [ModelView(
                "leads", model="leads_lead", title="Leads",
                columns=(ListColumn("name", "Name", sortable=True),
                         ListColumn("state", "State")),
                search=("name",),
                filters=(ListFilter("state", "State",
                                    choices=(("new", "New"), ("qualified", "Qualified"))),),
                default_sort="name",
            )]
    """


# --- data import ----------------------------------------------------------------------------


@hookspec
def accord_importers() -> Sequence[Importer]:
    """Kinds of file (CSV or XLSX) that users may import into this plugin's records.

    Each ``Importer`` declares the fields a column may fill (label, required, parser,
    header aliases), the external-id field that makes a re-import change nothing, and a
    ``write(session, rows)`` function called with checked rows batch by batch, through the
    importing user's session. The kernel reads and maps the file, checks every row, runs
    dry runs and the all-or-nothing or skip-bad-rows modes, and reports each bad row and
    column; the web app offers an upload page per importer at ``/imports/<name>``.

    Example::

        @hookimpl
        def accord_importers():
            return [Importer(
                "leads.leads", title="Leads", model="leads_lead",
                fields=(ImportField("name", "Name", required=True),
                        ImportField("email", "E-mail", parse=parsers.email,
                                    aliases=("mail",)),
                        ImportField("ref", "Reference")),
                external_id="ref", write=write_leads,
            )]
    """


# --- command line ---------------------------------------------------------------------------


@hookspec
def accord_cli_commands() -> Sequence[click.Command]:
    """Click commands (or groups) added to the ``accord`` command.

    Example::

        @click.group(name="leads")
        def leads_cli():
            "Leads: import and maintenance."

        @hookimpl
        def accord_cli_commands():
            return [leads_cli]
    """
