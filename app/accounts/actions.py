"""Account use cases: each write takes the acting `Actor` and does all of its work in one transaction.

The CLI calls these (as the operator) and the web admin pages will call the
same functions, so the audit record each one will write has one place to go.
``app.accounts.directory`` keeps the queries and rules these are built from.
"""

from __future__ import annotations

from app.accounts.actor import Actor
from app.accounts.sessions import end_all
from app.accounts.directory import (
    ROLES, DirectoryError, GroupView, UserView, add_group, add_user, get_user, grant, group_view, hash_password,
    revoke, view,
)
from app.errors import Forbidden, Invalid
from app.services import Services
from app.db.accounts import Membership

MIN_PASSWORD = 12  # a password an administrator types for someone: long enough to resist guessing


def create_user(
    services: Services, actor: Actor, name: str, role: str = "employee", groups: list[str] | None = None,
    password: str | None = None,
) -> UserView:
    """A new user, in these groups (missing groups are created)."""
    with services.session() as session:
        return view(add_user(session, name, role, groups or [], password))


def create_group(services: Services, actor: Actor, name: str) -> GroupView:
    """A group (the existing one when the name is taken: creating is idempotent)."""
    with services.session() as session:
        return group_view(add_group(session, name))


def grant_membership(services: Services, actor: Actor, group: str, user: str) -> GroupView:
    """Add a user to a group; their next query reads the group's documents."""
    with services.session() as session:
        g = grant(session, group, user)
        session.refresh(g)
        return group_view(g)


def revoke_membership(services: Services, actor: Actor, group: str, user: str) -> GroupView:
    """Remove a user from a group; takes effect on their next query (tokens are never cached)."""
    with services.session() as session:
        g = revoke(session, group, user)
        session.refresh(g)
        return group_view(g)


def require_admin(actor: Actor) -> None:
    """The account writes below are for administrators (the operator at the shell is one)."""
    if actor.role != "admin":
        raise Forbidden("only an administrator manages accounts")


def set_role(services: Services, actor: Actor, name: str, role: str) -> UserView:
    """A user's role; it counts from their next request (the role is read fresh each time)."""
    require_admin(actor)
    if role not in ROLES:
        raise DirectoryError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    with services.session() as session:
        user = get_user(session, name)
        if user.id == actor.user_id and role != "admin":
            raise Invalid("you cannot take the administrator role from yourself")
        user.role = role
        return view(user)


def check_new_password(password: str) -> None:
    """What a password set in the browser must be (the CLI's operator chooses freely)."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters")


def reset_password(services: Services, actor: Actor, name: str, password: str) -> UserView:
    """A new password; every session of the user ends, so a stolen cookie dies with the old password."""
    require_admin(actor)
    check_new_password(password)
    with services.session() as session:
        user = get_user(session, name)
        user.password_hash = hash_password(password)
        end_all(session, user.id)
        return view(user)


def set_disabled(services: Services, actor: Actor, name: str, disabled: bool) -> UserView:
    """Disable (or enable) an account. Disabling ends its sessions at once; login, API tokens
    and ACL tokens refuse a disabled user, and their rows stay for the record."""
    require_admin(actor)
    with services.session() as session:
        user = get_user(session, name)
        if disabled and user.id == actor.user_id:
            raise Invalid("you cannot disable your own account")
        user.disabled = disabled
        if disabled:
            end_all(session, user.id)
        return view(user)


def set_group_owner(services: Services, actor: Actor, group: str, user: str, owner: bool) -> GroupView:
    """Make a member own the group (manage its documents), or stop owning it; owning implies membership."""
    require_admin(actor)
    with services.session() as session:
        g = grant(session, group, user)
        u = get_user(session, user)
        session.get(Membership, (u.id, g.id)).owner = owner
        session.flush()
        session.refresh(g)
        return group_view(g)
