"""Identity from a gateway's headers (oauth2-proxy, Envoy, an SSO ingress), judged on every request.

Off by default. When on, a request may carry the configured user, e-mail and
groups headers; what they say is believed only when all of this holds, and
anything else is refused outright (never a fallback to another identity):

* the TCP peer is one of ``trusted_proxies`` (an empty list trusts no one).
  ``X-Forwarded-For`` is not consulted: ``inhouse serve`` turns uvicorn's proxy
  header rewriting off when trusted headers are on, so the peer is the socket's;
* no header name equals a configured one after lower-casing and ``_``→``-``
  while being spelled differently (``X_Forwarded_Email``: CVE-2025-64484, where
  the gateway strips the real name but passes the variant and a server that
  normalises ``_`` accepted it). ASGI servers lower-case names, so only the
  underscore spelling can still differ; it is refused from every peer;
* each identity header comes at most once (two values are an injection, not a
  choice to make);
* the groups value is at most ``trusted_header_groups_max_bytes`` long and
  names at most ``trusted_header_groups_max`` groups.

No header names a role: a header user's role only comes from the configured
group→role mapping (``app.accounts.external``). A role-looking header such as
``X-Forwarded-Role`` means nothing here.

Sessions and CSRF: the identity is the headers', per request; a session is
still made for it (origin "header", cookie set by ``SessionIssuer``) because
unsafe methods need a CSRF token that a cross-site page cannot know, and the
gateway's cookie is sent cross-site as much as ours. Such a session counts only
while the same identity keeps coming in the headers: another identity (or a
local session in the cookie) gets a fresh session, and without the headers a
"header" session is no one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

from app.accounts.external import Claim
from app.errors import InhouseError
from app.settings import Settings

log = logging.getLogger("inhouse.identity")
ISSUER = "trusted-header"  # the (issuer, subject) key of a header user

PRESETS: dict[str, tuple[str, str, str]] = {  # user, e-mail, groups
    "oauth2-proxy": ("x-forwarded-user", "x-forwarded-email", "x-forwarded-groups"),
    "envoy": ("x-jwt-sub", "x-jwt-email", "x-jwt-groups"),  # jwt_authn claim_to_headers, named this way
    "custom": ("", "", ""),
}
MAX_NAME = 120  # users.name
MAX_EMAIL = 254


class HeaderRefused(InhouseError):
    """A malformed or ambiguous identity header (variant spelling, duplicate, oversized)."""

    status, code = 400, "identity_header_refused"


class UntrustedPeer(InhouseError):
    """Identity headers from a peer that is not a configured proxy."""

    status, code = 401, "identity_header_untrusted"


@dataclass(frozen=True)
class HeaderNames:
    user: str
    email: str | None
    groups: str | None

    def all(self) -> tuple[str, ...]:
        return tuple(n for n in (self.user, self.email, self.groups) if n)


def header_names(settings: Settings) -> HeaderNames | None:
    """The configured identity header names, lower-case, or None when trusted headers are off."""
    if settings.trusted_headers == "off":
        return None
    user, email, groups = PRESETS[settings.trusted_headers]
    pick = lambda override, preset: (override or preset).strip().lower() or None  # noqa: E731
    user_name = pick(settings.trusted_header_user, user)
    assert user_name, "settings validation requires a user header"
    return HeaderNames(user_name, pick(settings.trusted_header_email, email),
                       pick(settings.trusted_header_groups, groups))


def peer_trusted(host: str | None, proxies: list[str]) -> bool:
    if not host or not proxies:
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in ip_network(p, strict=False) for p in proxies)


def _text(raw: bytes, what: str, limit: int) -> str:
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise HeaderRefused(f"the {what} header is not UTF-8") from None
    if not value or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise HeaderRefused(f"the {what} header is empty, too long or holds control characters")
    return value


def read_claim(request: Request, settings: Settings) -> Claim | None:
    """The identity the gateway asserts on this request, None when there is none (or the feature is off).

    Raises ``HeaderRefused`` or ``UntrustedPeer`` for every case the module docstring lists, and logs each
    refusal (peer, path, reason; never a header's value) on ``inhouse.identity``: a spoofing attempt is news.
    """
    try:
        return _read_claim(request, settings)
    except (HeaderRefused, UntrustedPeer) as exc:
        client = request.scope.get("client")
        log.warning("identity headers refused from %s on %s: %s", client[0] if client else "?", request.url.path,
                    type(exc).__name__)
        raise


def _read_claim(request: Request, settings: Settings) -> Claim | None:
    names = header_names(settings)
    if names is None:
        return None
    configured = names.all()
    normalised = {n.replace("_", "-"): n for n in configured}
    values: dict[str, list[bytes]] = {n: [] for n in configured}
    for raw_name, raw_value in request.headers.raw:
        name = raw_name.decode("latin-1").lower()
        target = normalised.get(name.replace("_", "-"))
        if target is None:
            continue
        if name != target:
            raise HeaderRefused(f"a header spelled like {target!r} but not the same ({name!r}) is refused")
        values[target].append(raw_value)
    present = {n: v for n, v in values.items() if v}
    if not present:
        return None
    client = request.scope.get("client")
    if not peer_trusted(client[0] if client else None, settings.trusted_proxies):
        raise UntrustedPeer("identity headers are only accepted from the configured proxy")
    for name, found in present.items():
        if len(found) > 1:
            raise HeaderRefused(f"the {name!r} header came more than once")
    if names.user not in present:
        raise HeaderRefused(f"identity headers without the user header {names.user!r}")
    user = _text(present[names.user][0], "user", MAX_NAME)
    email = _text(present[names.email][0], "e-mail", MAX_EMAIL) if names.email in present else None
    groups: tuple[str, ...] = ()
    if names.groups in present:
        raw = present[names.groups][0]
        if len(raw) > settings.trusted_header_groups_max_bytes:
            raise HeaderRefused("the groups header is too long")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HeaderRefused("the groups header is not UTF-8") from None
        parts = [p.strip() for p in text.split(",")]
        unique = tuple(dict.fromkeys(p for p in parts if p))
        if len(unique) > settings.trusted_header_groups_max:
            raise HeaderRefused("the groups header names too many groups")
        if any(len(g) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in g) for g in unique):
            raise HeaderRefused("a group in the groups header is too long or holds control characters")
        groups = unique
    return Claim(issuer=ISSUER, subject=user, name=user, email=email, groups=groups)


class SessionIssuer(BaseHTTPMiddleware):
    """Sets the cookie of a session that ``web.deps.optional_user`` made for a header identity."""

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        token = request.scope.get("state", {}).get("issued_session")
        if token:
            from web.deps import SECURE_SESSION_COOKIE, SESSION_COOKIE
            from web.routes.auth import secure_cookie

            settings: Settings = request.app.state.services.settings
            secure = secure_cookie(request, settings.web_secure_cookies)
            response.set_cookie(
                SECURE_SESSION_COOKIE if secure else SESSION_COOKIE, token,
                max_age=settings.web_session_absolute_hours * 3600, httponly=True, samesite="lax", secure=secure,
                path="/",
            )
        return response
