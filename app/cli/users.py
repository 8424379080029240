"""`inhouse users …` and `inhouse groups …`."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from sqlalchemy import select

from app.cli import JsonOpt, groups_app, services_ctx, split_csv, users_app
from app.cli_output import emit_json, fail, table


@users_app.command("add")
def users_add(
    name: str,
    groups: str = typer.Option("", "--groups", help="comma-separated; missing groups are created"),
    role: str = typer.Option("employee", "--role", help="employee | owner | evaluator | admin"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    as_json: bool = JsonOpt,
) -> None:
    from app.directory import DirectoryError, add_user, view

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        fail("--password-stdin given but no password was read")
    with services_ctx() as services:
        try:
            with services.session() as session:
                user = view(add_user(session, name, role, split_csv(groups), password))
        except DirectoryError as exc:
            fail(str(exc))
    if as_json:
        emit_json(user.as_dict())
    else:
        table("user", ["id", "name", "role", "groups"], [(user.id, user.name, user.role, ",".join(user.groups))])


@users_app.command("list")
def users_list(as_json: bool = JsonOpt) -> None:
    from app.directory import view
    from app.tables import User

    with services_ctx() as services, services.session() as session:
        users = [view(u).as_dict() for u in session.scalars(select(User).order_by(User.name))]
    if as_json:
        emit_json({"users": users})
    else:
        table("users", ["id", "name", "role", "groups"], [(u["id"], u["name"], u["role"], ",".join(u["groups"])) for u in users])


def _group_dict(group) -> dict:
    return {"id": group.id, "name": group.name, "members": sorted(u.name for u in group.members)}


@groups_app.command("add")
def groups_add(name: str, as_json: bool = JsonOpt) -> None:
    from app.directory import DirectoryError, add_group

    with services_ctx() as services:
        try:
            with services.session() as session:
                info = _group_dict(add_group(session, name))
        except DirectoryError as exc:
            fail(str(exc))
    emit_json(info) if as_json else table("group", ["id", "name"], [(info["id"], info["name"])])


@groups_app.command("grant")
def groups_grant(group: str, user: str, as_json: bool = JsonOpt) -> None:
    """Add USER to GROUP."""
    from app.directory import DirectoryError, grant

    with services_ctx() as services:
        try:
            with services.session() as session:
                g = grant(session, group, user)
                session.refresh(g)
                info = _group_dict(g)
        except DirectoryError as exc:
            fail(str(exc))
    emit_json(info) if as_json else table("group", ["name", "members"], [(info["name"], ",".join(info["members"]))])


@groups_app.command("revoke")
def groups_revoke(group: str, user: str, as_json: bool = JsonOpt) -> None:
    """Remove USER from GROUP; takes effect on their next query."""
    from app.directory import DirectoryError, revoke

    with services_ctx() as services:
        try:
            with services.session() as session:
                g = revoke(session, group, user)
                session.refresh(g)
                info = _group_dict(g)
        except DirectoryError as exc:
            fail(str(exc))
    emit_json(info) if as_json else table("group", ["name", "members"], [(info["name"], ",".join(info["members"]))])


@groups_app.command("list")
def groups_list(as_json: bool = JsonOpt, name: Optional[str] = None) -> None:
    from app.tables import Group

    with services_ctx() as services, services.session() as session:
        groups = [_group_dict(g) for g in session.scalars(select(Group).order_by(Group.name))]
    if as_json:
        emit_json({"groups": groups})
    else:
        table("groups", ["id", "name", "members"], [(g["id"], g["name"], ",".join(g["members"])) for g in groups])
