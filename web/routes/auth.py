"""Log in and log out with a local account (the existing scrypt password hashes)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from app.accounts.sessions import begin, end
from app.accounts.directory import hash_password, verify_password
from app.errors import Forbidden
from app.db.accounts import User
from web.deps import SECURE_SESSION_COOKIE, SESSION_COOKIE, ServicesDep, WriterDep, optional_user, session_cookie

router = APIRouter()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """Checked when the name is unknown, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send anyone elsewhere."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def secure_cookie(request: Request, mode: str) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, services: ServicesDep, next: str = "/") -> Response:
    if optional_user(request, services) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"user": None, "next": safe_next(next), **_ways(services)})


def _ways(services) -> dict[str, bool]:
    """Which ways to sign in the login page offers."""
    s = services.settings
    return {"sso": bool(s.oidc_issuer), "local_login": s.web_local_login}


@router.post("/login")
def login(
    request: Request, services: ServicesDep, name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
) -> Response:
    if not services.settings.web_local_login:
        raise Forbidden("local accounts are turned off here; sign in with single sign-on")
    name = name.strip()
    address = request.client.host if request.client else "unknown"
    throttle = request.app.state.login_throttle
    keys = (f"user:{name.lower()}", f"addr:{address}")
    templates = request.app.state.templates
    wait = throttle.retry_after(*keys)
    if wait:
        return templates.TemplateResponse(
            request, "login.html", {"user": None, "name": name, "next": safe_next(next), **_ways(services),
                                    "error": f"Too many failed attempts. Try again in {wait} seconds."},
            status_code=429, headers={"Retry-After": str(wait)},
        )
    with services.session() as session:
        user = session.scalar(select(User).where(User.name == name)) if name else None
        ok = verify_password(password, user.password_hash if user and user.password_hash else _decoy_hash())
        ok = ok and user is not None and user.password_hash is not None and not user.disabled
        token = begin(session, user) if ok else None
    if not ok:
        throttle.failed(*keys)
        return templates.TemplateResponse(
            request, "login.html", {"user": None, "name": name, "next": safe_next(next), **_ways(services),
                                    "error": "That user name and password do not match."},
            status_code=401,
        )
    throttle.succeeded(keys[0])
    response = RedirectResponse(safe_next(next), status_code=303)
    s = services.settings
    secure = secure_cookie(request, s.web_secure_cookies)
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE, token, max_age=s.web_session_absolute_hours * 3600,
        httponly=True, samesite="lax", secure=secure, path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, services: ServicesDep, user: WriterDep) -> Response:
    with services.session() as session:
        end(session, session_cookie(request))
    # a gateway's user is signed in by the gateway: only its sign-out ends that (the next request would be back)
    target = services.settings.trusted_header_logout_url if user.origin == "header" else "/login"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(SECURE_SESSION_COOKIE, path="/", secure=True)
    return response
