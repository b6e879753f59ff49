"""The leads plugin's hook implementations: only ``accord.api`` from the kernel, like a
partner's add-on."""

from __future__ import annotations

from collections.abc import Sequence

from accord.api import AccessRule, Permission, PluginSettings, Role, Workflow, hookimpl

from . import scoring  # noqa: F401  (keeps scores current whenever a lead is written)
from .models import AssignmentPointer, Lead, LeadActivity, Opportunity
from .security import ACCESS_RULES, PERMISSIONS, ROLES
from .settings import LeadsSettings
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
