"""The leads plugin's hook implementations: only ``accord.api`` from the kernel, like a
partner's add-on."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessRule,
    DashboardWidget,
    MailTemplate,
    MenuItem,
    ModelView,
    Permission,
    PluginSettings,
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
