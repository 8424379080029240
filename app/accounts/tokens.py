"""API tokens: how other applications act as a user, with fewer rights than the user.

A token is ``ih_`` + 256 random bits (base64url). Only its SHA-256 is stored
(a random secret needs no salt; a copy of the database lets nobody call the
API) plus a short display prefix; the token itself is shown once, at creation.
Each token has a name, scopes that each route checks fail-closed, a mandatory
expiry (default 90 days, at most 365) and a last-used time. A token carries no
groups: it acts with its owner's *current* groups and role, read per request,
so a revoked membership, a lowered role or a removed owner takes effect on the
next call. Revoking stamps ``revoked_at``; the row stays so listings show it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.errors import Invalid, NotFound
from app.db.accounts import User
from app.db.base import Base, utcnow

PREFIX = "ih_"
SCOPES = ("ask", "search", "documents:read", "documents:write", "eval", "admin")
# what the owner's role must be for a scope to count (checked per request, so a lowered role bites at once)
SCOPE_ROLES = {"documents:write": ("owner", "admin"), "eval": ("evaluator", "admin"), "admin": ("admin",)}
DEFAULT_DAYS = 90
MAX_DAYS = 365
LAST_USED_EVERY = timedelta(minutes=1)  # at most one write per token per minute, not one per request
NAME_CHARS = 120


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_CHARS))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TokenNotFound(NotFound):
    code = "token_not_found"


@dataclass(frozen=True)
class TokenView:
    """What a listing shows: never the token, never its hash."""

    id: int
    user: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if _aware(self.expires_at) <= now() else "active"

    def as_dict(self) -> dict:
        iso = lambda d: _aware(d).isoformat() if d else None  # noqa: E731
        return {"id": self.id, "user": self.user, "name": self.name, "prefix": self.prefix, "scopes": self.scopes,
                "state": self.state, "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at)}


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is the only copy there will ever be."""

    view: TokenView
    token: str

    def as_dict(self) -> dict:
        return {**self.view.as_dict(), "token": self.token}


@dataclass(frozen=True)
class TokenUser:
    """Who a request acts as: the owner, read now, and the scopes the token grants them now."""

    id: int
    name: str
    role: str
    token_id: int
    scopes: frozenset[str]


def now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: ApiToken, owner: User) -> TokenView:
    return TokenView(row.id, owner.name, row.name, row.prefix, list(row.scopes), row.created_at, row.expires_at,
                     row.last_used_at, row.revoked_at)


def parse_scopes(scopes: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if not chosen:
        raise Invalid(f"a token needs at least one scope: {', '.join(SCOPES)}")
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise Invalid(f"unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}")
    return chosen


def create(session: Session, owner: User, name: str, scopes: list[str], days: int = DEFAULT_DAYS) -> NewToken:
    """A new token for ``owner``; a scope their role does not allow now is refused, not silently kept."""
    name = " ".join(name.split())[:NAME_CHARS]
    if not name:
        raise Invalid("a token needs a name (what will use it)")
    chosen = parse_scopes(scopes)
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"a token expires after 1 to {MAX_DAYS} days, not {days}")
    for scope in chosen:
        if scope in SCOPE_ROLES and owner.role not in SCOPE_ROLES[scope]:
            raise Invalid(f"the scope {scope!r} needs the role {' or '.join(SCOPE_ROLES[scope])}; "
                          f"{owner.name} is {owner.role}")
    token = PREFIX + secrets.token_urlsafe(32)  # 32 bytes: 256 bits from the OS's CSPRNG
    row = ApiToken(user_id=owner.id, name=name, token_hash=digest(token), prefix=token[:len(PREFIX) + 6],
                   scopes=chosen, created_at=now(), expires_at=now() + timedelta(days=days))
    session.add(row)
    session.flush()
    return NewToken(_view(row, owner), token)


def list_for(session: Session, owner: User | None = None) -> list[TokenView]:
    """One user's tokens, or everyone's (the operator's view), newest first."""
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    if owner is not None:
        query = query.where(ApiToken.user_id == owner.id)
    return [_view(row, user) for row, user in session.execute(query)]


def revoke(session: Session, token_id: int, owner: User | None = None) -> TokenView:
    """Stops the token at once; another user's token is "not found" (``owner`` None: the operator)."""
    row = session.get(ApiToken, token_id)
    if row is None or (owner is not None and row.user_id != owner.id):
        raise TokenNotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = now()
        session.flush()
    return _view(row, session.get(User, row.user_id))


def resolve(session: Session, token: str | None) -> TokenUser | None:
    """The user a presented token acts as now, or None (unknown, expired, revoked, owner gone or disabled)."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    moment = now()
    if _aware(row.expires_at) <= moment:
        return None
    owner = session.get(User, row.user_id)
    if owner is None or getattr(owner, "disabled", False):
        return None
    if row.last_used_at is None or moment - _aware(row.last_used_at) > LAST_USED_EVERY:
        row.last_used_at = moment
    granted = frozenset(s for s in row.scopes if s in SCOPES and owner.role in SCOPE_ROLES.get(s, (owner.role,)))
    return TokenUser(owner.id, owner.name, owner.role, row.id, granted)
