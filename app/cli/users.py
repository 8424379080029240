"""`inhouse users …` and `inhouse groups …`."""

from __future__ import annotations

import sys
from typing import Callable, Optional

import typer
from sqlalchemy import select

from app.cli._common import JsonOpt, cli_errors, services_ctx, split_csv
from app.cli._output import emit_json, fail, table

users_app = typer.Typer(no_args_is_help=True, help="Manage users.")
groups_app = typer.Typer(no_args_is_help=True, help="Manage groups and memberships.")


@users_app.command("add")
def users_add(
    name: str,
    groups: str = typer.Option("", "--groups", help="comma-separated; missing groups are created"),
    role: str = typer.Option("employee", "--role", help="employee | owner | evaluator | admin"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    as_json: bool = JsonOpt,
) -> None:
    from app.accounts.actions import create_user
    from app.accounts.actor import Actor

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        fail("--password-stdin given but no password was read")
    with services_ctx() as services, cli_errors():
        user = create_user(services, Actor.operator(), name, role, split_csv(groups), password)
    if as_json:
        emit_json(user.as_dict())
    else:
        table("user", ["id", "name", "role", "groups"], [(user.id, user.name, user.role, ",".join(user.groups))])


@users_app.command("list")
def users_list(as_json: bool = JsonOpt) -> None:
    from app.accounts.directory import view
    from app.db.accounts import User

    with services_ctx() as services, services.session() as session:
        users = [view(u).as_dict() for u in session.scalars(select(User).order_by(User.name))]
    if as_json:
        emit_json({"users": users})
    else:
        table("users", ["id", "name", "role", "groups"], [(u["id"], u["name"], u["role"], ",".join(u["groups"])) for u in users])


@groups_app.command("add")
def groups_add(name: str, as_json: bool = JsonOpt) -> None:
    from app.accounts.actions import create_group
    from app.accounts.actor import Actor

    with services_ctx() as services, cli_errors():
        info = create_group(services, Actor.operator(), name).as_dict()
    emit_json(info) if as_json else table("group", ["id", "name"], [(info["id"], info["name"])])


def _change_membership(change: Callable, group: str, user: str, as_json: bool) -> None:
    """`groups grant` and `groups revoke`: the same steps around a different use case."""
    from app.accounts.actor import Actor

    with services_ctx() as services, cli_errors():
        info = change(services, Actor.operator(), group, user).as_dict()
    emit_json(info) if as_json else table("group", ["name", "members"], [(info["name"], ",".join(info["members"]))])


@groups_app.command("grant")
def groups_grant(group: str, user: str, as_json: bool = JsonOpt) -> None:
    """Add USER to GROUP."""
    from app.accounts.actions import grant_membership

    _change_membership(grant_membership, group, user, as_json)


@groups_app.command("revoke")
def groups_revoke(group: str, user: str, as_json: bool = JsonOpt) -> None:
    """Remove USER from GROUP; takes effect on their next query."""
    from app.accounts.actions import revoke_membership

    _change_membership(revoke_membership, group, user, as_json)


@groups_app.command("list")
def groups_list(as_json: bool = JsonOpt, name: Optional[str] = None) -> None:
    from app.accounts.directory import group_view
    from app.db.accounts import Group

    with services_ctx() as services, services.session() as session:
        groups = [group_view(g).as_dict() for g in session.scalars(select(Group).order_by(Group.name))]
    if as_json:
        emit_json({"groups": groups})
    else:
        table("groups", ["id", "name", "members"], [(g["id"], g["name"], ",".join(g["members"])) for g in groups])
