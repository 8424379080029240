"""Sign in with the organisation's OpenID Connect provider (``web/oidc.py`` holds the protocol)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from app.accounts.external import SyncPolicy, user_for
from app.accounts.sessions import begin, end
from app.errors import NotFound
from web import oidc
from web.deps import SECURE_SESSION_COOKIE, SESSION_COOKIE, ServicesDep, session_cookie
from web.routes.auth import safe_next, secure_cookie

router = APIRouter()
BROWSER_COOKIE = "inhouse_oidc"  # binds a login in progress to the browser that started it
CALLBACK = "/login/oidc/callback"


def _enabled(services) -> None:
    if not services.settings.oidc_issuer:
        raise NotFound("single sign-on is not configured")


@router.get("/login/oidc")
def oidc_start(request: Request, services: ServicesDep, next: str = "/") -> Response:
    _enabled(services)
    settings = services.settings
    provider = oidc.discover(settings)
    redirect_uri = settings.oidc_redirect_url or str(request.base_url).rstrip("/") + CALLBACK
    url, state, browser, pending = oidc.start(settings, provider, redirect_uri, safe_next(next))
    request.app.state.oidc_pending.put(state, pending)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(BROWSER_COOKIE, browser, max_age=int(oidc.PENDING_TTL_S), httponly=True, samesite="lax",
                        secure=secure_cookie(request, settings.web_secure_cookies), path=CALLBACK)
    return response


@router.get(CALLBACK)
def oidc_callback(request: Request, services: ServicesDep, state: str = "", code: str = "",
                  error: str = "") -> Response:
    _enabled(services)
    settings = services.settings
    pending = request.app.state.oidc_pending.take(state) if state else None
    if pending is None:
        raise oidc.OidcFailed("this sign-in is unknown or expired; start again")
    if error or not code:
        raise oidc.OidcFailed(f"the identity provider did not sign you in ({error or 'no code'})")
    provider = oidc.discover(settings)
    claims = oidc.finish(settings, provider, pending, request.cookies.get(BROWSER_COOKIE), code)
    claim = oidc.to_claim(claims, settings)
    with services.session() as session:
        user = user_for(session, claim, SyncPolicy(settings.oidc_create_groups, settings.oidc_role_groups))
        end(session, session_cookie(request))  # whatever session this browser had is not this sign-in's
        token = begin(session, user, origin="oidc")
    response = RedirectResponse(pending.next, status_code=303)
    response.delete_cookie(BROWSER_COOKIE, path=CALLBACK)
    secure = secure_cookie(request, settings.web_secure_cookies)
    response.set_cookie(
        SECURE_SESSION_COOKIE if secure else SESSION_COOKIE, token, max_age=settings.web_session_absolute_hours * 3600,
        httponly=True, samesite="lax", secure=secure, path="/",
    )
    return response
