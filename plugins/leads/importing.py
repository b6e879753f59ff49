"""Importing leads from a file (``accord leads import FILE``, and the web app's upload page):
the kernel's import framework with the leads service's rules, normalise, dedupe, assign,
applied a batch at a time instead of a lead at a time.

``create_lead`` does one lead in about a dozen statements (its duplicates, its rule's
round-robin pointer, its flush, its activity, its event). A file of 100,000 leads needs
the same rules in a few statements per batch, so for each batch this module:

- checks every row as ``LeadData`` and ``[leads]`` channels and product lines do;
- reads the open leads sharing an e-mail, phone or company-and-name key with any row of
  the batch in one query (through the user's session: a user dedupes against the leads
  they may see, as ``find_duplicates`` does), and keeps the keys of the rows it creates,
  so a duplicate inside the file is caught too;
- hands each duplicate to ``create_lead`` itself, which merges it into the open lead
  exactly as a form posted twice would be;
- assigns the new leads with the ``[[leads.assignment]]`` rules in memory, reading each
  round-robin pointer once and writing where it stopped once;
- inserts the new leads, their first activity and their ``leads.lead_created`` events
  with one statement each, the audit entries included (``accord.api.insert_records``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import phonenumbers
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accord.api import (
    Importer,
    ImportField,
    ImportRow,
    Refused,
    Team,
    User,
    Written,
    emit_many,
    import_parsers,
    insert_records,
    principal_of,
    utcnow,
)

from . import normalise
from .assignment import AssignmentError, matches
from .models import AssignmentPointer, Lead, LeadActivity
from .scoring import score_of
from .service import LeadData, LeadInputError, check_choices, create_lead
from .settings import AssignmentRule, LeadsSettings
from .workflows import OPEN_LEAD_STATES, leads_settings

IMPORTER = "leads.leads"


def _email(cell: str) -> str:
    if not normalise.is_email(cell):
        raise ValueError(f"{cell!r} is not an e-mail address")
    return cell


def _country(cell: str) -> str:
    if len(cell) != 2 or not cell.isalpha():
        raise ValueError(f"{cell!r}: use the two-letter ISO code, e.g. 'IT'")
    return cell.upper()


def _lowercase_name(cell: str) -> str:
    return cell.strip().lower().replace(" ", "_").replace("-", "_")


FIELDS = (
    ImportField(
        "ref",
        "External id",
        aliases=("id", "lead id", "ref", "reference", "external ref", "crm id"),
        parse=import_parsers.text(200),
        help="The lead's id in the file's system: importing the file again changes nothing.",
    ),
    ImportField(
        "first_name",
        "First name",
        aliases=("firstname", "given name", "forename", "vorname", "nome", "prénom", "prenom"),
        parse=import_parsers.text(80),
    ),
    ImportField(
        "last_name",
        "Last name",
        aliases=("lastname", "surname", "family name", "nachname", "cognome", "nom"),
        parse=import_parsers.text(80),
    ),
    ImportField(
        "company",
        "Company",
        aliases=("company name", "organisation", "organization", "firm", "firma", "azienda"),
        parse=import_parsers.text(200),
    ),
    ImportField(
        "job_title", "Job title", aliases=("title", "position"), parse=import_parsers.text(120)
    ),
    ImportField(
        "email", "E-mail", aliases=("email address", "e-mail address", "mail"), parse=_email
    ),
    ImportField(
        "phone",
        "Phone",
        aliases=("telephone", "tel", "phone number", "mobile", "telefono"),
        parse=import_parsers.text(40),
    ),
    ImportField(
        "website", "Website", aliases=("web", "url", "site"), parse=import_parsers.text(200)
    ),
    ImportField("street", "Street", aliases=("address",), parse=import_parsers.text(200)),
    ImportField(
        "city", "City", aliases=("town", "citta", "città", "ort"), parse=import_parsers.text(100)
    ),
    ImportField(
        "postcode",
        "Postcode",
        aliases=("zip", "zip code", "postal code", "post code", "cap", "plz"),
        parse=import_parsers.text(20),
    ),
    ImportField("region", "Region", aliases=("province", "state"), parse=import_parsers.text(100)),
    ImportField("country", "Country", aliases=("country code",), parse=_country),
    ImportField(
        "channel",
        "Channel",
        required=True,
        aliases=("source", "lead source", "origin"),
        parse=_lowercase_name,
        help="Where the lead came from: one of [leads] channels (trade_fair, web_form...).",
    ),
    ImportField(
        "product_line",
        "Product line",
        aliases=("product", "interest", "interested in"),
        parse=_lowercase_name,
    ),
    ImportField(
        "notes", "Notes", aliases=("note", "comment", "comments"), parse=import_parsers.text(10_000)
    ),
)
LEAD_FIELDS = tuple(item.name for item in FIELDS if item.name != "ref")


# --- normalising phone numbers quickly ------------------------------------------------------

_INTERNATIONAL = re.compile(r"^\+[0-9][0-9 ./-]*$")


@lru_cache(maxsize=4096)
def _possible(country_code: int, length: int) -> bool:
    """Whether a number of this country code and national significant number length is
    possible: libphonenumber decides by the length alone."""
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int("5" * length))
    return bool(phonenumbers.is_possible_number(number))


@lru_cache(maxsize=512)
def _national_prefix(country_code: int) -> str | None:
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    return metadata.national_prefix_for_parsing or metadata.national_prefix or ""


def phone_key(phone: str, country: str) -> str:
    """``normalise.phone_key``, a hundred times faster for a number written in the
    international format (``+39 02 1234 5678``), the way CRM exports write them: parsing
    with libphonenumber costs about 0.1 ms a number, a tenth of a second per thousand
    rows. Anything else, and any number whose digits after the country code could start
    with a national prefix, goes through ``normalise.phone_key`` itself."""
    text = phone.strip()
    if _INTERNATIONAL.match(text):
        digits = re.sub(r"\D", "", text)
        for length in (1, 2, 3):
            code = int(digits[:length])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                significant = digits[length:]
                prefix = _national_prefix(code)
                if prefix is None or not significant or len(significant) > 17:
                    break
                if prefix and re.match(prefix, significant):
                    break
                if not significant.startswith("0") or code == 39:
                    return f"+{code}{significant}" if _possible(code, len(significant)) else ""
                break
    return normalise.phone_key(phone, country)


# --- the batch ------------------------------------------------------------------------------


class _Probe:
    """A lead's fields as plain attributes: what the assignment rules and the scoring rules
    read, without building an ORM object per row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@dataclass
class _Rotation:
    """Round robin of one team rule within a batch: the members, and who got the last lead."""

    members: list[int]
    last: int | None
    team_id: int
    moved: bool = False

    def next(self) -> int:
        after = self.last
        chosen = next((member for member in self.members if after is None or member > after), None)
        self.last = chosen if chosen is not None else self.members[0]
        self.moved = True
        return self.last


@dataclass
class _Assigner:
    """``[[leads.assignment]]`` applied in memory: the first rule that matches names a user
    or a team whose active members take turns, as ``assignment.choose`` does."""

    session: Session
    rules: Sequence[AssignmentRule]
    users: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    teams: dict[str, _Rotation | int] = field(default_factory=dict)

    def choose(self, lead: Any) -> tuple[int | None, int | None]:
        for number, rule in enumerate(self.rules, start=1):
            if matches(rule, cast(Lead, lead)):
                return self._apply(number, rule)
        return None, None

    def _apply(self, number: int, rule: AssignmentRule) -> tuple[int | None, int | None]:
        where = f"[leads] assignment rule #{number} {rule.name!r}"
        if rule.user:
            if rule.user not in self.users:
                found = self.session.execute(
                    select(User.id, User.team_id).where(
                        User.login == rule.user, User.active.is_(True)
                    )
                ).first()
                if found is None:
                    raise AssignmentError(
                        f"{where} user: no active user {rule.user!r}; fix the rule in accord.toml"
                    )
                self.users[rule.user] = (found[0], found[1])
            return self.users[rule.user]
        if rule.name not in self.teams:
            self.teams[rule.name] = self._rotation(where, rule)
        rotation = self.teams[rule.name]
        if isinstance(rotation, int):
            return None, rotation  # nobody to rotate among: the team owns the lead
        return rotation.next(), rotation.team_id

    def _rotation(self, where: str, rule: AssignmentRule) -> _Rotation | int:
        team_id = self.session.scalar(select(Team.id).where(Team.name == rule.team))
        if team_id is None:
            raise AssignmentError(
                f"{where} team: no team named {rule.team!r}; fix the rule in accord.toml"
            )
        query = select(User.id).where(User.team_id == team_id, User.active.is_(True))
        if rule.users:
            query = query.where(User.login.in_(rule.users))
        members = list(self.session.scalars(query.order_by(User.id)))
        if not members:
            return int(team_id)
        pointer = self._pointer(rule.name)
        return _Rotation(members, pointer.last_user_id, int(team_id))

    def _pointer(self, rule: str) -> AssignmentPointer:
        query = select(AssignmentPointer).where(AssignmentPointer.rule == rule)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        pointer = self.session.scalar(query)
        if pointer is None:
            pointer = AssignmentPointer(rule=rule, last_user_id=None)
            self.session.add(pointer)
        return pointer

    def save(self) -> None:
        """Write where each rotation stopped, for the next lead of any kind."""
        for name, rotation in self.teams.items():
            if isinstance(rotation, _Rotation) and rotation.moved:
                self._pointer(name).last_user_id = rotation.last
        self.session.flush()


@dataclass
class _New:
    position: int
    values: dict[str, Any]


def write_leads(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    """The importer's write function: one outcome per row, in order (see the module)."""
    settings = leads_settings(session)
    outcomes: list[Written | Refused | None] = [None] * len(rows)
    parsed: list[tuple[int, ImportRow, LeadData, dict[str, str]]] = []
    for position, row in enumerate(rows):
        values = {name: row.values[name] for name in LEAD_FIELDS if row.values.get(name)}
        try:
            data = LeadData.parse(values)
            check_choices(settings, data)
        except LeadInputError as error:
            known = error.field if error.field in LEAD_FIELDS else None
            outcomes[position] = Refused(error.reason, known)
            continue
        if row.record_id is not None:
            outcomes[position] = _update(session, settings, row, data)
            continue
        parsed.append((position, row, data, _keys(settings, data)))
    existing = _open_leads_sharing_keys(session, [keys for *_, keys in parsed])
    assigner = _Assigner(session, settings.assignment)
    new: list[_New] = []
    duplicates: list[tuple[int, LeadData]] = []
    batch_keys: set[str] = set()
    for position, _row, data, keys in parsed:
        found = [value for value in keys.values() if value]
        if any(value in existing or value in batch_keys for value in found):
            duplicates.append((position, data))
            continue
        batch_keys.update(found)
        values = {**data.model_dump(), **keys, "touches": 0}
        probe = _Probe(values)
        owner_id, team_id = assigner.choose(probe)
        values.update(owner_id=owner_id, team_id=team_id)
        values.update(state="new", version=1, score=score_of(settings, cast(Lead, _Probe(values))))
        new.append(_New(position, values))
    assigner.save()
    _insert(session, new, outcomes)
    for position, data in duplicates:
        result = create_lead(session, data)
        lead = result.lead
        why = ", ".join(result.duplicates[0].reasons) if result.duplicates else "a duplicate"
        outcomes[position] = (
            Written("created", lead.id)
            if result.created
            else Written("merged", lead.id, f"same {why.replace(',', ' and')} as lead #{lead.id}")
        )
    return [outcome for outcome in outcomes if outcome is not None]


def _keys(settings: LeadsSettings, data: LeadData) -> dict[str, str]:
    return {
        "email_key": normalise.email_key(data.email),
        "phone_key": phone_key(data.phone, data.country or settings.default_country),
        "name_key": normalise.name_key(data.company, data.first_name, data.last_name),
    }


def _open_leads_sharing_keys(session: Session, keys: Sequence[dict[str, str]]) -> set[str]:
    """The e-mail, phone and name keys that open leads the user may see already hold."""
    wanted = {
        column: sorted({row[column] for row in keys if row[column]})
        for column in ("email_key", "phone_key", "name_key")
    }
    conditions = [getattr(Lead, column).in_(values) for column, values in wanted.items() if values]
    if not conditions:
        return set()
    query = select(Lead.email_key, Lead.phone_key, Lead.name_key).where(
        or_(*conditions), Lead.state.in_(OPEN_LEAD_STATES)
    )
    held: set[str] = set()
    for email, phone, name in session.execute(query):
        held.update(value for value in (email, phone, name) if value)
    # A key shared only by the other kinds of key matches nothing: keep the wanted ones.
    return held & {value for values in wanted.values() for value in values}


def _insert(
    session: Session, new: Sequence[_New], outcomes: list[Written | Refused | None]
) -> None:
    if not new:
        return
    ids = insert_records(session, Lead, [item.values for item in new])
    principal = principal_of(session)
    user_id = principal.user_id if principal is not None else None
    now = utcnow()
    insert_records(
        session,
        LeadActivity,
        [
            {
                "lead_id": lead_id,
                "kind": "note",
                "subject": f"Lead created from {item.values['channel'].replace('_', ' ')}",
                "body": "",
                "user_id": user_id,
                "occurred_at": now,
            }
            for item, lead_id in zip(new, ids, strict=True)
        ],
    )
    emit_many(
        session,
        "leads.lead_created",
        [
            {
                "lead_id": lead_id,
                "channel": item.values["channel"],
                "product_line": item.values["product_line"],
                "owner_id": item.values["owner_id"],
                "team_id": item.values["team_id"],
                "email": item.values["email_key"],
            }
            for item, lead_id in zip(new, ids, strict=True)
        ],
    )
    for item, lead_id in zip(new, ids, strict=True):
        outcomes[item.position] = Written("created", lead_id)


def _update(
    session: Session, settings: LeadsSettings, row: ImportRow, data: LeadData
) -> Written | Refused:
    """A row imported before, brought again with other cells: its lead takes them."""
    assert row.record_id is not None
    lead = session.get(Lead, int(row.record_id))
    if lead is None:
        return Refused(
            f"lead #{row.record_id}, imported from this external id before, is gone or "
            "not yours to change"
        )
    given = data.model_dump()
    for name in LEAD_FIELDS:
        if name in row.values and getattr(lead, name) != given[name]:
            setattr(lead, name, given[name])
    for name, value in _keys(settings, data).items():
        if getattr(lead, name) != value:
            setattr(lead, name, value)
    return Written("merged", lead.id, "updated from the file")


LEAD_IMPORTER = Importer(
    IMPORTER,
    title="Leads",
    model="leads_lead",
    fields=FIELDS,
    write=write_leads,
    external_id="ref",
    summary="Leads from a fair, a purchased list or another CRM: each is normalised, "
    "checked for duplicates and assigned as a lead entered by hand would be.",
)

__all__ = ["IMPORTER", "LEAD_IMPORTER", "phone_key", "write_leads"]
