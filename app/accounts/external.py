"""Users that an identity provider or a gateway vouches for: found or created, groups and role synced.

Why these rules:

* A user is keyed by (issuer, subject), never by e-mail or display name: not
  every IdP verifies e-mail, and merging by it hands a local account to whoever
  controls that address (Open WebUI's ``OAUTH_MERGE_ACCOUNTS_BY_EMAIL``). A
  local account that already holds the name is therefore *not* taken over; the
  sign-in is refused until an administrator resolves it.
* Groups from the IdP are synced authoritatively, but only the memberships the
  sync itself made (``memberships.source = "sso"``) are ever removed; what an
  administrator granted here stays (Open WebUI #12392). A named group that does
  not exist is skipped unless ``create_groups`` says otherwise, so a header
  cannot conjure groups.
* The role never comes from the IdP directly. With a ``role_groups`` mapping
  the role is computed from the asserted groups on every sign-in or request
  (so removing someone from the IdP's admin group demotes them at once);
  without one, a new user is an employee and the role stays what an
  administrator set here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InhouseError
from app.db.accounts import ExternalIdentity, Group, Membership, User

# which mapped role wins when someone is in several mapped groups
ROLE_PRECEDENCE = ("admin", "owner", "evaluator", "employee")


class IdentityRefused(InhouseError):
    """The IdP's identity cannot become a user here (a name taken by a local account, a disabled user)."""

    status, code = 403, "identity_refused"


@dataclass(frozen=True)
class Claim:
    """What an IdP or gateway asserts about the person making this request."""

    issuer: str
    subject: str
    name: str
    email: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncPolicy:
    create_groups: bool = False
    role_groups: dict[str, str] = field(default_factory=dict)


def mapped_role(groups: tuple[str, ...], role_groups: dict[str, str]) -> str:
    roles = {role_groups[g] for g in groups if g in role_groups}
    return next((r for r in ROLE_PRECEDENCE if r in roles), "employee")


def user_for(session: Session, claim: Claim, policy: SyncPolicy) -> User:
    """The user behind this claim, created on first sight, with groups and role brought up to date."""
    identity = session.scalar(
        select(ExternalIdentity).where(ExternalIdentity.issuer == claim.issuer,
                                       ExternalIdentity.subject == claim.subject)
    )
    if identity is None:
        if session.scalar(select(User.id).where(User.name == claim.name)) is not None:
            raise IdentityRefused(
                f"a local account named {claim.name!r} already exists; an administrator must rename or remove it "
                "before this single sign-on identity can use the name"
            )
        user = User(name=claim.name, role="employee", password_hash=None)
        session.add(user)
        session.flush()
        identity = ExternalIdentity(issuer=claim.issuer, subject=claim.subject, user_id=user.id, email=claim.email)
        session.add(identity)
        session.flush()
    else:
        user = session.get(User, identity.user_id)
        assert user is not None
        if claim.email and identity.email != claim.email:
            identity.email = claim.email
    if user.disabled:
        raise IdentityRefused("this account is disabled")
    if policy.role_groups:
        role = mapped_role(claim.groups, policy.role_groups)
        if user.role != role:
            user.role = role
    sync_groups(session, user, claim.groups, policy.create_groups)
    return user


def sync_groups(session: Session, user: User, names: tuple[str, ...], create: bool) -> None:
    """Make the user's "sso" memberships exactly the asserted groups that exist (or are created); local ones stay."""
    wanted: dict[int, Group] = {}
    if names:
        found = session.scalars(select(Group).where(Group.name.in_(names))).all()
        wanted = {g.id: g for g in found}
        if create:
            for name in set(names) - {g.name for g in found}:
                group = Group(name=name)
                session.add(group)
                session.flush()
                wanted[group.id] = group
    current = {m.group_id: m for m in session.scalars(select(Membership).where(Membership.user_id == user.id))}
    changed = False
    for group_id in wanted.keys() - current.keys():
        session.add(Membership(user_id=user.id, group_id=group_id, source="sso"))
        changed = True
    for group_id, membership in current.items():
        if membership.source == "sso" and group_id not in wanted:
            session.delete(membership)
            changed = True
    if changed:
        session.flush()
        session.expire(user, ["groups"])
