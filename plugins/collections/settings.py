"""The ``[collections]`` section of accord.toml: the credit block, who chases, the dunning
levels. Every policy has a safe default (DESIGN rule 6)."""

from __future__ import annotations

import enum
import itertools
from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from accord.api import PluginSettings, runtime_of


class Chaser(enum.StrEnum):
    """Who chases an overdue customer."""

    SALESPERSON = "salesperson"
    """The customer's owner: its salesperson or agent."""
    ADMINISTRATION = "administration"
    ADMINISTRATION_THEN_AGENT = "administration_then_agent"
    """Administration for the first levels, the owner from ``agent_from_level`` on."""


class DunningLevel(BaseModel):
    """One reminder: sent once an invoice is ``days`` past due, with the mail ``template``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(ge=1, le=3650, description="Days past the due date.")
    template: str = Field(min_length=1, description="Name of the mail template.")


DEFAULT_LEVELS = (
    DunningLevel(days=7, template="collections.reminder_1"),
    DunningLevel(days=21, template="collections.reminder_2"),
    DunningLevel(days=45, template="collections.final_notice"),
)


class CollectionsSettings(PluginSettings):
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    """The company's currency: credit lines are in it; invoices and orders in another
    currency are not counted against a credit line."""
    payment_days: int = Field(30, ge=0, le=365)
    """Due date of an invoice made from a delivered order: days after its issue."""
    default_credit_limit: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    """The credit line of a customer without its own; none: no limit."""
    block_over_credit_line: bool = True
    block_overdue_days: int | None = Field(30, ge=0, le=3650)
    """Block confirmation while the customer has an invoice overdue by more than this many
    days; none: overdue invoices never block."""
    chaser: Chaser = Chaser.ADMINISTRATION
    administration_login: str = ""
    """The user who chases for administration; empty: the first active user (by id) with
    the administration role."""
    agent_from_level: int = Field(2, ge=1)
    """With chaser ``administration_then_agent``: the first level the owner chases."""
    dunning_levels: tuple[DunningLevel, ...] = DEFAULT_LEVELS
    follow_up_days: int = Field(3, ge=0, le=365)
    """The chaser's task after a reminder is due this many days later."""
    dso_days: int = Field(90, ge=1, le=3650)
    """The period over which days sales outstanding are computed."""

    @model_validator(mode="after")
    def _levels_in_order(self) -> Self:
        days = [level.days for level in self.dunning_levels]
        for earlier, later in itertools.pairwise(days):
            if later <= earlier:
                raise ValueError(
                    f"dunning_levels: the days must increase from one level to the next, got "
                    f"{', '.join(str(day) for day in days)}"
                )
        if self.chaser == Chaser.ADMINISTRATION_THEN_AGENT and self.agent_from_level > len(
            self.dunning_levels
        ):
            raise ValueError(
                f"agent_from_level: {self.agent_from_level} is above the last dunning level "
                f"({len(self.dunning_levels)})"
            )
        return self


def settings_of(session: Session) -> CollectionsSettings:
    """The validated ``[collections]`` section of the configuration ``session`` belongs to."""
    section = runtime_of(session).settings.section("collections")
    assert isinstance(section, CollectionsSettings)
    return section
