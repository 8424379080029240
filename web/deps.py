"""Typed FastAPI dependencies: the services, a database session, the signed-in user.

The user is read from the database on every request (role, and through
``acl_tokens`` their groups), so a revoked membership or a removed account
takes effect on the next request, not at the next login. Unsafe methods also
pass the CSRF check here, so a route cannot forget it: every route that
changes something depends on ``writer``, not ``reader``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.accounts.external import SyncPolicy, user_for
from app.accounts.sessions import SessionUser, begin, csrf_matches, end, resolve
from app.errors import Forbidden, InhouseError
from app.services import Services
from app.settings import Settings
from web.security import UNSAFE_METHODS
from web.trusted_headers import read_claim

SESSION_COOKIE = "inhouse_session"
SECURE_SESSION_COOKIE = "__Host-inhouse_session"  # over https: the browser refuses it without Secure, Path=/, no Domain


def session_cookie(request: Request) -> str | None:
    """The session token, from the __Host- cookie when there is one (https), else the plain one."""
    return request.cookies.get(SECURE_SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE)


class LoginRequired(InhouseError):
    status, code = 401, "login_required"


class CsrfFailed(InhouseError):
    status, code = 403, "csrf_failed"


def get_services(request: Request) -> Services:
    return request.app.state.services


def get_settings(request: Request) -> Settings:
    return request.app.state.services.settings


def db_session(services: Annotated[Services, Depends(get_services)]) -> Iterator[Session]:
    with services.session() as session:
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SessionDep = Annotated[Session, Depends(db_session)]


def optional_user(request: Request, services: ServicesDep) -> SessionUser | None:
    """The signed-in user: a gateway's identity headers when trusted headers are on, else the session cookie.

    A refused header (``web.trusted_headers``) raises, so a bad request never
    falls back to the cookie's identity. A header identity gets a session of
    its own (its CSRF token; the cookie is set by ``SessionIssuer``), reused only
    while the same identity keeps coming.
    """
    state = request.scope.setdefault("state", {})
    if "signed_in" in state:  # the login page calls this directly, and a request resolves its user once
        return state["signed_in"]
    s = services.settings
    idle, absolute = timedelta(minutes=s.web_session_idle_minutes), timedelta(hours=s.web_session_absolute_hours)
    claim = read_claim(request, s)
    cookie = session_cookie(request)
    with services.session() as session:
        current = resolve(session, cookie, idle, absolute)
        if claim is None:
            user = None if current is not None and current.origin == "header" else current  # needs its headers
        else:
            account = user_for(session, claim, SyncPolicy(s.trusted_header_create_groups, s.trusted_header_role_groups))
            if current is not None and current.origin == "header" and current.id == account.id:
                user = SessionUser(account.id, account.name, account.role, current.csrf, "header")
            else:
                end(session, cookie)  # another identity's session, or a local one: not this person's
                token = begin(session, account, origin="header")
                state["issued_session"] = token
                user = resolve(session, token, idle, absolute)
    state["signed_in"] = user
    return user


def reader(user: Annotated[SessionUser | None, Depends(optional_user)]) -> SessionUser:
    if user is None:
        raise LoginRequired("please log in")
    return user


async def writer(request: Request, user: Annotated[SessionUser, Depends(reader)]) -> SessionUser:
    if request.method in UNSAFE_METHODS:
        given = request.headers.get("X-CSRF-Token")
        if not given and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            given = (await request.form()).get("csrf")
        if not csrf_matches(user.csrf, given if isinstance(given, str) else None):
            raise CsrfFailed("the form expired or came from another site; reload the page and try again")
    return user


def role(*allowed: str):
    """A dependency that admits signed-in users with one of these roles (admins always)."""

    def check(user: Annotated[SessionUser, Depends(reader)]) -> SessionUser:
        if user.role != "admin" and user.role not in allowed:
            raise Forbidden("your role does not allow this page")
        return user

    return check


def role_writer(*allowed: str):
    """``role`` for a route that changes something: the role is checked, then CSRF (through ``writer``)."""

    def check(user: Annotated[SessionUser, Depends(writer)]) -> SessionUser:
        if user.role != "admin" and user.role not in allowed:
            raise Forbidden("your role does not allow this page")
        return user

    return check


UserDep = Annotated[SessionUser, Depends(reader)]
WriterDep = Annotated[SessionUser, Depends(writer)]
OwnerDep = Annotated[SessionUser, Depends(role("owner"))]  # content owners and administrators
OwnerWriterDep = Annotated[SessionUser, Depends(role_writer("owner"))]
AdminDep = Annotated[SessionUser, Depends(role("admin"))]
AdminWriterDep = Annotated[SessionUser, Depends(role_writer("admin"))]
