"""Who plans campaigns and who sees what they did: marketing runs them; sellers read the
touches of the leads and customers they may read (on the lead and customer pages), and
sales management reads the campaigns and their ROI. Companies change any row by name in
accord.toml ``[access."campaigns.<row>"]``."""

from __future__ import annotations

from typing import Literal

from accord.api import AccessRule, Permission

Operation = Literal["read", "write", "create", "delete"]

READ = "campaigns.read"
MANAGE = "campaigns.manage"
SEND = "campaigns.send"

PERMISSIONS = [
    Permission(
        READ, "See campaigns, their touches and ROI", roles=("marketing", "sales_manager", "admin")
    ),
    Permission(
        MANAGE, "Plan campaigns, their costs, segments and links", roles=("marketing", "admin")
    ),
    Permission(SEND, "Send a campaign's mass e-mail to its segment", roles=("marketing", "admin")),
]

ALL: tuple[Operation, ...] = ("read", "write", "create", "delete")
READ_ONLY: tuple[Operation, ...] = ("read",)
PLANNED = ("campaigns_campaign", "campaigns_cost", "campaigns_segment", "campaigns_link")

ACCESS_RULES = [
    *(
        AccessRule(
            f"campaigns.{model.removeprefix('campaigns_')}_marketing", model, ALL, role="marketing"
        )
        for model in (*PLANNED, "campaigns_touch")
    ),
    *(
        AccessRule(
            f"campaigns.{model.removeprefix('campaigns_')}_sales_manager",
            model,
            READ_ONLY,
            role="sales_manager",
        )
        for model in PLANNED
        if model != "campaigns_campaign"
    ),
    # The people a campaign reached are worked by sellers: they see which campaign it was
    # on the lead and customer pages. Its costs, links and segment stay marketing's; the
    # list and the ROI tiles need the permission campaigns.read.
    AccessRule("campaigns.campaign_everyone", "campaigns_campaign", READ_ONLY, role="*"),
    # A touch is read by whoever may read the lead or the customer it reached, as leads'
    # own activities are: the lead and 360 pages show them to the people working them.
    # Who may change the lead may re-point its touches, which a merge does.
    AccessRule(
        "campaigns.touch_follows_lead",
        "campaigns_touch",
        ("read", "write"),
        role="*",
        scope="via:lead_id",
    ),
    AccessRule(
        "campaigns.touch_follows_partner",
        "campaigns_touch",
        READ_ONLY,
        role="*",
        scope="via:partner_id",
    ),
]
