"""The orders plugin's hook implementations: what it contributes to the kernel."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Route

from accord.api import (
    AccessRule,
    DashboardWidget,
    DemoContext,
    EventSubscriber,
    JobType,
    MailTemplate,
    MenuItem,
    ModelView,
    Permission,
    PluginSettings,
    ProductLines,
    RecordPanel,
    Role,
    Schedule,
    SearchProvider,
    StaticFolder,
    Workflow,
    hookimpl,
    runtime_of,
)

from . import demo as orders_demo
from . import (
    events,
    intake,
    intake_view,
    listing,
    panels,
    search,
    security,
    views,
    widgets,
    workflows,
)
from .hookspecs import Availability
from .models import MODELS, Product
from .offers import expire_offers
from .ordering import stock_availability
from .settings import OrdersSettings

HERE = Path(__file__).parent


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


@hookimpl
def accord_routes() -> Sequence[BaseRoute]:
    return [
        Route("/intake", intake_view.intake, methods=["POST"], name="intake"),
        *views.routes(),
    ]


@hookimpl
def accord_template_folders() -> Sequence[Path]:
    return [HERE / "templates"]


@hookimpl
def accord_static_folders() -> Sequence[StaticFolder]:
    return [StaticFolder("orders", HERE / "static")]


@hookimpl
def accord_search_providers() -> Sequence[SearchProvider]:
    return [
        SearchProvider("orders.orders", "Orders", search=search.find_orders),
        SearchProvider("orders.offers", "Offers", search=search.find_offers),
    ]


@hookimpl
def accord_menu_items() -> Sequence[MenuItem]:
    return [
        MenuItem(
            "orders.offers", "Offers", "/views/orders-offers", order=200, model="orders_offer"
        ),
        MenuItem(
            "orders.orders", "Orders", "/views/orders-orders", order=210, model="orders_order"
        ),
        MenuItem(
            "orders.queue",
            "Shipping queue",
            "/orders/queue",
            permission="orders.orders.ship",
            order=220,
            model="orders_order",
        ),
        MenuItem(
            "orders.products",
            "Products",
            "/views/orders-products",
            order=230,
            model="orders_product",
        ),
        MenuItem(
            "orders.new_offer",
            "New offer",
            "/orders/new/offer",
            permission="orders.offers.write",
            order=240,
            model="orders_offer",
        ),
    ]


@hookimpl
def accord_model_views() -> Sequence[ModelView]:
    return list(listing.model_views())


ORDER_CONFIRMATION = MailTemplate(
    intake.CONFIRMATION_MAIL,
    subject="Your order {{ number }} is confirmed",
    text=(
        "Dear {{ customer }},\n\n"
        "thank you for your order {{ number }}; it is confirmed and being prepared.\n\n"
        "{% for line in lines %}{{ line.quantity }} x {{ line.description }}\n{% endfor %}\n"
        "Total: {{ amount }} {{ currency }}\n\n"
        "It will be shipped to:\n{{ shipping_address }}\n\n"
        "We will send you the tracking number as soon as it leaves.\n"
    ),
)


@hookimpl
def accord_mail_templates() -> Sequence[MailTemplate]:
    return [ORDER_CONFIRMATION]


@hookimpl
def accord_record_panels() -> Sequence[RecordPanel]:
    return [
        RecordPanel(
            "orders.customer_orders",
            model="core_partner",
            title="Orders and margins",
            render=panels.render_customer_orders,
            slot="tabs",
            order=20,
        )
    ]


@hookimpl
def accord_demo(demo: DemoContext) -> None:
    orders_demo.seed(demo)


@hookimpl
def accord_dashboard_widgets() -> Sequence[DashboardWidget]:
    return widgets.dashboard_widgets()


@hookimpl
def accord_product_lines() -> Sequence[ProductLines]:
    return widgets.product_line_choices()


def expire_offers_job(session: Session, payload: dict[str, object]) -> None:
    expire_offers(runtime_of(session), session)


@hookimpl
def accord_jobs() -> Sequence[JobType]:
    return [JobType("orders.expire_offers", run=expire_offers_job)]


@hookimpl
def accord_schedules() -> Sequence[Schedule]:
    return [Schedule("orders.nightly_expiry", "15 2 * * *", job="orders.expire_offers")]
