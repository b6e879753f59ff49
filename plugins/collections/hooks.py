"""The hooks of collections: its tables, rights and settings, the credit block on order
confirmation, the invoices made from delivered orders and the dunning run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute

from accord.api import (
    AccessRule,
    DashboardWidget,
    DemoContext,
    EventSubscriber,
    Importer,
    JobType,
    MailTemplate,
    ModelView,
    Permission,
    PluginSettings,
    Principal,
    RecordPanel,
    Schedule,
    Transition,
    Workflow,
    hookimpl,
)

from . import blocking, forms, importers, override, position, views
from .billing import DELIVERED, invoice_delivered_order
from .cli import collections_cli
from .demo import add_demo_data
from .dunning import RUN_JOB, run_dunning
from .mail import TEMPLATES
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


@hookimpl
def accord_before_transition(
    session: Session,
    record: object,
    workflow: Workflow,
    transition: Transition,
    principal: Principal,
    inputs: Mapping[str, Any],
) -> str | None:
    return blocking.before_transition(
        session, record, workflow.name, transition.name, principal, inputs
    )


@hookimpl
def accord_event_subscribers() -> Sequence[EventSubscriber]:
    return [
        EventSubscriber("collections.invoice_delivered_order", DELIVERED, invoice_delivered_order),
        EventSubscriber(
            "collections.record_credit_override", "orders.order.confirm", blocking.record_override
        ),
    ]


@hookimpl
def accord_jobs() -> Sequence[JobType]:
    return [JobType(RUN_JOB, run=run_dunning, max_attempts=3)]


@hookimpl
def accord_schedules() -> Sequence[Schedule]:
    return [Schedule("collections.daily_dunning", "0 6 * * *", job=RUN_JOB)]


@hookimpl
def accord_mail_templates() -> Sequence[MailTemplate]:
    return TEMPLATES


@hookimpl
def accord_model_views() -> Sequence[ModelView]:
    return views.model_views()


@hookimpl
def accord_record_panels() -> Sequence[RecordPanel]:
    return [*views.record_panels(), *override.panels(), *position.panels()]


@hookimpl
def accord_dashboard_widgets() -> Sequence[DashboardWidget]:
    return views.dashboard_widgets()


@hookimpl
def accord_cli_commands() -> Sequence[click.Command]:
    return [collections_cli]


@hookimpl
def accord_routes() -> Sequence[BaseRoute]:
    return [*override.routes(), *forms.routes()]


@hookimpl
def accord_importers() -> Sequence[Importer]:
    return importers.importers()


@hookimpl
def accord_demo(demo: DemoContext) -> None:
    add_demo_data(demo)
