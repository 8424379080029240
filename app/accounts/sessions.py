"""Browser sessions, kept on the server so that logging out, a password change or
an expiry ends them at once, wherever the cookie went.

The cookie carries 256 random bits; only their SHA-256 is stored, so a copy of
the database lets nobody log in. Each session has its own CSRF token (sent in
forms and the htmx header, compared in constant time) and two expiries: idle
(no request for that long) and absolute (since login), both settings.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import DateTime, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db.accounts import User

from app.db.base import Base, utcnow


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # "local": a password login; "header": made for a gateway's identity, valid only while that identity comes
    origin: Mapped[str] = mapped_column(String(16), default="local", server_default="local")


@dataclass(frozen=True)
class SessionUser:
    """Who is asking, read fresh from the database on every request."""

    id: int
    name: str
    role: str
    csrf: str
    origin: str = "local"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def begin(session: Session, user: User, origin: str = "local") -> str:
    """A new session for this user; the returned token goes in the cookie and nowhere else."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf=secrets.token_urlsafe(32),
                           origin=origin))
    session.flush()
    return token


def resolve(session: Session, token: str | None, idle: timedelta, absolute: timedelta) -> SessionUser | None:
    """The user behind a cookie, or None when it is unknown or expired (and then it is removed)."""
    if not token:
        return None
    row = session.get(WebSession, _digest(token))
    if row is None:
        return None
    now = datetime.now(timezone.utc)
    if now - _aware(row.seen_at) > idle or now - _aware(row.created_at) > absolute:
        session.delete(row)
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:  # disabling ends sessions too (end_all); this holds if a row survived
        session.delete(row)
        return None
    if now - _aware(row.seen_at) > timedelta(seconds=30):  # one write per half minute, not per request
        row.seen_at = now
    return SessionUser(user.id, user.name, user.role, row.csrf, row.origin or "local")


def end(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def end_all(session: Session, user_id: int) -> None:
    """Every session of a user (password change, removal)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def sessions_of(session: Session, user_id: int) -> int:
    return len(session.scalars(select(WebSession.token_hash).where(WebSession.user_id == user_id)).all())
