"""Who gets a new lead: the first ``[[leads.assignment]]`` rule whose criteria all match
(country, region, postcode range, channel, product line) names a user, or a team whose
active users take turns (round robin)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.api import AccordError, Team, User

from .models import AssignmentPointer, Lead
from .settings import AssignmentRule, LeadsSettings, PostcodeRange, parse_postcode_range


class AssignmentError(AccordError):
    """A rule names a team or a user the database does not hold."""


@dataclass(frozen=True)
class Assignment:
    rule: str
    owner_id: int | None
    team_id: int | None


def matches(rule: AssignmentRule, lead: Lead) -> bool:
    if rule.countries and lead.country.upper() not in rule.countries:
        return False
    if rule.regions and lead.region.casefold() not in _folded(rule.regions):
        return False
    if rule.postcodes and not any(
        span.contains(lead.postcode) for span in _postcode_ranges(rule.postcodes)
    ):
        return False
    if rule.channels and lead.channel not in rule.channels:
        return False
    return not (rule.product_lines and lead.product_line not in rule.product_lines)


@lru_cache(maxsize=256)
def _folded(regions: tuple[str, ...]) -> frozenset[str]:
    return frozenset(region.casefold() for region in regions)


@lru_cache(maxsize=256)
def _postcode_ranges(postcodes: tuple[str, ...]) -> tuple[PostcodeRange, ...]:
    # A rule's ranges parsed once, not once per lead.
    return tuple(parse_postcode_range(text) for text in postcodes)


def choose(session: Session, settings: LeadsSettings, lead: Lead) -> Assignment | None:
    """The owner and team the rules give ``lead``, or None when no rule matches. Moves the
    round-robin pointer of the rule that matched, in the caller's transaction."""
    for number, rule in enumerate(settings.assignment, start=1):
        if matches(rule, lead):
            return _apply(session, number, rule)
    return None


def _where(number: int, rule: AssignmentRule) -> str:
    return f"[leads] assignment rule #{number} {rule.name!r}"


def _apply(session: Session, number: int, rule: AssignmentRule) -> Assignment:
    if rule.user:
        user = session.scalar(select(User).where(User.login == rule.user))
        if user is None or not user.active:
            raise AssignmentError(
                f"{_where(number, rule)} user: no active user {rule.user!r}; "
                "fix the rule in accord.toml"
            )
        return Assignment(rule.name, user.id, user.team_id)
    team = session.scalar(select(Team).where(Team.name == rule.team))
    if team is None:
        raise AssignmentError(
            f"{_where(number, rule)} team: no team named {rule.team!r}; fix the rule in accord.toml"
        )
    query = select(User.id, User.login).where(User.team_id == team.id, User.active.is_(True))
    if rule.users:
        query = query.where(User.login.in_(rule.users))
    members = [row.id for row in session.execute(query.order_by(User.id))]
    if not members:
        # Nobody to rotate among: the team owns the lead until its manager hands it out.
        return Assignment(rule.name, None, team.id)
    pointer = _pointer(session, rule.name)
    after = pointer.last_user_id
    chosen = next((member for member in members if after is None or member > after), members[0])
    pointer.last_user_id = chosen
    session.flush()
    return Assignment(rule.name, chosen, team.id)


def _pointer(session: Session, rule: str) -> AssignmentPointer:
    query = select(AssignmentPointer).where(AssignmentPointer.rule == rule)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    pointer = session.scalar(query)
    if pointer is None:
        pointer = AssignmentPointer(rule=rule, last_user_id=None)
        session.add(pointer)
        session.flush()
    return pointer


# --- many leads at once -----------------------------------------------------------------------


@dataclass
class _Rotation:
    """Round robin of one team rule within a batch: the members, and who got the last lead."""

    members: list[int]  # by id, as ``choose`` goes round them
    last: int | None
    team_id: int
    moved: bool = False

    def next(self) -> int:
        after = bisect_right(self.members, self.last) if self.last is not None else 0
        self.last = self.members[after] if after < len(self.members) else self.members[0]
        self.moved = True
        return self.last


@dataclass
class BatchAssigner:
    """``choose`` for many leads in a row (an import's batch): each rule's user, team and
    round-robin pointer read once, the turns taken in memory, and the pointers written
    where they stopped by ``save``. The owners are those ``choose`` gives lead by lead.
    A lead here is anything with a lead's fields as attributes."""

    session: Session
    rules: Sequence[AssignmentRule]
    users: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    teams: dict[str, _Rotation | int] = field(default_factory=dict)

    def choose(self, lead: Any) -> tuple[int | None, int | None]:
        """The owner and team of the first rule that matches, or ``(None, None)``."""
        probe = cast(Lead, lead)
        for number, rule in enumerate(self.rules, start=1):
            if matches(rule, probe):
                return self._apply(number, rule)
        return None, None

    def _apply(self, number: int, rule: AssignmentRule) -> tuple[int | None, int | None]:
        if rule.user:
            if rule.user not in self.users:
                found = self.session.execute(
                    select(User.id, User.team_id).where(
                        User.login == rule.user, User.active.is_(True)
                    )
                ).first()
                if found is None:
                    raise AssignmentError(
                        f"{_where(number, rule)} user: no active user {rule.user!r}; "
                        "fix the rule in accord.toml"
                    )
                self.users[rule.user] = (found[0], found[1])
            return self.users[rule.user]
        if rule.name not in self.teams:
            self.teams[rule.name] = self._rotation(number, rule)
        rotation = self.teams[rule.name]
        if isinstance(rotation, int):
            return None, rotation  # nobody to rotate among: the team owns the lead
        return rotation.next(), rotation.team_id

    def _rotation(self, number: int, rule: AssignmentRule) -> _Rotation | int:
        team_id = self.session.scalar(select(Team.id).where(Team.name == rule.team))
        if team_id is None:
            raise AssignmentError(
                f"{_where(number, rule)} team: no team named {rule.team!r}; "
                "fix the rule in accord.toml"
            )
        query = select(User.id).where(User.team_id == team_id, User.active.is_(True))
        if rule.users:
            query = query.where(User.login.in_(rule.users))
        members = list(self.session.scalars(query.order_by(User.id)))
        if not members:
            return int(team_id)
        return _Rotation(members, _pointer(self.session, rule.name).last_user_id, int(team_id))

    def save(self) -> None:
        """Write where each rotation stopped, for the next lead of any kind."""
        for name, rotation in self.teams.items():
            if isinstance(rotation, _Rotation) and rotation.moved:
                _pointer(self.session, name).last_user_id = rotation.last
        self.session.flush()
