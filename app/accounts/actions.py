"""Account use cases: each write takes the acting `Actor` and does all of its work in one transaction.

The CLI calls these (as the operator) and the web admin pages will call the
same functions, so the audit record each one will write has one place to go.
``app.directory`` keeps the queries and rules these are built from.
"""

from __future__ import annotations

from app.accounts.actor import Actor
from app.directory import GroupView, UserView, add_group, add_user, grant, group_view, revoke, view
from app.services import Services


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
