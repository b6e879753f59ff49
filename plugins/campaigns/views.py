"""What users see of campaigns: the lists of campaigns, cost lines, segments, links and
touches, the menu, the panels on a lead's page and on a customer's 360 page (the touches
that reached them and how many came before they responded), and the ROI tiles of the
dashboard. Everything reads through the user's session."""

from __future__ import annotations

from decimal import Decimal

from markupsafe import Markup
from sqlalchemy import or_, select

from accord.api import (
    DashboardWidget,
    ListColumn,
    ListFilter,
    MenuItem,
    ModelView,
    RecordPanel,
    RenderContext,
    chart,
    principal_of,
)
from accord.plugins.leads.api import Lead

from .forms import (
    COST_FORM,
    LINK_FORM,
    SEGMENT_FORM,
    campaign_channels,
    campaign_form,
    check_campaign,
    check_cost,
    check_link,
    check_segment,
    create_segment,
    new_campaign,
    update_segment,
)
from .models import MODELS, TOUCH_KINDS, Campaign, Touch
from .responses import mail_figures
from .roi import Roi, roi_by_campaign, roi_by_channel
from .security import READ, SEND
from .settings import settings_of
from .touches import touches_before_response


def words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def model_views() -> list[ModelView]:
    return [
        ModelView(
            "campaigns",
            model="campaigns_campaign",
            title="Campaigns",
            columns=(
                ListColumn("name", "Campaign"),
                ListColumn("channel", "Channel", sortable=True),
                ListColumn("starts_on", "Starts", sortable=True),
                ListColumn("ends_on", "Ends"),
                ListColumn("budget", "Budget"),
                ListColumn("currency", "Currency"),
                ListColumn("segment_id", "Segment"),
                ListColumn("owner_id", "Owner"),
                ListColumn("id", "Number", sortable=True),
            ),
            default_columns=("name", "channel", "starts_on", "ends_on", "budget", "owner_id"),
            search=("name",),
            filters=(ListFilter("channel", "Channel", choices=campaign_channels),),
            default_sort="-starts_on",
            permission=READ,
            order=40,
            form=campaign_form(),
            detail=(
                "channel",
                "starts_on",
                "ends_on",
                "budget",
                "currency",
                "segment_id",
                "owner_id",
                "mail_subject",
                "mail_body",
            ),
            validate=check_campaign,
            initial=new_campaign,
        ),
        ModelView(
            "campaign_costs",
            model="campaigns_cost",
            title="Campaign costs",
            columns=(
                ListColumn("incurred_on", "Date"),
                ListColumn("campaign_id", "Campaign"),
                ListColumn("description", "What"),
                ListColumn("amount", "Amount"),
                ListColumn("id", "Number", sortable=True),
            ),
            search=("description",),
            default_sort="-id",
            permission=READ,
            order=42,
            form=COST_FORM,
            validate=check_cost,
        ),
        ModelView(
            "campaign_links",
            model="campaigns_link",
            title="Tracked links",
            columns=(
                ListColumn("campaign_id", "Campaign"),
                ListColumn("name", "Name"),
                ListColumn("destination", "Leads to"),
                ListColumn("utm_source", "utm_source"),
                ListColumn("utm_medium", "utm_medium"),
                ListColumn("utm_campaign", "utm_campaign"),
                ListColumn("id", "Number", sortable=True),
            ),
            search=("name",),
            default_sort="-id",
            permission=READ,
            order=43,
            form=LINK_FORM,
            validate=check_link,
        ),
        ModelView(
            "campaign_segments",
            model="campaigns_segment",
            title="Segments",
            columns=(
                ListColumn("name", "Segment"),
                ListColumn("target", "Of"),
                ListColumn("id", "Number", sortable=True),
            ),
            search=("name",),
            default_sort="-id",
            permission=READ,
            order=44,
            form=SEGMENT_FORM,
            detail=(
                "target",
                "channels",
                "states",
                "product_lines",
                "countries",
                "min_score",
                "max_score",
                "kinds",
                "owner_id",
            ),
            validate=check_segment,
            create=create_segment,
            update=update_segment,
        ),
        ModelView(
            "campaign_touches",
            model="campaigns_touch",
            title="Campaign touches",
            columns=(
                ListColumn("occurred_at", "When"),
                ListColumn("campaign_id", "Campaign"),
                ListColumn("kind", "Touch", sortable=True),
                ListColumn("lead_id", "Lead"),
                ListColumn("partner_id", "Customer"),
                ListColumn("email", "E-mail"),
                ListColumn("utm_source", "utm_source"),
                ListColumn("utm_medium", "utm_medium"),
                ListColumn("utm_campaign", "utm_campaign"),
                ListColumn("detail", "Detail"),
                ListColumn("id", "Number", sortable=True),
            ),
            default_columns=("occurred_at", "campaign_id", "kind", "lead_id", "partner_id"),
            filters=(
                ListFilter("kind", "Touch", choices=tuple((k, words(k)) for k in TOUCH_KINDS)),
            ),
            default_sort="-id",
            permission=READ,
            order=41,
        ),
    ]


def menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            "campaigns.campaigns",
            "Campaigns",
            "/views/campaigns",
            permission=READ,
            order=40,
            model="campaigns_campaign",
        ),
    ]


# --- panels ---------------------------------------------------------------------------------


def touch_rows(touches: list[Touch], names: dict[int, str]) -> Markup:
    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            touch.occurred_at.strftime("%Y-%m-%d %H:%M"),
            names.get(touch.campaign_id, f"#{touch.campaign_id}"),
            words(touch.kind),
            touch.utm_source or touch.detail,
        )
        for touch in touches
    )
    return Markup(
        "<table class='table'><thead><tr><th>When</th><th>Campaign</th><th>Touch</th>"
        "<th>Source</th></tr></thead><tbody>{}</tbody></table>"
    ).format(rows)


def campaign_names(context: RenderContext, touches: list[Touch]) -> dict[int, str]:
    ids = {touch.campaign_id for touch in touches}
    if not ids:
        return {}
    rows = context.session.execute(
        select(Campaign.id, Campaign.name).where(Campaign.id.in_(ids))
    ).all()
    return {row.id: row.name for row in rows}


def render_lead_touches(context: RenderContext) -> str:
    """The seeds' question, answered on the lead: how many impressions before it
    responded, and which."""
    lead = context.record
    if not isinstance(lead, Lead):
        return ""
    count, responded = touches_before_response(context.session, lead)
    touches = list(
        context.session.scalars(
            select(Touch)
            .where(Touch.lead_id == lead.id)
            .order_by(Touch.occurred_at.desc(), Touch.id.desc())
            .limit(20)
        )
    )
    headline = (
        Markup("<p class='campaigns-impressions'><strong>{}</strong> {} before responding</p>")
        if responded
        else Markup(
            "<p class='campaigns-impressions'><strong>{}</strong> {} so far, no response yet</p>"
        )
    ).format(count, "impression" if count == 1 else "impressions")
    if not touches:
        return str(headline)
    return str(headline + touch_rows(touches, campaign_names(context, touches)))


def render_partner_touches(context: RenderContext) -> str:
    partner_id = getattr(context.record, "id", None)
    if partner_id is None:
        return ""
    touches = list(
        context.session.scalars(
            select(Touch)
            .where(
                or_(
                    Touch.partner_id == partner_id,
                    Touch.lead_id.in_(select(Lead.id).where(Lead.partner_id == partner_id)),
                )
            )
            .order_by(Touch.occurred_at.desc(), Touch.id.desc())
            .limit(20)
        )
    )
    if not touches:
        return ""
    converted = context.session.scalar(
        select(Lead.converted_at)
        .where(Lead.partner_id == partner_id, Lead.converted_at.is_not(None))
        .order_by(Lead.converted_at)
        .limit(1)
    )
    before = sum(1 for touch in touches if converted is None or touch.occurred_at <= converted)
    headline = Markup("<p class='campaigns-impressions'><strong>{}</strong> {} {}</p>").format(
        before,
        "impression" if before == 1 else "impressions",
        "before becoming a customer" if converted is not None else "so far",
    )
    return str(headline + touch_rows(touches, campaign_names(context, touches)))


def render_send(context: RenderContext) -> str:
    campaign = context.record
    if not isinstance(campaign, Campaign) or campaign.segment_id is None:
        return ""
    principal = principal_of(context.session)
    if principal is None or not principal.can(SEND):
        return ""
    message = context.params.get("send_result", "")
    note = Markup("<small class='campaigns-sent'>{}</small>").format(message) if message else ""
    return str(
        Markup(
            "<form method='post' action='/campaigns/{}/send'>{}"
            "<button type='submit'>Send the mass e-mail</button>{}</form>"
        ).format(campaign.id, context.csrf_field(), note)
    )


def render_mail_figures(context: RenderContext) -> str:
    """How the campaign's mass e-mail did: sent, opened and clicked, with the rates."""
    campaign = context.record
    if not isinstance(campaign, Campaign):
        return ""
    figures = mail_figures(context.session, campaign.id)
    if not figures.sent:
        return str(Markup("<p>No mass e-mail sent yet.</p>"))

    def rate(count: int) -> str:
        share = figures.rate(count)
        return "-" if share is None else f"{share * 100:.0f} %"

    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td></tr>").format(label, count, share)
        for label, count, share in (
            ("Sent", figures.sent, ""),
            ("Opened", figures.opened, rate(figures.opened)),
            ("Clicked", figures.clicked, rate(figures.clicked)),
        )
    )
    return str(
        Markup(
            "<table class='table campaigns-mail'><thead><tr><th></th><th>Mails</th>"
            "<th>Rate</th></tr></thead><tbody>{}</tbody></table>"
            "<p><small>{} {} on the mail's links (one per mail and link). Opened: the mails "
            "whose image was loaded or a link clicked; one read with images off and no click "
            "is not counted.</small></p>"
        ).format(rows, figures.clicks, "click" if figures.clicks == 1 else "clicks")
    )


def render_campaign_roi(context: RenderContext) -> str:
    campaign = context.record
    if not isinstance(campaign, Campaign):
        return ""
    currency = settings_of(context.session).currency
    rows = []
    for model in MODELS:
        figures = roi_by_campaign(context.session, model, campaign_ids=[campaign.id])
        if figures:
            rows.append(figures[0])
    table = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            words(model),
            money(roi.revenue),
            f"{roi.conversions:.2f}",
            "-" if roi.roi is None else f"{roi.roi * 100:.0f} %",
        )
        for model, roi in zip(MODELS, rows, strict=False)
    )
    cost = rows[0].cost if rows else Decimal(0)
    return str(
        Markup(
            "<p>Spent <strong>{} {}</strong></p><table class='table'><thead><tr><th>Model</th>"
            "<th>Revenue</th><th>Conversions</th><th>ROI</th></tr></thead><tbody>{}</tbody>"
            "</table>"
        ).format(money(cost), currency, table)
    )


def record_panels() -> list[RecordPanel]:
    return [
        RecordPanel("campaigns.send", "campaigns_campaign", "Send", render_send, "header_actions"),
        RecordPanel(
            "campaigns.mail",
            "campaigns_campaign",
            "Mass e-mail",
            render_mail_figures,
            order=5,
        ),
        RecordPanel(
            "campaigns.roi",
            "campaigns_campaign",
            "Return on investment",
            render_campaign_roi,
            order=10,
        ),
        RecordPanel(
            "campaigns.lead_touches",
            "leads_lead",
            "Campaign touches",
            render_lead_touches,
            order=40,
        ),
        RecordPanel(
            "campaigns.partner_touches",
            "core_partner",
            "Campaign touches",
            render_partner_touches,
            order=40,
        ),
    ]


# --- dashboard ------------------------------------------------------------------------------


def money(value: float | Decimal) -> str:
    return f"{value:,.0f}"


def roi_table(figures: list[Roi], currency: str) -> Markup:
    def percent(roi: Roi) -> str:
        return "-" if roi.roi is None else f"{roi.roi * 100:.0f} %"

    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            roi.label, money(roi.cost), money(roi.revenue), percent(roi)
        )
        for roi in figures
    )
    return Markup(
        "<table class='table'><thead><tr><th></th><th>Cost ({0})</th><th>Revenue ({0})</th>"
        "<th>ROI</th></tr></thead><tbody>{1}</tbody></table>"
    ).format(currency, rows)


def render_roi(context: RenderContext, figures: list[Roi], title: str) -> str:
    settings = settings_of(context.session)
    if not figures:
        return str(Markup("<p>No campaigns for these filters.</p>"))
    labels = [roi.label for roi in figures]
    drawing = chart(
        "bar",
        labels,
        {
            "Cost": [float(roi.cost) for roi in figures],
            "Attributed revenue": [float(roi.revenue) for roi in figures],
        },
        title=f"{title} ({words(settings.attribution_model)} attribution)",
        value_format=lambda value: f"{value:,.0f} {settings.currency}",
    )
    return str(Markup(drawing) + roi_table(figures, settings.currency))


def render_roi_by_campaign(context: RenderContext) -> str:
    settings = settings_of(context.session)
    figures = roi_by_campaign(
        context.session,
        settings.attribution_model,
        start=context.filters.start,
        end=context.filters.end,
    )[:10]
    return render_roi(context, figures, "Cost and revenue per campaign")


def render_roi_by_channel(context: RenderContext) -> str:
    settings = settings_of(context.session)
    figures = roi_by_channel(
        context.session,
        settings.attribution_model,
        start=context.filters.start,
        end=context.filters.end,
    )
    return render_roi(context, figures, "Cost and revenue per channel")


def dashboard_widgets() -> list[DashboardWidget]:
    return [
        DashboardWidget(
            "campaigns.roi_by_campaign",
            "Campaign ROI",
            render_roi_by_campaign,
            permission=READ,
            order=50,
        ),
        DashboardWidget(
            "campaigns.roi_by_channel",
            "ROI per channel",
            render_roi_by_channel,
            permission=READ,
            order=51,
        ),
    ]
