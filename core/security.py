"""Users, the team tree of the sales network, and roles.

Who may do what (the access table, record rules) is enforced by the permission layer; this
module holds the people and the structure those rules are about.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import BigInteger, ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from accord.core.contributions import Role as RoleSpec
from accord.core.db import Base, TimestampMixin, created_at, intpk, str_enum, utcnow
from accord.core.errors import AccordError

_hasher = PasswordHasher()


class TeamKind(enum.StrEnum):
    """The places of the sales network and the offices around it (DESIGN: roles are hats)."""

    DIRECT_SALES = "direct_sales"
    AGENTS = "agents"
    DISTRIBUTORS = "distributors"
    RESELLERS = "resellers"
    EXPORT = "export"
    BACK_OFFICE = "back_office"
    TECHNICAL_OFFICE = "technical_office"
    ADMINISTRATION = "administration"
    MARKETING = "marketing"
    SUPPORT = "support"
    MANAGEMENT = "management"


class Team(Base):
    """A node of the team tree; ``path`` (``/1/4/``) makes a whole subtree one indexed
    prefix query."""

    __tablename__ = "core_team"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[TeamKind] = mapped_column(str_enum(TeamKind, length=30))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="/")

    parent: Mapped[Team | None] = relationship(remote_side="Team.id")


class Role(Base):
    """A role users can hold; rows are kept in step with the roles plugins declare."""

    __tablename__ = "core_role"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    title: Mapped[str] = mapped_column(String(120))


class UserRole(Base):
    __tablename__ = "core_user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True
    )
    role_name: Mapped[str] = mapped_column(
        ForeignKey("core_role.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class User(TimestampMixin, Base):
    """A person who logs in; their roles and their team decide what they see."""

    __tablename__ = "core_user"
    __audit_exclude__ = ("password_hash",)

    id: Mapped[intpk]
    login: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("core_team.id"), index=True)
    last_login_at: Mapped[dt.datetime | None]

    team: Mapped[Team | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan")

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(sorted(row.role_name for row in self.role_rows))

    def __repr__(self) -> str:  # never shows the password hash
        return f"User(id={self.id!r}, login={self.login!r})"


class SecurityVersion(Base):
    """One row whose ``version`` the database itself raises, in the transaction of every
    change to who a user is: a user added, deactivated, given a new password or login,
    moved to another team; a role granted or revoked; a role or a team added, changed or
    removed. Triggers installed by the kernel's migration do it, so no way of writing
    (the ORM, a Core statement, another process, an SQL console) can skip it.

    A principal built from the database stays true exactly while this version does: a
    process keeps principals for the version it read them at (``Runtime.signed_in``)."""

    __tablename__ = "core_security_version"
    __audited__ = False  # bookkeeping: the changes it counts are audited themselves
    __access__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)


class ApiKey(Base):
    """A key a program uses to act as a user (``Authorization: Bearer accord_...``).

    Only a SHA-256 digest of the secret is stored: the key is 256 random bits, so a slow
    password hash would add nothing but latency to every API call.
    """

    __tablename__ = "core_api_key"
    __audit_exclude__ = ("secret_hash",)
    __access_owner__ = "user_id"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:  # never shows the digest
        return f"ApiKey(id={self.id!r}, prefix={self.prefix!r}, user_id={self.user_id!r})"


API_KEY_PREFIX = "accord_"


def create_api_key(
    session: Session, user: User, name: str, *, expires_at: dt.datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for ``user``; returns the row and the token, which is shown only now."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=prefix,
        secret_hash=_digest(secret),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"{API_KEY_PREFIX}{prefix}_{secret}"


def user_for_api_key(session: Session, token: str) -> User | None:
    """The active user a token acts as, or None for an unknown, revoked or expired key.
    Call it in a system session: nobody is signed in yet."""
    body = token.strip().removeprefix("Bearer ").strip()
    if not body.startswith(API_KEY_PREFIX) or "_" not in body[len(API_KEY_PREFIX) :]:
        return None
    prefix, _, secret = body[len(API_KEY_PREFIX) :].partition("_")
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(secret)):
        return None
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    user = session.get(User, key.user_id)
    if user is None or not user.active:
        return None
    key.last_used_at = now
    return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UnknownRoleError(AccordError):
    pass


def create_team(session: Session, name: str, kind: TeamKind, parent: Team | None = None) -> Team:
    team = Team(name=name, kind=TeamKind(kind), parent=parent)
    session.add(team)
    session.flush()
    team.path = f"{parent.path if parent else '/'}{team.id}/"
    session.flush()
    return team


def subtree(session: Session, team: Team) -> Sequence[Team]:
    """The team and every team below it."""
    return session.scalars(select(Team).where(Team.path.startswith(team.path))).all()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise AccordError("password: must have at least 8 characters")
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session,
    login: str,
    password: str,
    *,
    name: str = "",
    email: str = "",
    roles: Iterable[str] = (),
    team: Team | None = None,
) -> User:
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise AccordError(f"user {login!r} exists already")
    user = User(login=login, name=name or login, email=email, team=team)
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    set_roles(session, user, roles)
    return user


def set_roles(session: Session, user: User, roles: Iterable[str]) -> None:
    wanted = sorted(set(roles))
    known = set(session.scalars(select(Role.name)))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UnknownRoleError(
            f"unknown role {unknown[0]!r}; known roles: {', '.join(sorted(known)) or 'none'} "
            "(run `accord db upgrade` after enabling the plugin that declares it)"
        )
    user.role_rows = [UserRole(user_id=user.id, role_name=name) for name in wanted]
    session.flush()


def sync_roles(session: Session, declared: Iterable[RoleSpec]) -> None:
    """Make the role table hold exactly the declared roles; a role still held by a user
    stays until nobody holds it, so disabling a plugin never strips users silently."""
    declared_by_name = {role.name: role for role in declared}
    existing = {role.name: role for role in session.scalars(select(Role))}
    for name, spec in declared_by_name.items():
        if name in existing:
            existing[name].title = spec.title
        else:
            session.add(Role(name=name, title=spec.title))
    held = set(session.scalars(select(UserRole.role_name)))
    stale = [name for name in existing if name not in declared_by_name and name not in held]
    if stale:
        session.execute(delete(Role).where(Role.name.in_(stale)))
    session.flush()
