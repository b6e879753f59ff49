"""The kernel's own hook implementations, registered like any plugin's under the name
``core``: its models and the roles ("hats") of a sales organisation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accord.core.activities import Activity
from accord.core.audit import AuditEntry
from accord.core.contributions import (
    AccessRule,
    FormField,
    FormSection,
    JobType,
    ListColumn,
    ListFilter,
    MailTemplate,
    MenuItem,
    ModelView,
    Operation,
    Permission,
    Role,
    SearchHit,
    SearchProvider,
)
from accord.core.events import Job, OutboxEvent
from accord.core.hookspecs import hookimpl
from accord.core.importing import ImportKey
from accord.core.mail import DELIVER_JOB, DELIVERY_ATTEMPTS, deliver
from accord.core.partners import Address, Partner, PartnerExternalId, PartnerKind
from accord.core.security import ApiKey, SecurityVersion, Team, User, UserRole
from accord.core.security import Role as RoleRow
from accord.core.workflow import TransitionRecord


@hookimpl
def accord_models() -> Sequence[type[object]]:
    return [
        Team,
        RoleRow,
        User,
        UserRole,
        Partner,
        Address,
        PartnerExternalId,
        Activity,
        OutboxEvent,
        Job,
        AuditEntry,
        ApiKey,
        TransitionRecord,
        ImportKey,
        SecurityVersion,
    ]


@hookimpl
def accord_permissions() -> Sequence[Permission]:
    return [
        Permission("core.users.manage", "Create users and change their roles"),
        Permission("core.partners.read", "See customers and contacts"),
        Permission("core.partners.write", "Create and change customers and contacts"),
    ]


@hookimpl
def accord_roles() -> Sequence[Role]:
    partners = ("core.partners.read", "core.partners.write")
    return [
        Role("admin", "Administrator", permissions=("core.users.manage", *partners)),
        Role("sales_manager", "Sales management", permissions=partners),
        Role("salesperson", "Salesperson (direct sales force)", permissions=partners),
        Role("agent", "Agent (single- or multi-firm)", permissions=partners),
        Role("distributor", "Distributor or reseller", permissions=("core.partners.read",)),
        Role("export_manager", "Export manager", permissions=partners),
        Role("back_office", "Back office", permissions=partners),
        Role("technical_office", "Technical office", permissions=("core.partners.read",)),
        Role("administration", "Administration", permissions=partners),
        Role("marketing", "Marketing", permissions=("core.partners.read",)),
        Role("support", "Customer service", permissions=("core.partners.read",)),
    ]


ALL: tuple[Operation, ...] = ("read", "write", "create", "delete")
CHANGE: tuple[Operation, ...] = ("read", "write", "create")


@hookimpl
def accord_access_rules() -> Sequence[AccessRule]:
    """Who sees which customers: each hat its own part of the sales network (the seeds:
    agents and distributors see their own customers, management its subtree, the offices
    everything they work on). Companies change these rows in accord.toml."""
    return [
        AccessRule("core.admin", "*", ALL, role="admin"),
        # The directory: everybody may see who is who and which team is where.
        AccessRule("core.team_directory", "core_team", ("read",), role="*"),
        AccessRule("core.role_directory", "core_role", ("read",), role="*"),
        AccessRule("core.user_directory", "core_user", ("read",), role="*"),
        AccessRule("core.user_role_directory", "core_user_role", ("read",), role="*"),
        AccessRule(
            "core.own_api_keys", "core_api_key", ("read", "create", "write"), role="*", scope="own"
        ),
        # Customers.
        AccessRule(
            "core.partner_salesperson", "core_partner", CHANGE, role="salesperson", scope="own"
        ),
        AccessRule("core.partner_agent", "core_partner", CHANGE, role="agent", scope="own"),
        AccessRule(
            "core.partner_distributor", "core_partner", CHANGE, role="distributor", scope="team"
        ),
        AccessRule(
            "core.partner_export_manager",
            "core_partner",
            CHANGE,
            role="export_manager",
            scope="subtree",
        ),
        AccessRule(
            "core.partner_sales_manager", "core_partner", ALL, role="sales_manager", scope="subtree"
        ),
        AccessRule("core.partner_back_office", "core_partner", CHANGE, role="back_office"),
        AccessRule(
            "core.partner_administration", "core_partner", ("read", "write"), role="administration"
        ),
        AccessRule("core.partner_support", "core_partner", ("read", "write"), role="support"),
        AccessRule(
            "core.partner_technical_office", "core_partner", ("read",), role="technical_office"
        ),
        AccessRule("core.partner_marketing", "core_partner", ("read",), role="marketing"),
        # What hangs on a customer follows it: seen with it, changed by who may change it.
        AccessRule(
            "core.address_follows_partner", "core_address", ALL, role="*", scope="via:partner_id"
        ),
        AccessRule(
            "core.external_id_follows_partner",
            "core_partner_external_id",
            ALL,
            role="*",
            scope="via:partner_id",
        ),
        AccessRule(
            "core.activity_follows_partner", "core_activity", ALL, role="*", scope="via:partner_id"
        ),
    ]


@hookimpl
def accord_model_views() -> Sequence[ModelView]:
    """The customer list. It offers no filter on kind or active yet: those columns have no
    index, and a list filters and sorts only on indexed columns (DESIGN rule 9)."""
    return [
        ModelView(
            "partners",
            model="core_partner",
            title="Customers",
            columns=(
                ListColumn("name", "Name", sortable=True),
                ListColumn("kind", "Kind"),
                ListColumn("email", "E-mail", sortable=True),
                ListColumn("phone", "Phone"),
                ListColumn("website", "Website"),
                ListColumn("vat_number", "VAT number"),
                ListColumn("active", "Active"),
                ListColumn("owner_id", "Owner"),
            ),
            default_columns=("name", "kind", "email", "phone", "owner_id"),
            search=("name", "email"),
            filters=(
                ListFilter(
                    "kind",
                    "Kind",
                    choices=((PartnerKind.COMPANY, "Company"), (PartnerKind.PERSON, "Person")),
                ),
                ListFilter("active", "Active", kind="boolean"),
            ),
            default_sort="name",
            permission="core.partners.read",
            order=10,
            form=PARTNER_FORM,
            detail=(
                "kind",
                "company_id",
                "email",
                "phone",
                "website",
                "vat_number",
                "owner_id",
                "team_id",
                "active",
            ),
            # The customer 360 page; the generic page stays at /views/partners/<id>.
            record_path="/partners/{id}",
        )
    ]


PARTNER_FORM = (
    FormSection(
        "Customer",
        (
            FormField("name", "Name"),
            FormField(
                "kind",
                "Kind",
                choices=((PartnerKind.COMPANY, "Company"), (PartnerKind.PERSON, "Person")),
            ),
            FormField("company_id", "Company", help="For a person: the company they work for."),
            FormField("active", "Active", help="Inactive customers stay in the history."),
        ),
    ),
    FormSection(
        "Contact",
        (
            FormField("email", "E-mail"),
            FormField("phone", "Phone"),
            FormField("website", "Website"),
            FormField("vat_number", "VAT number"),
        ),
    ),
    FormSection(
        "Sales network",
        (
            FormField("owner_id", "Owner", help="The salesperson or agent who looks after it."),
            FormField("team_id", "Team"),
        ),
    ),
)


@hookimpl
def accord_menu_items() -> Sequence[MenuItem]:
    # After the plugins' usual entries (order 100 and up to 900): the list is new.
    return [
        MenuItem(
            "core.partners",
            "Customers",
            "/views/partners",
            permission="core.partners.read",
            order=950,
            model="core_partner",
        )
    ]


def find_customers(session: Session, text: str, limit: int) -> Sequence[SearchHit]:
    """Customers whose name or e-mail contains ``text`` (any case), at most five; read
    through the user's session, so each hat finds only the customers it may see."""
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    pattern = f"%{escaped}%"
    customers = session.scalars(
        select(Partner)
        .where(
            or_(
                Partner.name.ilike(pattern, escape="\\"),
                Partner.email.ilike(pattern, escape="\\"),
            )
        )
        .order_by(Partner.name, Partner.id)
        .limit(min(limit, 5))
    )
    # A hit opens the customer's 360 page.
    return [
        SearchHit(customer.name, f"/partners/{customer.id}", customer.email)
        for customer in customers
    ]


@hookimpl
def accord_search_providers() -> Sequence[SearchProvider]:
    return [SearchProvider("core.customers", "Customers", search=find_customers)]


@hookimpl
def accord_jobs() -> Sequence[JobType]:
    return [JobType(DELIVER_JOB, run=deliver, max_attempts=DELIVERY_ATTEMPTS)]


TEST_MESSAGE = "core.test_message"


@hookimpl
def accord_mail_templates() -> Sequence[MailTemplate]:
    return [
        MailTemplate(
            TEST_MESSAGE,
            subject="Accord test message from {{ sender }}",
            text=(
                "This message was sent by `accord mail send-test` to check the [mail]\n"
                "settings of {{ config }}: transport {{ transport }}.\n\n"
                "If you can read it, mail from Accord reaches {{ to }}.\n"
            ),
            html=(
                "<p>This message was sent by <code>accord mail send-test</code> to check the "
                "[mail] settings of <code>{{ config }}</code>: transport "
                "<b>{{ transport }}</b>.</p><p>If you can read it, mail from Accord reaches "
                "{{ to }}.</p>"
            ),
        )
    ]
