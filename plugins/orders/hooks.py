"""The orders plugin's hook implementations: what it contributes to the kernel."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from accord.api import (
    AccessRule,
    EventSubscriber,
    Permission,
    PluginSettings,
    Role,
    Workflow,
    hookimpl,
)

from . import events, security, workflows
from .hookspecs import Availability
from .models import MODELS, Product
from .ordering import stock_availability
from .settings import OrdersSettings


@hookimpl
def accord_settings_section() -> type[PluginSettings]:
    return OrdersSettings


@hookimpl
def accord_models() -> Sequence[type[object]]:
    return list(MODELS)


@hookimpl
def accord_permissions() -> Sequence[Permission]:
    return list(security.PERMISSIONS)


@hookimpl
def accord_roles() -> Sequence[Role]:
    return list(security.ROLES)


@hookimpl
def accord_access_rules() -> Sequence[AccessRule]:
    return security.access_rules()


@hookimpl
def accord_workflows() -> Sequence[Workflow]:
    return workflows.workflows()


@hookimpl
def accord_event_subscribers() -> Sequence[EventSubscriber]:
    return events.subscribers()


@hookimpl(trylast=True)
def orders_availability(session: Session, product: Product, quantity: Decimal) -> Availability:
    return stock_availability(session, product, quantity)
