"""Creating leads, finding their duplicates and assigning them: what a form, the
web-to-lead endpoint and an import all do the same way. Nothing here commits, so an import
creates thousands of leads in one transaction and a failure leaves none behind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select, union
from sqlalchemy.orm import Session

from accord.api import AccordError, emit, principal_of, runtime_of, utcnow

from . import normalise
from .assignment import Assignment, choose
from .models import Lead, LeadActivity
from .scoring import recompute_score
from .settings import LeadsSettings
from .workflows import OPEN_LEAD_STATES, leads_settings


class LeadInputError(AccordError):
    """A lead's data is wrong; ``field`` names the field, the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class LeadData(BaseModel):
    """What a lead is created from (a form, a web post, a row of a file). Text is trimmed;
    ``channel`` must be one of ``[leads] channels``, ``product_line`` one of ``[leads]
    product_lines`` when that list is set."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    first_name: str = Field("", max_length=80)
    last_name: str = Field("", max_length=80)
    company: str = Field("", max_length=200)
    job_title: str = Field("", max_length=120)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    website: str = Field("", max_length=200)
    street: str = Field("", max_length=200)
    city: str = Field("", max_length=100)
    postcode: str = Field("", max_length=20)
    region: str = Field("", max_length=100)
    country: str = Field("", max_length=2)
    channel: str = Field(min_length=1, max_length=40)
    product_line: str = Field("", max_length=60)
    notes: str = Field("", max_length=10_000)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value and not (len(value) == 2 and value.isalpha()):
            raise ValueError("use the two-letter ISO code, e.g. 'IT'")
        return value.upper()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not normalise.is_email(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> LeadData:
        """``values`` checked; the first problem raises ``LeadInputError`` naming its field."""
        try:
            return cls.model_validate(dict(values))
        except ValidationError as error:
            problem = error.errors()[0]
            field = ".".join(str(part) for part in problem["loc"]) or "lead"
            message = str(problem["msg"]).removeprefix("Value error, ")
            if problem["type"] == "extra_forbidden":
                message = "unknown field"
            elif problem["type"] == "missing":
                message = "required"
            raise LeadInputError(field, message) from None


@dataclass(frozen=True)
class Duplicate:
    """A lead that looks like the same person or company, and why."""

    lead: Lead
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class LeadResult:
    """What ``create_lead`` did: ``created`` a new lead, or found an open one it
    ``matched`` (then ``lead`` is that one, with blank fields filled in)."""

    lead: Lead
    created: bool
    duplicates: tuple[Duplicate, ...] = ()
    assignment: Assignment | None = None

    @property
    def matched(self) -> bool:
        return not self.created


def check_choices(settings: LeadsSettings, data: LeadData) -> None:
    if data.channel not in settings.channels:
        raise LeadInputError(
            "channel", f"unknown channel {data.channel!r}; known: {', '.join(settings.channels)}"
        )
    if (
        data.product_line
        and settings.product_lines
        and data.product_line not in settings.product_lines
    ):
        raise LeadInputError(
            "product_line",
            f"unknown product line {data.product_line!r}; "
            f"known: {', '.join(settings.product_lines)}",
        )
    if not (data.first_name or data.last_name or data.company or data.email or data.phone):
        raise LeadInputError("lead", "give at least a name, a company, an e-mail or a phone")


def keys(settings: LeadsSettings, lead: Lead) -> None:
    """Fill the lead's duplicate keys from its fields."""
    lead.email_key = normalise.email_key(lead.email)
    lead.phone_key = normalise.phone_key(lead.phone, lead.country or settings.default_country)
    lead.name_key = normalise.name_key(lead.company, lead.first_name, lead.last_name)


def find_duplicates(
    session: Session, lead: Lead | LeadData, *, open_only: bool = False, limit: int = 20
) -> list[Duplicate]:
    """Leads (not merged away) sharing the normalised e-mail, phone number, or company and
    person's name with ``lead``, best match first; read through ``session``, so a user
    finds only duplicates they may see. ``open_only``: new, contacted or qualified ones."""
    settings = leads_settings(session)
    probe = lead if isinstance(lead, Lead) else Lead(**lead.model_dump())
    if not isinstance(lead, Lead):
        keys(settings, probe)
    wanted = {
        "email": (Lead.email_key, probe.email_key),
        "phone": (Lead.phone_key, probe.phone_key),
        "name": (Lead.name_key, probe.name_key),
    }
    # One indexed lookup per key, united: an OR of the three, next to the state filter,
    # lets SQLite walk the state index instead, every open lead of the table.
    lookups = [select(Lead.id).where(column == value) for column, value in wanted.values() if value]
    if not lookups:
        return []
    query = select(Lead).where(Lead.id.in_(union(*lookups)), Lead.state != "merged")
    if probe.id is not None:
        query = query.where(Lead.id != probe.id)
    if open_only:
        query = query.where(Lead.state.in_(OPEN_LEAD_STATES))
    found = []
    for other in session.scalars(query.order_by(Lead.id).limit(limit)):
        reasons = tuple(
            name
            for name, (_, value) in wanted.items()
            if value and getattr(other, f"{name}_key") == value
        )
        found.append(Duplicate(other, reasons))
    found.sort(key=lambda duplicate: (-len(duplicate.reasons), duplicate.lead.id))
    return found


def assign_lead(session: Session, lead: Lead) -> Assignment | None:
    """Give ``lead`` the owner and team of the first ``[[leads.assignment]]`` rule that
    matches it (round robin within a team); returns what was chosen, or None when no rule
    matches (the lead keeps its owner). Writes nothing but the lead and the rule's
    round-robin pointer; nothing is committed."""
    assignment = choose(session, leads_settings(session), lead)
    if assignment is not None:
        lead.owner_id = assignment.owner_id
        lead.team_id = assignment.team_id
    return assignment


def log_lead_activity(
    session: Session, lead: Lead, subject: str, *, body: str = "", kind: str = "note"
) -> LeadActivity:
    principal = principal_of(session)
    activity = LeadActivity(
        lead_id=lead.id,
        kind=kind,
        subject=subject[:200],
        body=body,
        user_id=principal.user_id if principal is not None else None,
        occurred_at=utcnow(),
    )
    session.add(activity)
    return activity


def create_lead(
    session: Session,
    data: LeadData | Mapping[str, Any],
    *,
    owner_id: int | None = None,
    team_id: int | None = None,
    assign: bool = True,
    dedupe: bool = True,
) -> LeadResult:
    """Normalise, dedupe, assign and add one lead in the caller's transaction (flushed, not
    committed). With ``dedupe``, an open lead with the same e-mail, phone, or company and
    name is *matched* instead: its blank fields are filled from ``data``, the new contact
    is noted on it, and it is returned with ``created=False``. A new lead gets ``owner_id``
    (and ``team_id``) when given, else the assignment rules' choice when ``assign``.
    Bad data raises ``LeadInputError`` naming the field, before anything is written.
    Emits ``leads.lead_created`` (or ``leads.lead_resubmitted``)."""
    settings = leads_settings(session)
    parsed = data if isinstance(data, LeadData) else LeadData.parse(data)
    check_choices(settings, parsed)
    lead = Lead(**parsed.model_dump())
    keys(settings, lead)
    duplicates: tuple[Duplicate, ...] = ()
    if dedupe:
        duplicates = tuple(find_duplicates(session, lead, open_only=True))
        if duplicates:
            return _matched(session, duplicates, parsed)
    assignment = None
    if owner_id is not None or team_id is not None:
        lead.owner_id, lead.team_id = owner_id, team_id
        if owner_id is not None and team_id is None:
            lead.team_id = _team_of(session, owner_id)
    elif assign:
        assignment = choose(session, settings, lead)
        if assignment is not None:
            lead.owner_id, lead.team_id = assignment.owner_id, assignment.team_id
    runtime_of(session).workflows.start(session, lead)
    session.flush()
    recompute_score(session, lead)
    log_lead_activity(session, lead, f"Lead created from {lead.channel.replace('_', ' ')}")
    emit(session, "leads.lead_created", payload(lead))
    return LeadResult(lead, True, duplicates, assignment)


def _team_of(session: Session, user_id: int) -> int | None:
    from accord.api import User

    return session.scalar(select(User.team_id).where(User.id == user_id))


def _matched(session: Session, duplicates: Sequence[Duplicate], data: LeadData) -> LeadResult:
    lead = duplicates[0].lead
    filled = fill_in(lead, data)
    keys(leads_settings(session), lead)
    recompute_score(session, lead)
    log_lead_activity(session, lead, resubmitted_subject(data), body=resubmitted_body(data, filled))
    session.flush()
    emit(session, "leads.lead_resubmitted", {**payload(lead), "via": data.channel})
    return LeadResult(lead, False, tuple(duplicates))


def fill_in(lead: Any, data: LeadData) -> list[str]:
    """Give the open ``lead`` the values of ``data`` where its own are blank, and add
    ``data``'s notes to its own; the fields filled in."""
    filled = []
    for field, value in data.model_dump().items():
        if field in ("channel", "notes") or not value:
            continue
        if not getattr(lead, field):
            setattr(lead, field, value)
            filled.append(field)
    if data.notes:
        lead.notes = f"{lead.notes}\n\n{data.notes}".strip()
    return filled


def resubmitted_subject(data: LeadData) -> str:
    return f"Got in touch again via {data.channel.replace('_', ' ')}"


def resubmitted_body(data: LeadData, filled: Sequence[str]) -> str:
    body = f"Filled in: {', '.join(filled)}." if filled else ""
    if data.notes:
        body = f"{body}\n{data.notes}".strip()
    return body


def payload(lead: Any) -> dict[str, Any]:
    """The ``leads.lead_created`` (and ``lead_resubmitted``) event's data about ``lead``."""
    return {
        "lead_id": lead.id,
        "channel": lead.channel,
        "product_line": lead.product_line,
        "owner_id": lead.owner_id,
        "team_id": lead.team_id,
        "email": lead.email_key,
    }
