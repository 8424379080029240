"""The signed-in user's own API tokens: make one (shown once, on the page that made it), list, revoke.

The new token is rendered into the response to the POST that made it and
nowhere else: it is not put in the URL, a cookie or the session, so reloading
or going back cannot show it again. Every other user's token is "not found".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.accounts import tokens
from app.errors import Invalid
from app.db.accounts import User
from web.deps import ServicesDep, UserDep, WriterDep

router = APIRouter()


def page(request: Request, services, user, made: tokens.NewToken | None = None, status: int = 200) -> Response:
    with services.session() as session:
        me = session.get(User, user.id)
        listed = tokens.list_for(session, me)
        allowed = [s for s in tokens.SCOPES if me.role in tokens.SCOPE_ROLES.get(s, (me.role,))]
    return request.app.state.templates.TemplateResponse(
        request, "tokens.html",
        {"user": user, "tokens": listed, "made": made, "scopes": allowed, "default_days": tokens.DEFAULT_DAYS,
         "max_days": tokens.MAX_DAYS},
        status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, services: ServicesDep, user: UserDep) -> Response:
    return page(request, services, user)


@router.post("/tokens", response_class=HTMLResponse)
def create_token(request: Request, services: ServicesDep, user: WriterDep, name: Annotated[str, Form()] = "",
                 scopes: Annotated[list[str], Form()] = [],  # noqa: B006
                 days: Annotated[str, Form()] = "") -> Response:
    try:
        lifetime = int(days) if days.strip() else tokens.DEFAULT_DAYS
    except ValueError:
        raise Invalid("days must be a whole number") from None
    with services.session() as session:
        made = tokens.create(session, session.get(User, user.id), name, scopes, lifetime)
    return page(request, services, user, made, status=201)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: int, services: ServicesDep, user: WriterDep) -> Response:
    with services.session() as session:
        tokens.revoke(session, token_id, session.get(User, user.id))
    return RedirectResponse("/tokens", status_code=303)
