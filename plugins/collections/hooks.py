"""The hooks of collections: its tables, rights and settings, the credit block on order
confirmation, the invoices made from delivered orders and the dunning run."""

from __future__ import annotations

from collections.abc import Sequence

from accord.api import AccessRule, Permission, PluginSettings, hookimpl

from .models import CreditLine, CreditOverride, DunningNotice, Invoice, Payment
from .security import PERMISSIONS, access_rules
from .settings import CollectionsSettings


@hookimpl
def accord_settings_section() -> type[PluginSettings]:
    return CollectionsSettings


@hookimpl
def accord_models() -> Sequence[type[object]]:
    return [CreditLine, Invoice, Payment, DunningNotice, CreditOverride]


@hookimpl
def accord_permissions() -> Sequence[Permission]:
    return PERMISSIONS


@hookimpl
def accord_access_rules() -> Sequence[AccessRule]:
    return access_rules()
