"""What the admin pages list: every user with role, state, groups and open sessions; every group
with its members and which of them own it. Reads only; the writes are ``app.accounts.actions``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.sessions import WebSession
from app.db.accounts import Group, Membership, User


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    disabled: bool
    groups: list[str]
    owns: list[str]
    sessions: int
    has_password: bool


@dataclass(frozen=True)
class GroupRow:
    id: int
    name: str
    members: list[str]
    owners: list[str]


def user_rows(session: Session) -> list[UserRow]:
    sessions = dict(session.execute(select(WebSession.user_id, func.count()).group_by(WebSession.user_id)).all())
    owned: dict[int, list[str]] = {}
    for user_id, group in session.execute(
        select(Membership.user_id, Group.name).join(Group, Group.id == Membership.group_id)
        .where(Membership.owner.is_(True)).order_by(Group.name)
    ):
        owned.setdefault(user_id, []).append(group)
    users = session.scalars(select(User).order_by(func.lower(User.name)).options(selectinload(User.groups))).all()
    return [UserRow(u.id, u.name, u.role, u.disabled, sorted(g.name for g in u.groups), owned.get(u.id, []),
                    sessions.get(u.id, 0), u.password_hash is not None) for u in users]


def group_rows(session: Session) -> list[GroupRow]:
    rows = []
    for g in session.scalars(select(Group).order_by(func.lower(Group.name))):
        members = session.execute(
            select(User.name, Membership.owner).join(Membership, Membership.user_id == User.id)
            .where(Membership.group_id == g.id).order_by(func.lower(User.name))).all()
        rows.append(GroupRow(g.id, g.name, [m for m, _ in members], [m for m, owner in members if owner]))
    return rows
