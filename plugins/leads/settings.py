"""The ``[leads]`` section of accord.toml: channels, reasons, who qualifies, assignment
rules, scoring rules, web-to-lead sites and the pipeline's stage probabilities. Every
policy has a safe default; a mistake stops the start-up naming the key."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accord.api import PluginSettings

ONLINE_CHANNELS = (
    "social",
    "web_form",
    "landing_page",
    "blog",
    "email",
    "newsletter",
    "lead_generation",
    "ecommerce",
    "app",
)
OFFLINE_CHANNELS = ("phone", "visit", "shop", "partner", "trade_fair", "event")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
POSTCODE_RANGE = re.compile(r"^\s*([0-9A-Za-z]+)\s*(?:-\s*([0-9A-Za-z]+)\s*)?$")
OPEN_STAGES = ("qualification", "proposal", "negotiation")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostcodeRange(Strict):
    """``"20100-20199"`` or one postcode ``"20121"``; compared as numbers when both ends
    are digits of the same length, else as text."""

    low: str
    high: str

    def contains(self, postcode: str) -> bool:
        code = postcode.replace(" ", "").upper()
        if not code:
            return False
        if self.low.isdigit() and self.high.isdigit() and code.isdigit():
            width = len(self.low)
            return len(code) == width and int(self.low) <= int(code) <= int(self.high)
        return self.low <= code[: len(self.low)] <= self.high


def parse_postcode_range(text: str) -> PostcodeRange:
    match = POSTCODE_RANGE.match(text)
    if match is None:
        raise ValueError(f"postcode range {text!r}: write '20100-20199' or one postcode '20121'")
    low, high = match[1].upper(), (match[2] or match[1]).upper()
    if low.isdigit() and high.isdigit() and len(low) != len(high):
        raise ValueError(f"postcode range {text!r}: both ends need the same number of digits")
    if low > high:
        raise ValueError(f"postcode range {text!r}: the first postcode is after the second")
    return PostcodeRange(low=low, high=high)


class AssignmentRule(Strict):
    """One row of ``[[leads.assignment]]``: when every criterion given matches a lead, the
    lead goes to ``user`` or, round robin, to the active users of ``team`` (``users``
    narrows the rotation to some of them). Rules are tried in order; the first that
    matches wins."""

    name: str = Field(min_length=1, max_length=60)
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    postcodes: tuple[str, ...] = Field((), description="'20100-20199' or '20121'")
    channels: tuple[str, ...] = ()
    product_lines: tuple[str, ...] = ()
    team: str = ""
    user: str = ""
    users: tuple[str, ...] = ()

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for country in value:
            if not re.fullmatch(r"[A-Za-z]{2}", country):
                raise ValueError(f"country {country!r}: use the two-letter ISO code, e.g. 'IT'")
        return tuple(country.upper() for country in value)

    @field_validator("postcodes")
    @classmethod
    def _postcodes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_postcode_range(text)
        return value

    @model_validator(mode="after")
    def _has_a_target(self) -> Self:
        if bool(self.team) == bool(self.user):
            raise ValueError(
                f"rule {self.name!r}: give either team (round robin) or user, not both or none"
            )
        if self.users and not self.team:
            raise ValueError(f"rule {self.name!r}: users narrows a team's rotation; give team")
        return self

    @property
    def postcode_ranges(self) -> tuple[PostcodeRange, ...]:
        return tuple(parse_postcode_range(text) for text in self.postcodes)


class ScoreRule(Strict):
    """One row of ``[[leads.scoring]]``: ``points`` when the lead's ``field`` is filled
    (no ``values``) or is one of ``values``; ``field = "touches"`` gives points per
    campaign touch contributed by other plugins, up to ``max_points``."""

    field: str
    values: tuple[str, ...] = ()
    points: int = Field(ge=-100, le=100)
    max_points: int | None = Field(None, ge=0, le=1000)


SCORABLE_FIELDS = (
    "email",
    "phone",
    "company",
    "job_title",
    "website",
    "country",
    "channel",
    "product_line",
    "touches",
)


class WebSite(Strict):
    """One ``[leads.web_forms.KEY]``: a site allowed to post leads to
    ``/leads/web/KEY``. Leads arrive on ``channel`` with the site's ``product_line``."""

    title: str = Field(min_length=1)
    channel: str = "web_form"
    product_line: str = ""
    redirect: str = Field("", description="Where a browser goes after the form (a full URL).")
    auto_reply: bool = True

    @field_validator("redirect")
    @classmethod
    def _redirect(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r}: give a full address, e.g. 'https://example.com/thanks'")
        return value


def _default_scoring() -> tuple[ScoreRule, ...]:
    return (
        ScoreRule(field="email", points=10),
        ScoreRule(field="phone", points=10),
        ScoreRule(field="company", points=15),
        ScoreRule(field="job_title", points=5),
        ScoreRule(field="channel", values=("trade_fair", "partner", "visit"), points=20),
        ScoreRule(field="channel", values=("web_form", "landing_page", "phone"), points=10),
        ScoreRule(field="touches", points=5, max_points=30),
    )


class LeadsSettings(PluginSettings):
    """``[leads]`` in accord.toml (``ACCORD_LEADS__*`` in the environment)."""

    channels: tuple[str, ...] = Field(
        ONLINE_CHANNELS + OFFLINE_CHANNELS, description="Source channels a lead may come from."
    )
    product_lines: tuple[str, ...] = Field(
        (), description="Business lines or products a lead may be interested in; empty: any."
    )
    disqualify_reasons: tuple[str, ...] = Field(
        (
            "no budget",
            "no need",
            "bought from a competitor",
            "not the decision maker",
            "unreachable",
            "spam",
        ),
        description="Why a lead is not interested; disqualifying needs one of these.",
    )
    lost_reasons: tuple[str, ...] = Field(
        ("price", "competitor", "timing", "no decision", "product fit"),
        description="Why an opportunity was lost.",
    )
    qualifying_roles: tuple[str, ...] = Field(
        ("telemarketer", "back_office", "sales_manager"),
        description="Roles that qualify or disqualify leads (checked against the roles).",
    )
    default_country: str = Field(
        "IT", description="Country for phone numbers written without +prefix (ISO code)."
    )
    assignment: tuple[AssignmentRule, ...] = Field(
        (), description="Ordered rules giving new leads an owner; the first match wins."
    )
    scoring: tuple[ScoreRule, ...] = Field(default_factory=_default_scoring)
    stage_probabilities: dict[str, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=lambda: {"qualification": 20, "proposal": 50, "negotiation": 75},
        description="Default win probability (%) of an open opportunity per stage.",
    )
    web_forms: dict[str, WebSite] = Field(
        default_factory=dict, description="Sites that may post leads, by their site key."
    )
    web_rate_limit: str = Field(
        "5/minute", description="Posts per client address and site key (limits syntax)."
    )

    @field_validator("channels", "disqualify_reasons", "lost_reasons", "qualifying_roles")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must hold at least one entry")
        return value

    @field_validator("channels", "product_lines")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not NAME.match(name):
                raise ValueError(
                    f"{name!r}: use lowercase letters, digits and '_' (e.g. 'trade_fair')"
                )
        return value

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("use the two-letter ISO code, e.g. 'IT'")
        return value.upper()

    @field_validator("web_forms")
    @classmethod
    def _site_keys(cls, value: dict[str, WebSite]) -> dict[str, WebSite]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z0-9_-]{4,64}", key):
                raise ValueError(f"site key {key!r}: 4-64 letters, digits, '-' or '_'")
        return value

    @field_validator("stage_probabilities")
    @classmethod
    def _stages(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(OPEN_STAGES))
        if unknown:
            raise ValueError(
                f"unknown stage {unknown[0]!r}; the open stages are {', '.join(OPEN_STAGES)}"
            )
        return value

    @field_validator("web_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError("write a rate such as '5/minute' or '100/hour'") from None
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        channels = set(self.channels)
        lines = set(self.product_lines)
        for number, rule in enumerate(self.assignment, start=1):
            for channel in rule.channels:
                if channel not in channels:
                    raise ValueError(
                        f"assignment rule #{number} {rule.name!r}: unknown channel "
                        f"{channel!r}; known: {', '.join(self.channels)}"
                    )
            for line in rule.product_lines:
                if lines and line not in lines:
                    raise ValueError(
                        f"assignment rule #{number} {rule.name!r}: unknown product line "
                        f"{line!r}; known: {', '.join(self.product_lines)}"
                    )
        names = [rule.name for rule in self.assignment]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"assignment rule name {name!r} is used twice")
        for number, score in enumerate(self.scoring, start=1):
            if score.field not in SCORABLE_FIELDS:
                raise ValueError(
                    f"scoring rule #{number}: unknown field {score.field!r}; "
                    f"known: {', '.join(SCORABLE_FIELDS)}"
                )
        for key, site in self.web_forms.items():
            if site.channel not in channels:
                raise ValueError(
                    f"web_forms {key!r}: unknown channel {site.channel!r}; "
                    f"known: {', '.join(self.channels)}"
                )
        return self

    def stage_probability(self, stage: str) -> int:
        if stage == "won":
            return 100
        return self.stage_probabilities.get(stage, 0)
