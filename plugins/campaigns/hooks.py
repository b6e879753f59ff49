"""The campaigns plugin's hook implementations: only ``accord.api`` from the kernel and
``accord.plugins.leads.api`` (declared in Plugin.depends), like a partner's add-on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessRule,
    DashboardWidget,
    DemoContext,
    EventSubscriber,
    Importer,
    JobType,
    MailTemplate,
    MenuItem,
    ModelView,
    Permission,
    PluginSettings,
    RecordPanel,
    hookimpl,
)
from accord.plugins.leads.api import Lead

from . import actions, attribution, views
from . import demo as campaigns_demo
from .importing import IMPRESSION_IMPORTER
from .links import on_order_placed, tracked_link
from .mailing import JOBS, MAILING_TEMPLATE, unsubscribe_page
from .merge import follow_merge
from .models import Campaign, Conversion, CostLine, Credit, OptOut, Segment, Touch, TrackedLink
from .responses import open_image
from .security import ACCESS_RULES, PERMISSIONS
from .settings import CampaignsSettings
from .touches import TOUCH_RECORDED, rescore, touch_count


@hookimpl
def accord_settings_section() -> type[PluginSettings]:
    return CampaignsSettings


@hookimpl
def accord_models() -> Sequence[type[object]]:
    return [Segment, Campaign, CostLine, TrackedLink, Touch, Conversion, Credit, OptOut]


@hookimpl
def accord_permissions() -> Sequence[Permission]:
    return PERMISSIONS


@hookimpl
def accord_access_rules() -> Sequence[AccessRule]:
    return ACCESS_RULES


@hookimpl
def accord_routes() -> Sequence[BaseRoute]:
    return actions.routes()


@hookimpl
def accord_public_routes() -> Sequence[BaseRoute]:
    return [
        Route("/t/{token}", tracked_link, methods=["GET"], name="link"),
        Route("/o/{token}.gif", open_image, methods=["GET"], name="open"),
        Route(
            "/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"], name="unsubscribe"
        ),
    ]


@hookimpl
def accord_jobs() -> Sequence[JobType]:
    return JOBS


@hookimpl
def accord_mail_templates() -> Sequence[MailTemplate]:
    return [MAILING_TEMPLATE]


@hookimpl
def accord_event_subscribers() -> Sequence[EventSubscriber]:
    return [
        EventSubscriber("campaigns.rescore_lead", TOUCH_RECORDED, rescore),
        EventSubscriber(
            "campaigns.lead_converted", "leads.lead_converted", attribution.on_lead_converted
        ),
        EventSubscriber("campaigns.order_placed", "orders.order_placed", on_order_placed),
        EventSubscriber(
            "campaigns.order_confirmed", "orders.order_confirmed", attribution.on_order_confirmed
        ),
        EventSubscriber(
            "campaigns.order_cancelled", "orders.order_cancelled", attribution.on_order_cancelled
        ),
    ]


@hookimpl
def accord_model_views() -> Sequence[ModelView]:
    return views.model_views()


@hookimpl
def accord_menu_items() -> Sequence[MenuItem]:
    return views.menu_items()


@hookimpl
def accord_record_panels() -> Sequence[RecordPanel]:
    return views.record_panels()


@hookimpl
def accord_dashboard_widgets() -> Sequence[DashboardWidget]:
    return views.dashboard_widgets()


@hookimpl
def accord_importers() -> Sequence[Importer]:
    return [IMPRESSION_IMPORTER]


@hookimpl
def accord_demo(demo: DemoContext) -> None:
    campaigns_demo.seed(demo)


@hookimpl
def leads_lead_merged(session: Session, survivor: Lead, merged: Lead) -> None:
    follow_merge(session, survivor, merged)


@hookimpl
def leads_engagement(session: Session, lead: Lead) -> int:
    return touch_count(session, lead.id)
