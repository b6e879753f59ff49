"""The leads plugin's hook implementations: only ``accord.api`` from the kernel, like a
partner's add-on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessRule,
    DashboardWidget,
    DemoContext,
    Event,
    EventSubscriber,
    Importer,
    MailTemplate,
    MenuItem,
    ModelView,
    Permission,
    PluginSettings,
    ProductLines,
    RecordPanel,
    Role,
    SearchProvider,
    Workflow,
    hookimpl,
)

from . import (
    actions,
    scoring,  # noqa: F401  (keeps scores current whenever a lead is written)
    views,
)
from . import demo as leads_demo
from .cli import leads_cli
from .importing import LEAD_IMPORTER
from .models import AssignmentPointer, Lead, LeadActivity, Opportunity
from .security import ACCESS_RULES, PERMISSIONS, ROLES
from .settings import LeadsSettings
from .web import AUTO_REPLY_TEMPLATE, web_to_lead
from .workflows import workflows


@hookimpl
def accord_settings_section() -> type[PluginSettings]:
    return LeadsSettings


@hookimpl
def accord_models() -> Sequence[type[object]]:
    return [Lead, LeadActivity, Opportunity, AssignmentPointer]


@hookimpl
def accord_permissions() -> Sequence[Permission]:
    return PERMISSIONS


@hookimpl
def accord_roles() -> Sequence[Role]:
    return ROLES


@hookimpl
def accord_access_rules() -> Sequence[AccessRule]:
    return ACCESS_RULES


@hookimpl
def accord_workflows() -> Sequence[Workflow]:
    return workflows()


@hookimpl
def accord_routes() -> Sequence[BaseRoute]:
    return actions.routes()


@hookimpl
def accord_public_routes() -> Sequence[BaseRoute]:
    return [Route("/web/{site}", web_to_lead, methods=["POST"], name="web")]


@hookimpl
def accord_mail_templates() -> Sequence[MailTemplate]:
    return [AUTO_REPLY_TEMPLATE]


@hookimpl
def accord_model_views() -> Sequence[ModelView]:
    return views.model_views()


@hookimpl
def accord_menu_items() -> Sequence[MenuItem]:
    return views.menu_items()


@hookimpl
def accord_search_providers() -> Sequence[SearchProvider]:
    return views.search_providers()


@hookimpl
def accord_record_panels() -> Sequence[RecordPanel]:
    return views.record_panels()


@hookimpl
def accord_dashboard_widgets() -> Sequence[DashboardWidget]:
    return views.dashboard_widgets()


@hookimpl
def accord_product_lines() -> Sequence[ProductLines]:
    return views.product_lines()


@hookimpl
def accord_demo(demo: DemoContext) -> None:
    leads_demo.seed(demo)


def keep_reason(session: Session, event: Event) -> None:
    """A lead disqualified or a deal lost from a board or a record page keeps its reason on
    the record too (the workflow history has it already), for lists and reports."""
    model = Lead if event.payload["model"] == "leads_lead" else Opportunity
    record = session.get(model, event.payload["id"])
    reason = str(event.payload.get("inputs", {}).get("reason", "")).strip()
    if record is None or not reason:
        return
    if isinstance(record, Lead) and not record.disqualify_reason:
        record.disqualify_reason = reason[:120]
    elif isinstance(record, Opportunity) and not record.lost_reason:
        record.lost_reason = reason[:120]


@hookimpl
def accord_event_subscribers() -> Sequence[EventSubscriber]:
    return [
        EventSubscriber("leads.keep_disqualify_reason", "leads.lead.disqualify", keep_reason),
        EventSubscriber("leads.keep_lost_reason", "leads.opportunity.lose", keep_reason),
    ]


@hookimpl
def accord_importers() -> Sequence[Importer]:
    return [LEAD_IMPORTER]


@hookimpl
def accord_cli_commands() -> Sequence[click.Command]:
    return [leads_cli]


@hookimpl
def accord_check_settings(settings: Any, roles: Sequence[str]) -> Sequence[str]:
    """The roles of ``[leads] qualifying_roles`` must exist (checked at start-up)."""
    section = settings.section("leads")
    assert isinstance(section, LeadsSettings)
    return [
        f"{settings.config}, [leads] qualifying_roles: unknown role {role!r}; "
        f"known: {', '.join(roles)}"
        for role in section.qualifying_roles
        if role not in roles
    ]
