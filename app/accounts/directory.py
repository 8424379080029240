"""Users, groups and memberships, and the ACL tokens a user reads with.

Tokens are computed from the database on every request and never cached, so
revoking a membership takes effect on the very next query.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.db.accounts import Group, Membership, User
from retrieval.schema import PUBLIC_TOKEN, group_token, user_token

ROLES = ("employee", "owner", "evaluator", "admin")


class DirectoryError(Invalid):
    """A user or group that does not exist, or cannot be created as asked."""

    code = "directory"


@dataclass(frozen=True)
class UserView:
    id: int
    name: str
    role: str
    groups: list[str]

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "groups": self.groups}


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    members: list[str]

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "members": self.members}


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


def view(user: User) -> UserView:
    return UserView(user.id, user.name, user.role, sorted(g.name for g in user.groups))


def group_view(group: Group) -> GroupView:
    return GroupView(group.id, group.name, sorted(u.name for u in group.members))


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise DirectoryError(f"no user named {name!r}; create it with `inhouse users add {name}`")
    return user


def get_group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise DirectoryError(f"no group named {name!r}; create it with `inhouse groups add {name}`")
    return group


def add_group(session: Session, name: str) -> Group:
    name = name.strip()
    if not name:
        raise DirectoryError("a group needs a name")
    existing = session.scalar(select(Group).where(Group.name == name))
    if existing is not None:
        return existing
    group = Group(name=name)
    session.add(group)
    session.flush()
    return group


def add_user(
    session: Session, name: str, role: str = "employee", groups: list[str] | None = None,
    password: str | None = None,
) -> User:
    name = name.strip()
    if not name:
        raise DirectoryError("a user needs a name")
    if role not in ROLES:
        raise DirectoryError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise DirectoryError(f"a user named {name!r} already exists")
    user = User(name=name, role=role, password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    for group_name in groups or []:
        grant(session, group_name, name, create_group=True)
    return user


def grant(session: Session, group_name: str, user_name: str, create_group: bool = False) -> Group:
    user = get_user(session, user_name)
    group = add_group(session, group_name) if create_group else get_group(session, group_name)
    existing = session.get(Membership, (user.id, group.id))
    if existing is None:
        session.add(Membership(user_id=user.id, group_id=group.id))
        session.flush()
    elif existing.source != "local":
        existing.source = "local"  # granted here now: the single sign-on sync no longer removes it
        session.flush()
    session.expire(user, ["groups"])
    return group


def revoke(session: Session, group_name: str, user_name: str) -> Group:
    user = get_user(session, user_name)
    group = get_group(session, group_name)
    membership = session.get(Membership, (user.id, group.id))
    if membership is not None:
        session.delete(membership)
        session.flush()
    session.expire(user, ["groups"])
    return group


def acl_tokens(session: Session, user: User) -> list[str]:
    """Everything this user may read: public documents, their own, their groups'.

    Users and groups are named by their random ``uid``, never by row id: another
    database (a new ``database_url``, a restored backup) gives the same row ids to
    other people, and the index must not follow (issue 15, leak 3). A disabled
    user reads nothing, by any path.
    """
    if user.disabled:
        return []
    group_uids = session.scalars(
        select(Group.uid).join(Membership, Membership.group_id == Group.id).where(Membership.user_id == user.id)
    ).all()
    return [PUBLIC_TOKEN, user_token(user.uid), *(group_token(g) for g in sorted(group_uids))]


def scoped_tokens(session: Session, user: User, group_names: list[str]) -> list[str]:
    """The user's tokens narrowed to some of their own groups (a question's scope).

    Only groups the user belongs to count; naming any other group narrows to
    nothing rather than widening, so a scope can never grant access.
    """
    tokens = acl_tokens(session, user)
    if not group_names:
        return tokens
    wanted = set(group_names)
    chosen = session.scalars(
        select(Group.uid).join(Membership, Membership.group_id == Group.id)
        .where(Membership.user_id == user.id, Group.name.in_(wanted))
    ).all()
    narrowed = {group_token(uid) for uid in chosen}
    return [t for t in tokens if t in narrowed]
