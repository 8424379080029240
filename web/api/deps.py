"""Who an API request acts as: a bearer token, resolved per request, checked for the route's scope.

Only ``Authorization: Bearer ih_…`` is read. A token in the query string is
refused outright (it would sit in proxy logs and browser history), and so is a
request carrying two Authorization headers. Browser session cookies are not
accepted here: the API is for other applications, and a bearer token cannot
be sent by a forged cross-site form, so no CSRF check is needed. The token's
owner, role and groups are read from the database on every request; a scope
missing from the token (or no longer allowed by the owner's role) is 403,
fail-closed: each route names the scope it needs, and there is no default.
"""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.accounts import tokens
from app.accounts.tokens import TokenUser
from app.errors import Forbidden, InhouseError
from web.deps import ServicesDep

URL_TOKEN_NAMES = {"access_token", "token", "api_key", "apikey", "key", "bearer"}
bearer = HTTPBearer(auto_error=False, description="an API token made by `inhouse tokens create`")


class TokenRequired(InhouseError):
    status, code = 401, "invalid_token"


class ScopeMissing(Forbidden):
    code = "insufficient_scope"


def api_user(scope: str) -> Callable[..., TokenUser]:
    """A dependency admitting a valid token that grants ``scope`` now; the token's owner is returned."""
    if scope not in tokens.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")  # a typo in a route must not make it open

    def check(request: Request, services: ServicesDep,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> TokenUser:
        if URL_TOKEN_NAMES & {k.lower() for k in request.query_params}:
            raise TokenRequired("tokens are accepted only in the Authorization: Bearer header, never in the URL")
        if len(request.headers.getlist("authorization")) > 1:
            raise TokenRequired("send one Authorization header")
        if credentials is None:
            raise TokenRequired("send an API token as 'Authorization: Bearer <token>' (inhouse tokens create)")
        with services.session() as session:
            user = tokens.resolve(session, credentials.credentials.strip())
        if user is None:
            raise TokenRequired("the token is unknown, expired or revoked")
        if scope not in user.scopes:
            raise ScopeMissing(f"this token does not grant the {scope!r} scope")
        request.state.api_user = user
        return user

    return check


AskUser = Annotated[TokenUser, Depends(api_user("ask"))]
SearchUser = Annotated[TokenUser, Depends(api_user("search"))]
DocumentsReader = Annotated[TokenUser, Depends(api_user("documents:read"))]
