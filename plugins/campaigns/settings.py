"""The ``[campaigns]`` section of accord.toml: which attribution model the reports show,
how far back a touch still counts, the address tracked links and unsubscribe links are
built on, and the channels a campaign may run on. Safe defaults (DESIGN rule 6)."""

from __future__ import annotations

from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from accord.api import PluginSettings, runtime_of

from .models import MODELS

DEFAULT_CHANNELS = (
    "email",
    "newsletter",
    "social",
    "ads",
    "web",
    "trade_fair",
    "event",
    "print",
    "partner",
)


class CampaignsSettings(PluginSettings):
    attribution_model: str = "linear"
    """What the ROI reports and dashboard tiles credit by: ``first_touch``, ``last_touch``
    or ``linear`` (every touch before the conversion an equal share)."""
    attribution_window_days: int = Field(180, ge=1, le=3650)
    """A touch older than this many days before a conversion earns it nothing."""
    public_url: str = "http://localhost:8000"
    """The address people reach Accord on from outside: tracked links and unsubscribe
    links in mails are built on it."""
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    """The channels a campaign may run on; ROI per channel groups by them."""
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    """The currency of budgets, cost lines and attributed revenue."""

    @field_validator("attribution_model")
    @classmethod
    def _model(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(
                f"{value!r} is not an attribution model; use one of {', '.join(MODELS)}"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r}: write the full address, e.g. https://crm.example.com")
        return value.rstrip("/")

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one channel")
        return value


def settings_of(session: Session) -> CampaignsSettings:
    """The validated ``[campaigns]`` section of the configuration ``session`` belongs to."""
    section = runtime_of(session).settings.section("campaigns")
    assert isinstance(section, CampaignsSettings)
    return section
