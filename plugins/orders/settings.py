"""The ``[orders]`` section of accord.toml: the approval policy (a preset and its
threshold, with each step's role overridable), numbering, currency and the web-store
intake."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from accord.api import PluginSettings

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{1,59}$")

Preset = Literal["back_office", "sales_network", "sales_management"]


@dataclass(frozen=True)
class ApprovalRouting:
    """Which role approves each kind of exception; ``None``: the step is not asked."""

    discount: str | None
    feasibility: str | None
    availability: str | None


PRESETS: dict[str, ApprovalRouting] = {
    # The sales network makes the offers; the back office approves them and, knowing
    # production and logistics, confirms availability and timing.
    "back_office": ApprovalRouting(
        discount="back_office", feasibility="technical_office", availability="back_office"
    ),
    # The sales network runs the deal while it acquires the customer (its own management
    # approves discounts) and hands the order to the back office afterwards.
    "sales_network": ApprovalRouting(
        discount="sales_manager", feasibility="technical_office", availability=None
    ),
    # Sales management approves exceptions, discounts and non-standard conditions; the
    # back office confirms availability.
    "sales_management": ApprovalRouting(
        discount="sales_manager", feasibility="technical_office", availability="back_office"
    ),
}


class OrdersSettings(PluginSettings):
    approval_preset: Preset = Field(
        "sales_management",
        description=(
            "Who approves what: back_office (the back office approves and confirms), "
            "sales_network (sales management approves discounts, the back office gets the "
            "order), sales_management (sales management approves exceptions, the back "
            "office confirms availability)."
        ),
    )
    discount_threshold: Decimal = Field(
        Decimal("10"),
        description="A line discount above this percentage needs the discount approval.",
    )
    discount_approver: str | None = Field(
        None, description="Role approving discounts above the threshold, instead of the preset's."
    )
    feasibility_approver: str | None = Field(
        None, description="Role judging non-standard lines, instead of the preset's."
    )
    availability_approver: str | None = Field(
        None,
        description="Role confirming availability of offered goods, instead of the preset's; "
        '"none" skips the step.',
    )
    currency: str = Field("EUR", description="Currency of new offers and orders (ISO 4217).")
    offer_validity_days: int = Field(30, ge=1, le=3650, description="Days an offer is valid.")
    offer_prefix: str = Field("Q", description="Offer numbers: Q-2026-00042.")
    order_prefix: str = Field("SO", description="Order numbers: SO-2026-00042.")
    webstore_system: str = Field(
        "webstore",
        description="Name under which web-store customer ids are kept on the customer record.",
    )

    @field_validator("discount_threshold")
    @classmethod
    def _percentage(cls, value: Decimal) -> Decimal:
        if not Decimal("0") <= value <= Decimal("100"):
            raise ValueError(f"must be between 0 and 100, got {value}")
        return value

    @field_validator("discount_approver", "feasibility_approver", "availability_approver")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_NAME.match(value):
            raise ValueError(f"must be a role name (lowercase letters, digits, _), got {value!r}")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"must be a three-letter ISO 4217 code such as EUR, got {value!r}")
        return value

    @property
    def routing(self) -> ApprovalRouting:
        """The preset with this company's overrides applied."""
        preset = PRESETS[self.approval_preset]

        def pick(override: str | None, default: str | None) -> str | None:
            if override is None:
                return default
            return None if override == "none" else override

        return ApprovalRouting(
            discount=pick(self.discount_approver, preset.discount),
            feasibility=pick(self.feasibility_approver, preset.feasibility),
            availability=pick(self.availability_approver, preset.availability),
        )
