"""Who sees and works which leads and opportunities: the same places of the sales network
as for customers (core's rows for core_partner), so a hat sees the leads it would see as
customers. Companies change any row by name in accord.toml ``[access."leads.<row>"]``."""

from __future__ import annotations

from typing import Literal

from accord.api import AccessRule, Permission, Role

Operation = Literal["read", "write", "create", "delete"]

READ = "leads.read"
WRITE = "leads.write"
CONVERT = "leads.convert"
MERGE = "leads.merge"

PERMISSIONS = [
    Permission(READ, "See leads, opportunities and the pipeline"),
    Permission(WRITE, "Create and work leads and opportunities"),
    Permission(CONVERT, "Convert a qualified lead into a customer and an opportunity"),
    Permission(MERGE, "Merge duplicate leads"),
]

ROLES = [
    Role(
        "telemarketer",
        "Telemarketing (qualifies leads before a salesperson visits)",
        permissions=(READ, WRITE, "core.partners.read"),
    ),
]

ALL: tuple[Operation, ...] = ("read", "write", "create", "delete")
CHANGE: tuple[Operation, ...] = ("read", "write", "create")
# The kernel's roles (salesperson, agent, back office...) hold only the kernel's
# permissions, so the transitions ask for none by default: the access rows below decide who
# may change a lead, and [leads] qualifying_roles who qualifies it. A company that wants a
# permission on a step names it: [workflows."leads.lead".convert] permission = "leads.convert".


def _rows(model: str, prefix: str) -> list[AccessRule]:
    return [
        AccessRule(f"leads.{prefix}_salesperson", model, CHANGE, role="salesperson", scope="own"),
        # An agent sees what is assigned to it, and to the sub-agents of its agency.
        AccessRule(f"leads.{prefix}_agent", model, CHANGE, role="agent", scope="own"),
        AccessRule(f"leads.{prefix}_agent_team", model, CHANGE, role="agent", scope="subtree"),
        AccessRule(f"leads.{prefix}_distributor", model, CHANGE, role="distributor", scope="team"),
        AccessRule(
            f"leads.{prefix}_export_manager", model, CHANGE, role="export_manager", scope="subtree"
        ),
        AccessRule(
            f"leads.{prefix}_sales_manager", model, ALL, role="sales_manager", scope="subtree"
        ),
        AccessRule(f"leads.{prefix}_back_office", model, CHANGE, role="back_office"),
        AccessRule(f"leads.{prefix}_marketing", model, ("read",), role="marketing"),
    ]


ACCESS_RULES = [
    *_rows("leads_lead", "lead"),
    # Telemarketing calls every lead, qualifies it, and hands it over.
    AccessRule("leads.lead_telemarketer", "leads_lead", CHANGE, role="telemarketer"),
    *_rows("leads_opportunity", "opportunity"),
    AccessRule("leads.activity_follows_lead", "leads_activity", ALL, role="*", scope="via:lead_id"),
]
