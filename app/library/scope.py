"""Which documents a content owner sees in the library, and which they may act on.

Seeing follows reading: the library lists what the user could already read
through a question (public, their own, their groups'), computed in SQL with the
same rule ``acl_tokens`` gives the index. Acting is narrower: an administrator
acts on every document; a user with the role ``owner`` acts on documents they
own and on documents all of whose groups they own (``memberships.owner``), and
grants only groups they own. So the owner of group A can never touch, widen or
take over a document of group B. Anything a user may not read is "not found",
never "forbidden", so the pages confirm nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session

from app.library.documents import DocumentNotFound
from app.errors import Forbidden, Invalid
from app.db.accounts import Group, Membership, User
from app.db.library import Document, DocumentGroup

CONTENT_ROLES = ("owner", "admin")


def is_admin(user: User) -> bool:
    return user.role == "admin" and not user.disabled


def readable_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause over ``Document``: the documents this user may read (the index's rule, in SQL)."""
    if user.disabled:
        return false()
    if is_admin(user):
        return true()
    in_my_groups = exists().where(
        DocumentGroup.document_id == Document.id,
        DocumentGroup.group_id.in_(select(Membership.group_id).where(Membership.user_id == user.id)),
    )
    return or_(Document.public.is_(True), Document.owner_id == user.id, in_my_groups)


def askable_documents(session: Session, user: User, limit: int = 300) -> list[tuple[str, str]]:
    """(id, title) of the ready documents this user's questions can reach, newest first, for the
    ask page's scope picker. The index's rule without the administrator's library view: an
    administrator asks with their own groups like everyone else."""
    if user.disabled:
        return []
    in_my_groups = exists().where(
        DocumentGroup.document_id == Document.id,
        DocumentGroup.group_id.in_(select(Membership.group_id).where(Membership.user_id == user.id)),
    )
    rule = or_(Document.public.is_(True), Document.owner_id == user.id, in_my_groups)
    rows = session.execute(
        select(Document.id, Document.title).where(rule, Document.status == "ready")
        .order_by(Document.updated_at.desc()).limit(limit)
    )
    return [(doc_id, title) for doc_id, title in rows]


def owned_groups(session: Session, user: User) -> list[Group]:
    """The groups this user may grant: every group for an administrator, else the groups they own."""
    if is_admin(user):
        return list(session.scalars(select(Group).order_by(Group.name)))
    if user.role != "owner" or user.disabled:
        return []
    return list(session.scalars(
        select(Group).join(Membership, Membership.group_id == Group.id)
        .where(Membership.user_id == user.id, Membership.owner.is_(True)).order_by(Group.name)
    ))


def can_manage(session: Session, user: User, doc: Document) -> bool:
    if is_admin(user):
        return True
    if user.role != "owner" or user.disabled or doc.public and doc.owner_id != user.id:
        return False
    if doc.owner_id == user.id:
        return True
    mine = {g.id for g in owned_groups(session, user)}
    return bool(doc.groups) and all(g.id in mine for g in doc.groups)


def visible_document(session: Session, user: User, doc_id: str) -> Document:
    """The document by its full id, or not found when it does not exist *or* the user may not read it."""
    doc = session.scalar(select(Document).where(Document.id == doc_id, readable_clause(user))) if doc_id else None
    if doc is None:
        raise DocumentNotFound(f"no document with id {doc_id!r}")
    return doc


def managed_document(session: Session, user: User, doc_id: str) -> Document:
    """A document this user may act on; one they may read but not manage is forbidden (they know it exists)."""
    doc = visible_document(session, user, doc_id)
    if not can_manage(session, user, doc):
        raise Forbidden("you do not own every group of this document")
    return doc


@dataclass(frozen=True)
class Grant:
    """Who a document is for, as checked against what the acting user may grant."""

    groups: list[str]
    owner: str | None
    public: bool


def check_grant(session: Session, user: User, groups: list[str], owner: str | None, public: bool) -> Grant:
    """Refuse a grant the user may not give: no group at all, a group they do not own, ``public``
    (administrators only), or an owner who is not a member of one of the granted groups (an owner
    reads the document, so naming one must not widen access beyond the groups)."""
    groups = sorted({g.strip() for g in groups if g.strip()})
    owner = (owner or "").strip() or None
    if public and not is_admin(user):
        raise Forbidden("only an administrator makes a document public")
    if not groups and not public:
        raise Invalid("choose at least one group that may read the documents")
    allowed = {g.name: g for g in owned_groups(session, user)}
    unknown = [g for g in groups if g not in allowed]
    if unknown:
        raise Invalid(f"you cannot grant {', '.join(unknown)}: choose among the groups you own")
    if owner:
        person = session.scalar(select(User).where(User.name == owner))
        if person is None or person.disabled:
            raise Invalid(f"no active user named {owner!r}")
        if not is_admin(user):
            member_of = {g.name for g in person.groups}
            if person.id != user.id and not member_of & set(groups):
                raise Invalid(f"{owner} is in none of the chosen groups, so naming them owner would widen access")
    return Grant(groups, owner, public)


def acting_user(session: Session, actor) -> User:
    """The user behind an ``Actor``, read now; the operator at the shell acts as an administrator."""
    if actor.user_id is None:
        return User(name=actor.name, role="admin", disabled=False)
    user = session.get(User, actor.user_id)
    if user is None or user.disabled:
        raise Forbidden("this account cannot act")
    return user
