"""Administration in the browser: users (create, role, password, disable) and groups (create,
members, owners). Administrators only; each write is a use case of ``app.accounts.actions``
with the signed-in administrator as the actor, and takes effect on the user's next request
(roles, memberships and the disabled flag are read fresh every time; disabling and a new
password also end every session of the user at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import actions
from app.accounts.admin_views import group_rows, user_rows
from app.accounts.directory import ROLES
from web.deps import AdminDep, AdminWriterDep, ServicesDep
from web.routes.documents import actor_of, render

router = APIRouter(prefix="/admin")
FormStr = Annotated[str, Form()]


def back(path: str, done: str) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"{path}?done={quote(done[:200])}", status_code=303)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, services: ServicesDep, user: AdminDep) -> Response:
    with services.session() as session:
        rows = user_rows(session)
        groups = [g.name for g in group_rows(session)]
    return render(request, "admin_users.html", {"user": user, "rows": rows, "roles": ROLES, "groups": groups})


@router.post("/users")
def create_user(request: Request, services: ServicesDep, user: AdminWriterDep, name: FormStr = "",
                password: FormStr = "", role: FormStr = "employee",
                groups: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    actions.check_new_password(password)
    made = actions.create_user(services, actor_of(user), name, role, [g for g in groups if g], password)
    return back("/admin/users", f"created {made.name}")


@router.post("/users/role")
def set_role(request: Request, services: ServicesDep, user: AdminWriterDep, name: FormStr = "",
             role: FormStr = "") -> Response:
    changed = actions.set_role(services, actor_of(user), name, role)
    return back("/admin/users", f"{changed.name} is now {changed.role}")


@router.post("/users/password")
def reset_password(request: Request, services: ServicesDep, user: AdminWriterDep, name: FormStr = "",
                   password: FormStr = "") -> Response:
    changed = actions.reset_password(services, actor_of(user), name, password)
    return back("/admin/users", f"new password for {changed.name}; their sessions ended")


@router.post("/users/disable")
def disable(request: Request, services: ServicesDep, user: AdminWriterDep, name: FormStr = "") -> Response:
    changed = actions.set_disabled(services, actor_of(user), name, True)
    return back("/admin/users", f"{changed.name} is disabled; their sessions ended")


@router.post("/users/enable")
def enable(request: Request, services: ServicesDep, user: AdminWriterDep, name: FormStr = "") -> Response:
    changed = actions.set_disabled(services, actor_of(user), name, False)
    return back("/admin/users", f"{changed.name} is enabled")


@router.get("/groups", response_class=HTMLResponse)
def groups_page(request: Request, services: ServicesDep, user: AdminDep) -> Response:
    with services.session() as session:
        rows = group_rows(session)
        names = [u.name for u in user_rows(session)]
    return render(request, "admin_groups.html", {"user": user, "rows": rows, "users": names})


@router.post("/groups")
def create_group(request: Request, services: ServicesDep, user: AdminWriterDep, name: FormStr = "") -> Response:
    made = actions.create_group(services, actor_of(user), name)
    return back("/admin/groups", f"group {made.name} is there")


@router.post("/groups/members")
def add_member(request: Request, services: ServicesDep, user: AdminWriterDep, group: FormStr = "",
               name: FormStr = "", owner: FormStr = "") -> Response:
    actor = actor_of(user)
    if owner == "on":
        actions.set_group_owner(services, actor, group, name, True)
    else:
        actions.grant_membership(services, actor, group, name)
    return back("/admin/groups", f"{name} is in {group}" + (" and owns it" if owner == "on" else ""))


@router.post("/groups/members/remove")
def remove_member(request: Request, services: ServicesDep, user: AdminWriterDep, group: FormStr = "",
                  name: FormStr = "") -> Response:
    actor = actor_of(user)
    actions.revoke_membership(services, actor, group, name)
    return back("/admin/groups", f"{name} left {group}")


@router.post("/groups/owners")
def set_owner(request: Request, services: ServicesDep, user: AdminWriterDep, group: FormStr = "",
              name: FormStr = "", owner: FormStr = "") -> Response:
    actions.set_group_owner(services, actor_of(user), group, name, owner == "on")
    return back("/admin/groups", f"{name} {'owns' if owner == 'on' else 'no longer owns'} {group}")
