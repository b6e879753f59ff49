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

SELLERS = ("salesperson", "agent", "distributor", "export_manager", "sales_manager")
PERMISSIONS = [
    Permission(
        READ,
        "See leads, opportunities and the pipeline",
        roles=(*SELLERS, "back_office", "marketing", "admin"),
    ),
    Permission(
        WRITE, "Create and work leads and opportunities", roles=(*SELLERS, "back_office", "admin")
    ),
    Permission(
        CONVERT,
        "Convert a qualified lead into a customer and an opportunity",
        roles=(*SELLERS, "back_office", "admin"),
    ),
    Permission(
        MERGE,
        "Merge duplicate leads",
        roles=("export_manager", "sales_manager", "back_office", "admin"),
    ),
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
# The access rows below decide which leads a hat sees and changes; the permissions above
# which steps it may take on them (converting, merging), and [leads] qualifying_roles who
# qualifies. A company changes either in accord.toml ([access."leads.<row>"],
# [roles.<role>] permissions, [workflows."leads.lead".<step>] permission).


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
