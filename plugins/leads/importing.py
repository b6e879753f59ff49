"""Importing leads from a file (``accord leads import FILE``, and the web app's upload page):
the kernel's import framework with the leads service's rules, normalise, dedupe, assign,
applied a batch at a time instead of a lead at a time, with the outcome ``create_lead``
gives lead by lead.

``create_lead`` does one lead in about a dozen statements (its duplicates, its rule's
round-robin pointer, its flush, its activity, its event). A file of 100,000 leads needs
the same rules in a few statements per batch, so for each batch this module:

- checks every row as ``LeadData`` and ``[leads]`` channels and product lines do;
- reads the open leads sharing an e-mail, phone or company-and-name key with any row of
  the batch, one indexed query per kind of key (through the user's session: a user
  dedupes against the leads they may see, as ``find_duplicates`` does);
- walks the rows in order, each either a duplicate of one of those leads or of a lead an
  earlier row creates (the best match as ``find_duplicates`` orders them), merged into it
  in memory as ``create_lead`` would (blank fields filled, notes added, keys updated so
  that later rows match them), or a new lead, assigned by the ``[[leads.assignment]]``
  rules in memory (each round-robin pointer read once and written where it stopped);
- inserts the new leads as they were created, their first activity and their
  ``leads.lead_created`` events with one statement each, the audit entries included
  (``accord.api.insert_records``);
- writes the merges: the leads merged into take their new values in one flush (audited
  and checked as any change), then their activities and ``leads.lead_resubmitted``
  events go in with one statement each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from accord.api import (
    Importer,
    ImportField,
    ImportRow,
    Refused,
    Written,
    emit_many,
    import_parsers,
    insert_records,
    principal_of,
    utcnow,
)

from . import normalise
from .assignment import BatchAssigner
from .models import Lead, LeadActivity
from .normalise import phone_key
from .scoring import recompute_score, score_of
from .service import (
    LeadData,
    LeadInputError,
    check_choices,
    fill_in,
    payload,
    resubmitted_body,
    resubmitted_subject,
)
from .settings import LeadsSettings
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
_LEAD_FIELDS = frozenset(LEAD_FIELDS)


# --- the batch ------------------------------------------------------------------------------

# The kinds of duplicate key, in the order ``find_duplicates`` names them as reasons.
KEYS = (("email", "email_key"), ("phone", "phone_key"), ("name", "name_key"))
_KEYS_PER_QUERY = 500
# ``find_duplicates`` weighs the first 20 matches by id.
_MATCHES = 20


class _Probe:
    """A lead's fields as plain attributes: what the assignment rules, the scoring rules
    and a merge read and write, without building an ORM object per row."""

    id: int | None = None  # a new lead's, once inserted
    owner_id: int | None
    team_id: int | None
    state: str
    version: int
    score: int

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@dataclass
class _New:
    """A lead the batch creates: its values as created, and as later rows merge into it."""

    position: int
    values: dict[str, Any]
    current: _Probe
    id: int | None = None


@dataclass
class _Candidate:
    """A lead a row may duplicate: an open lead of the database, or one the batch
    creates (``new``). ``order`` sorts them as their ids do: the batch's come last."""

    order: tuple[int, int]
    lead: Any
    new: _New | None = None
    number: int = -1  # its place among the batch's candidates


@dataclass
class _Merge:
    """A row merged into a lead: what it filled in, and its event as of then."""

    position: int
    into: _Candidate
    data: LeadData
    reasons: tuple[str, ...]
    filled: list[str]
    event: dict[str, Any]


@dataclass
class _Batch:
    """The rows of one batch walked in order: new leads, and merges into earlier ones."""

    settings: LeadsSettings
    assigner: BatchAssigner
    candidates: list[_Candidate] = field(default_factory=list)
    index: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    new: list[_New] = field(default_factory=list)
    merges: list[_Merge] = field(default_factory=list)

    def know(self, candidate: _Candidate) -> None:
        number = candidate.number = len(self.candidates)
        self.candidates.append(candidate)
        for _, column in KEYS:
            value = getattr(candidate.lead, column)
            if value:
                self.index.setdefault(column, {}).setdefault(value, set()).add(number)

    def add(self, position: int, data: LeadData, keys: dict[str, str]) -> None:
        """The row at ``position``: a duplicate merged into its best match, or a new lead."""
        best = self._best_match(keys)
        if best is None:
            self._create(position, data, keys)
        else:
            self._merge(position, data, keys, best)

    def _best_match(self, keys: dict[str, str]) -> tuple[_Candidate, tuple[str, ...]] | None:
        numbers: set[int] = set()
        for _, column in KEYS:
            if keys[column]:
                numbers |= self.index.get(column, {}).get(keys[column], set())
        if not numbers:
            return None
        found = sorted((self.candidates[number] for number in numbers), key=_order)[:_MATCHES]
        weighed = [
            (
                candidate,
                tuple(
                    name
                    for name, column in KEYS
                    if keys[column] and getattr(candidate.lead, column) == keys[column]
                ),
            )
            for candidate in found
        ]
        return min(weighed, key=lambda pair: (-len(pair[1]), pair[0].order))

    def _create(self, position: int, data: LeadData, keys: dict[str, str]) -> None:
        values = data.model_dump()
        values.update(keys)
        values["touches"] = 0
        lead = _Probe(values)  # one copy: the lead as later rows merge into it
        lead.owner_id, lead.team_id = self.assigner.choose(lead)
        lead.state, lead.version = "new", 1
        lead.score = score_of(self.settings, cast(Lead, lead))
        new = _New(position, dict(lead.__dict__), lead)
        self.new.append(new)
        self.know(_Candidate((1, len(self.new)), lead, new))

    def _merge(
        self,
        position: int,
        data: LeadData,
        keys: dict[str, str],
        best: tuple[_Candidate, tuple[str, ...]],
    ) -> None:
        candidate, reasons = best
        lead = candidate.lead
        filled = fill_in(lead, data)
        number = candidate.number
        for _, column in KEYS:
            self.index.get(column, {}).get(getattr(lead, column), set()).discard(number)
        for column, value in lead_keys(self.settings, lead).items():
            if getattr(lead, column) != value:
                setattr(lead, column, value)
            if value:
                self.index.setdefault(column, {}).setdefault(value, set()).add(number)
        event = {**payload(lead), "via": data.channel}
        self.merges.append(_Merge(position, candidate, data, reasons, filled, event))


def _order(candidate: _Candidate) -> tuple[int, int]:
    return candidate.order


def lead_keys(settings: LeadsSettings, lead: Any) -> dict[str, str]:
    """The duplicate keys of anything with a lead's fields (a ``LeadData``, a lead)."""
    return {
        "email_key": normalise.email_key(lead.email),
        "phone_key": phone_key(lead.phone, lead.country or settings.default_country),
        "name_key": normalise.name_key(lead.company, lead.first_name, lead.last_name),
    }


def write_leads(session: Session, rows: Sequence[ImportRow]) -> list[Written | Refused]:
    """The importer's write function: one outcome per row, in order (see the module)."""
    settings = leads_settings(session)
    outcomes: list[Written | Refused | None] = [None] * len(rows)
    parsed: list[tuple[int, LeadData, dict[str, str]]] = []
    for position, row in enumerate(rows):
        values = {
            name: value for name, value in row.values.items() if value and name in _LEAD_FIELDS
        }
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
        parsed.append((position, data, lead_keys(settings, data)))
    batch = _Batch(settings, BatchAssigner(session, settings.assignment))
    for lead in _open_leads_sharing_keys(session, [keys for *_, keys in parsed]):
        batch.know(_Candidate((0, lead.id), lead))
    for position, data, keys in parsed:
        batch.add(position, data, keys)
    batch.assigner.save()
    _insert(session, batch.new, outcomes)
    _write_merges(session, batch.merges, outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


def _open_leads_sharing_keys(session: Session, keys: Sequence[dict[str, str]]) -> list[Lead]:
    """The open leads the user may see that hold one of the e-mail, phone or name keys of
    ``keys``, oldest first: one indexed lookup per kind of key and chunk of values."""
    found: dict[int, Lead] = {}
    for _, column in KEYS:
        values = sorted({row[column] for row in keys if row[column]})
        # One statement with the list as one parameter, not one bound parameter object per
        # key to build and hash into the statement cache's key at every query.
        query = select(Lead).where(getattr(Lead, column).in_(bindparam("keys", expanding=True)))
        for start in range(0, len(values), _KEYS_PER_QUERY):
            chunk = values[start : start + _KEYS_PER_QUERY]
            for lead in session.scalars(query, {"keys": chunk}):
                if lead.state in OPEN_LEAD_STATES:
                    found[lead.id] = lead
    return [found[number] for number in sorted(found)]


def _insert(
    session: Session, new: Sequence[_New], outcomes: list[Written | Refused | None]
) -> None:
    if not new:
        return
    ids = insert_records(session, Lead, [item.values for item in new])
    for item, lead_id in zip(new, ids, strict=True):
        item.id = item.current.id = lead_id
        outcomes[item.position] = Written("created", lead_id)
    principal = principal_of(session)
    user_id = principal.user_id if principal is not None else None
    now = utcnow()
    insert_records(
        session,
        LeadActivity,
        [
            {
                "lead_id": item.id,
                "kind": "note",
                "subject": f"Lead created from {item.values['channel'].replace('_', ' ')}",
                "body": "",
                "user_id": user_id,
                "occurred_at": now,
            }
            for item in new
        ],
    )
    emit_many(session, "leads.lead_created", [_created_payload(item) for item in new])


def _created_payload(item: _New) -> dict[str, Any]:
    """The event's data about the lead as it was created (later rows may merge into it)."""
    lead = _Probe(item.values)
    lead.id = item.id
    return payload(lead)


def _write_merges(
    session: Session, merges: Sequence[_Merge], outcomes: list[Written | Refused | None]
) -> None:
    """The merged-into leads take their new values, as ORM changes (audited, and checked
    against the user's right to change them); then the merges' activities and events."""
    if not merges:
        return
    created: dict[int, _New] = {}
    for merge in merges:
        if merge.into.new is not None and merge.into.new.id is not None:
            created[merge.into.new.id] = merge.into.new
    leads: dict[int, Lead] = {}
    ids = sorted(created)
    for start in range(0, len(ids), _KEYS_PER_QUERY):
        query = select(Lead).where(Lead.id.in_(ids[start : start + _KEYS_PER_QUERY]))
        for lead in session.scalars(query):
            current = created[lead.id].current
            for name in (*LEAD_FIELDS, "email_key", "phone_key", "name_key"):
                if getattr(lead, name) != getattr(current, name):
                    setattr(lead, name, getattr(current, name))
            leads[lead.id] = lead
    for merge in merges:
        if merge.into.new is None:
            leads[merge.into.lead.id] = merge.into.lead
    for lead in leads.values():
        recompute_score(session, lead)
    session.flush()
    principal = principal_of(session)
    user_id = principal.user_id if principal is not None else None
    now = utcnow()
    activities = []
    events = []
    for merge in merges:
        lead_id = merge.into.lead.id
        activities.append(
            {
                "lead_id": lead_id,
                "kind": "note",
                "subject": resubmitted_subject(merge.data)[:200],
                "body": resubmitted_body(merge.data, merge.filled),
                "user_id": user_id,
                "occurred_at": now,
            }
        )
        events.append({**merge.event, "lead_id": lead_id})
        why = " and ".join(merge.reasons)
        outcomes[merge.position] = Written("merged", lead_id, f"same {why} as lead #{lead_id}")
    insert_records(session, LeadActivity, activities)
    emit_many(session, "leads.lead_resubmitted", events)


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
    for name, value in lead_keys(settings, data).items():
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

__all__ = ["IMPORTER", "LEAD_IMPORTER", "lead_keys", "phone_key", "write_leads"]
