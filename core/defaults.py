"""The kernel's own hook implementations, registered like any plugin's under the name
``core``: its models and the roles ("hats") of a sales organisation."""

from __future__ import annotations

from collections.abc import Sequence

from accord.core.activities import Activity
from accord.core.audit import AuditEntry
from accord.core.contributions import Permission, Role
from accord.core.events import Job, OutboxEvent
from accord.core.hookspecs import hookimpl
from accord.core.partners import Address, Partner, PartnerExternalId
from accord.core.security import Role as RoleRow
from accord.core.security import Team, User, UserRole


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
