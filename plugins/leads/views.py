"""What users see of leads: the lists of leads and opportunities, the menu, the global
search, the panels on a lead's page (duplicates, conversion, disqualification, activity)
and on the customer's 360 page (its leads and opportunities), and the forecast tile.
Everything reads through the user's session: the access table decides what it holds."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from accord.api import (
    DashboardWidget,
    ListColumn,
    ListFilter,
    MenuItem,
    ModelView,
    ProductLines,
    RecordPanel,
    RenderContext,
    SearchHit,
    SearchProvider,
    chart,
    principal_of,
)

from .forms import (
    LEAD_FORM,
    OPPORTUNITY_FORM,
    channel_choices,
    check_opportunity,
    create_lead_from_form,
    new_lead,
    update_lead,
    update_opportunity,
)
from .models import Lead, LeadActivity, Opportunity
from .pipeline import forecast
from .service import find_duplicates
from .workflows import LEAD_STATES, OPEN_LEAD_STATES, STAGES, leads_settings

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def render(template: str, **values: Any) -> str:
    return TEMPLATES.get_template(f"leads/{template}").render(words=words, **values)


def lead_path(lead_id: int) -> str:
    return f"/views/leads/{lead_id}"


# --- lists ----------------------------------------------------------------------------------


def model_views() -> list[ModelView]:
    return [
        ModelView(
            "leads",
            model="leads_lead",
            title="Leads",
            columns=(
                ListColumn("company", "Company", sortable=True),
                ListColumn("first_name", "First name"),
                ListColumn("last_name", "Last name"),
                ListColumn("email", "E-mail"),
                ListColumn("phone", "Phone"),
                ListColumn("country", "Country"),
                ListColumn("channel", "Channel"),
                ListColumn("product_line", "Product line"),
                ListColumn("state", "State"),
                ListColumn("score", "Score", sortable=True),
                ListColumn("owner_id", "Owner"),
                ListColumn("team_id", "Team"),
                ListColumn("id", "Number", sortable=True),
            ),
            default_columns=(
                "company",
                "first_name",
                "last_name",
                "channel",
                "state",
                "score",
                "owner_id",
            ),
            search=("company", "last_name", "email"),
            filters=(
                ListFilter("state", "State", choices=tuple((s, words(s)) for s in LEAD_STATES)),
                ListFilter("channel", "Channel", choices=channel_choices),
            ),
            default_sort="-id",
            order=20,
            form=LEAD_FORM,
            detail=(
                "company",
                "first_name",
                "last_name",
                "job_title",
                "email",
                "phone",
                "website",
                "city",
                "country",
                "channel",
                "product_line",
                "state",
                "disqualify_reason",
                "score",
                "owner_id",
                "team_id",
                "notes",
            ),
            initial=new_lead,
            create=create_lead_from_form,
            update=update_lead,
        ),
        ModelView(
            "opportunities",
            model="leads_opportunity",
            title="Opportunities",
            columns=(
                ListColumn("name", "Opportunity"),
                ListColumn("partner_id", "Customer"),
                ListColumn("state", "Stage"),
                ListColumn("expected_revenue", "Expected revenue"),
                ListColumn("currency", "Currency"),
                ListColumn("probability", "Probability %"),
                ListColumn("expected_close", "Expected close"),
                ListColumn("product_line", "Product line"),
                ListColumn("owner_id", "Owner"),
                ListColumn("id", "Number", sortable=True),
            ),
            default_columns=(
                "name",
                "partner_id",
                "state",
                "expected_revenue",
                "expected_close",
                "owner_id",
            ),
            search=("name",),
            filters=(ListFilter("state", "Stage", choices=tuple((s, words(s)) for s in STAGES)),),
            default_sort="-id",
            order=30,
            form=OPPORTUNITY_FORM,
            detail=(
                "name",
                "partner_id",
                "state",
                "expected_revenue",
                "currency",
                "probability",
                "expected_close",
                "product_line",
                "lost_reason",
                "owner_id",
                "team_id",
            ),
            validate=check_opportunity,
            update=update_opportunity,
            creatable=False,
        ),
    ]


def menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            "leads.leads",
            "Leads",
            "/views/leads",
            permission="leads.read",
            order=20,
            model="leads_lead",
        ),
        MenuItem(
            "leads.pipeline",
            "Pipeline",
            "/boards/leads.opportunity",
            permission="leads.read",
            order=30,
            model="leads_opportunity",
        ),
    ]


# --- search ---------------------------------------------------------------------------------


def _pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def find_leads(session: Session, text: str, limit: int) -> Sequence[SearchHit]:
    """Leads (not merged away) whose company, last name or e-mail holds ``text``."""
    pattern = _pattern(text)
    leads = session.scalars(
        select(Lead)
        .where(
            or_(
                Lead.company.ilike(pattern, escape="\\"),
                Lead.last_name.ilike(pattern, escape="\\"),
                Lead.email.ilike(pattern, escape="\\"),
            ),
            Lead.state != "merged",
        )
        .order_by(Lead.id.desc())
        .limit(min(limit, 5))
    )
    return [
        SearchHit(lead.name, lead_path(lead.id), f"{words(lead.state)} · {words(lead.channel)}")
        for lead in leads
    ]


def find_opportunities(session: Session, text: str, limit: int) -> Sequence[SearchHit]:
    deals = session.scalars(
        select(Opportunity)
        .where(Opportunity.name.ilike(_pattern(text), escape="\\"))
        .order_by(Opportunity.id.desc())
        .limit(min(limit, 5))
    )
    return [
        SearchHit(
            deal.name,
            f"/views/opportunities/{deal.id}",
            f"{words(deal.state)} · {deal.expected_revenue} {deal.currency}",
        )
        for deal in deals
    ]


def search_providers() -> list[SearchProvider]:
    return [
        SearchProvider("leads.leads", "Leads", search=find_leads),
        SearchProvider("leads.opportunities", "Opportunities", search=find_opportunities),
    ]


# --- panels ---------------------------------------------------------------------------------


def may_write(session: Session, lead: Lead) -> bool:
    """Whether the user may change ``lead``: the access table's write rows, asked the way
    the data layer asks them."""
    principal = principal_of(session)
    if principal is None:
        return False
    if principal.is_system:
        return True
    policy = principal.policy
    if policy is None or not policy.decide(principal.roles, "leads_lead", "write").allowed:
        return False
    condition = policy.criteria(principal, Lead, "write")
    if condition is None:
        return True
    return session.scalar(select(Lead.id).where(Lead.id == lead.id, condition)) is not None


def render_duplicates(context: RenderContext) -> str:
    lead = context.record
    if not isinstance(lead, Lead) or lead.state == "merged":
        return ""
    duplicates = find_duplicates(context.session, lead)
    if not duplicates:
        return ""
    return render(
        "duplicates.html",
        lead=lead,
        duplicates=duplicates,
        can_merge=may_write(context.session, lead),
    )


def render_conversion(context: RenderContext) -> str:
    lead = context.record
    if not isinstance(lead, Lead) or lead.state != "qualified":
        return ""
    if not may_write(context.session, lead):
        return ""
    settings = leads_settings(context.session)
    return render(
        "convert.html",
        lead=lead,
        stages=[(s, words(s), settings.stage_probability(s)) for s in STAGES[:3]],
        error=context.params.get("convert_error", ""),
    )


def render_disqualify(context: RenderContext) -> str:
    lead = context.record
    if not isinstance(lead, Lead) or lead.state not in OPEN_LEAD_STATES:
        return ""
    if not may_write(context.session, lead):
        return ""
    reasons = leads_settings(context.session).disqualify_reasons
    return render("disqualify.html", lead=lead, reasons=reasons)


def render_assign(context: RenderContext) -> str:
    lead = context.record
    if not isinstance(lead, Lead) or lead.state not in OPEN_LEAD_STATES:
        return ""
    if not leads_settings(context.session).assignment or not may_write(context.session, lead):
        return ""
    return render("assign.html", lead=lead)


def render_lead_activity(context: RenderContext) -> str:
    lead = context.record
    if not isinstance(lead, Lead):
        return ""
    activities = context.session.scalars(
        select(LeadActivity)
        .where(LeadActivity.lead_id == lead.id)
        .order_by(LeadActivity.occurred_at.desc(), LeadActivity.id.desc())
        .limit(50)
    ).all()
    merged = context.session.scalars(
        select(Lead).where(Lead.merged_into_id == lead.id).order_by(Lead.id)
    ).all()
    return render("activity.html", lead=lead, activities=activities, merged=merged)


def render_partner_leads(context: RenderContext) -> str:
    partner_id = getattr(context.record, "id", None)
    leads = context.session.scalars(
        select(Lead).where(Lead.partner_id == partner_id).order_by(Lead.id.desc()).limit(20)
    ).all()
    if not leads:
        return ""
    return render("partner_leads.html", leads=leads)


def render_partner_opportunities(context: RenderContext) -> str:
    partner_id = getattr(context.record, "id", None)
    deals = context.session.scalars(
        select(Opportunity)
        .where(Opportunity.partner_id == partner_id)
        .order_by(Opportunity.id.desc())
        .limit(20)
    ).all()
    if not deals:
        return ""
    settings = leads_settings(context.session)
    rows = []
    for deal in deals:
        chance = (
            deal.probability
            if deal.probability is not None
            else settings.stage_probability(deal.state)
        )
        if deal.state == "lost":
            chance = 0
        weighted = (deal.expected_revenue * Decimal(chance) / 100).quantize(Decimal("0.01"))
        rows.append((deal, chance, weighted))
    return render("partner_opportunities.html", rows=rows)


def record_panels() -> list[RecordPanel]:
    return [
        RecordPanel(
            "leads.duplicates", "leads_lead", "Possible duplicates", render_duplicates, "alerts"
        ),
        RecordPanel("leads.assign", "leads_lead", "Assign", render_assign, "header_actions"),
        RecordPanel("leads.convert", "leads_lead", "Convert", render_conversion, order=10),
        RecordPanel("leads.disqualify", "leads_lead", "Disqualify", render_disqualify, order=20),
        RecordPanel("leads.activity", "leads_lead", "Activity", render_lead_activity, order=30),
        RecordPanel(
            "leads.partner_opportunities",
            "core_partner",
            "Opportunities",
            render_partner_opportunities,
            order=20,
        ),
        RecordPanel("leads.partner_leads", "core_partner", "Leads", render_partner_leads, order=30),
    ]


# --- dashboard ------------------------------------------------------------------------------


def render_forecast(context: RenderContext) -> str:
    """The open pipeline expected to close in the chosen period, per stage: what it may
    bring and what it brings weighted by its probability."""
    filters = context.filters
    result = forecast(
        context.session,
        closing_from=filters.start,
        closing_until=filters.end,
        team_ids=tuple(sorted(filters.team_ids)),
        product_line=filters.product_line or "",
    )
    drawing = chart(
        "bar",
        [words(stage.stage) for stage in result.stages],
        {
            "Expected": [float(stage.revenue) for stage in result.stages],
            "Weighted": [float(stage.weighted) for stage in result.stages],
        },
        title="Open pipeline closing in the period, by stage",
        empty="No open opportunity is expected to close in this period.",
        value_format="{:,.0f}".format,
    )
    return render("forecast.html", forecast=result, chart=drawing)


def render_leads_by_channel(context: RenderContext) -> str:
    """Leads that came in during the chosen period, per channel, and how many of them were
    converted."""
    filters = context.filters
    query = (
        select(
            Lead.channel,
            func.count(Lead.id),
            func.count(case((Lead.state == "converted", Lead.id))),
        )
        .where(
            Lead.created_at >= filters.start_at,
            Lead.created_at < filters.end_at,
            Lead.state != "merged",
        )
        .group_by(Lead.channel)
        .order_by(func.count(Lead.id).desc(), Lead.channel)
    )
    if filters.team_ids:
        query = query.where(Lead.team_id.in_(sorted(filters.team_ids)))
    if filters.product_line:
        query = query.where(Lead.product_line == filters.product_line)
    rows = context.session.execute(query).all()
    return str(
        chart(
            "bar",
            [words(row[0]) for row in rows],
            {"Leads": [row[1] for row in rows], "Converted": [row[2] for row in rows]},
            title="Leads by source channel in the period",
            empty="No lead came in during this period.",
        )
    )


def dashboard_widgets() -> list[DashboardWidget]:
    return [
        DashboardWidget(
            "leads.forecast",
            "Weighted forecast",
            render_forecast,
            permission="leads.read",
            order=20,
        ),
        DashboardWidget(
            "leads.by_channel",
            "Leads by channel",
            render_leads_by_channel,
            permission="leads.read",
            order=25,
        ),
    ]


def settings_product_lines(session: Session) -> list[tuple[str, str]]:
    return [(line, words(line)) for line in leads_settings(session).product_lines]


def product_lines() -> list[ProductLines]:
    return [ProductLines("leads.product_lines", choices=settings_product_lines)]
