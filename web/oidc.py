"""OpenID Connect login: authorization code + PKCE (S256), state, nonce; the ID token checked by hand.

authlib builds the authorization URL and exchanges the code (with the PKCE
verifier); the ID token is then verified here with joserfc (authlib's JOSE
library) so that every rule is visible and tested:

* the provider's discovery document must name exactly the configured issuer,
  and its keys come only from that document's ``jwks_uri``;
* only the configured asymmetric algorithms (``none`` and HS* cannot even be
  configured: HS* would turn the client secret into a signing key anyone
  holding it could use); a key id the provider's key set does not hold fails;
* ``iss`` equals the issuer exactly, ``aud`` contains the client id (and with
  several audiences ``azp`` is the client id), ``exp``/``iat``/``nbf`` within
  ``oidc_clock_skew_s`` (at most 60 s), ``nonce`` is the one this login sent.

A login in progress is kept on the server, keyed by ``state``, and bound to the
browser that started it by a random cookie, so a callback with someone else's
code and state (login CSRF) or a replayed state is refused. The user is keyed
by (issuer, ``sub``), never by e-mail (``app.accounts.external``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.accounts.external import Claim
from app.errors import InhouseError
from app.settings import Settings

PENDING_TTL_S = 600.0  # a login must come back from the provider within ten minutes
PENDING_MAX = 10_000  # logins in progress kept at once; the oldest go first
HTTP_TIMEOUT_S = 10.0


class OidcFailed(InhouseError):
    """The provider's answer cannot sign anyone in (bad state, token, issuer, ...)."""

    status, code = 401, "oidc_failed"


class OidcUnavailable(InhouseError):
    status, code = 503, "oidc_unavailable"


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Pending:
    browser: str  # SHA-256 of the cookie that binds this login to one browser
    nonce: str
    verifier: str
    redirect_uri: str
    next: str
    created: float


@dataclass
class PendingLogins:
    """Logins in progress in this process (one process serves the web UI: it owns the index)."""

    _items: dict[str, Pending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, state: str, pending: Pending) -> None:
        with self._lock:
            now = time.monotonic()
            for key in [k for k, p in self._items.items() if now - p.created > PENDING_TTL_S]:
                del self._items[key]
            while len(self._items) >= PENDING_MAX:
                del self._items[next(iter(self._items))]
            self._items[state] = pending

    def take(self, state: str) -> Pending | None:
        """The login for this state, once: a second callback with it finds nothing."""
        with self._lock:
            pending = self._items.pop(state, None)
        if pending is None or time.monotonic() - pending.created > PENDING_TTL_S:
            return None
        return pending


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def discover(settings: Settings) -> Provider:
    """The provider's endpoints from its discovery document, which must name exactly our issuer."""
    issuer = settings.oidc_issuer
    assert issuer
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        meta = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcUnavailable(f"the identity provider's discovery document could not be read: {exc}") from None
    if meta.get("issuer") != issuer:
        raise OidcFailed(f"the provider calls itself {meta.get('issuer')!r}, not the configured issuer {issuer!r}")
    try:
        return Provider(issuer, meta["authorization_endpoint"], meta["token_endpoint"], meta["jwks_uri"])
    except KeyError as exc:
        raise OidcFailed(f"the discovery document lacks {exc}") from None


def keys(provider: Provider) -> KeySet:
    try:
        response = httpx.get(provider.jwks_uri, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise OidcUnavailable(f"the identity provider's keys could not be read: {exc}") from None


def client(settings: Settings, redirect_uri: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        scope=settings.oidc_scopes, redirect_uri=redirect_uri, code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_S,
    )


def start(settings: Settings, provider: Provider, redirect_uri: str, next_path: str) -> tuple[str, str, str, Pending]:
    """(authorization URL, state, browser cookie, what to keep) for a new login."""
    state, nonce, verifier, browser = (secrets.token_urlsafe(32) for _ in range(4))
    verifier = verifier + secrets.token_urlsafe(32)  # 43..128 characters (RFC 7636)
    with client(settings, redirect_uri) as oauth:
        url, _ = oauth.create_authorization_url(
            provider.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier,
        )
    return url, state, browser, Pending(digest(browser), nonce, verifier, redirect_uri, next_path, time.monotonic())


def finish(settings: Settings, provider: Provider, pending: Pending, browser: str | None, code: str) -> dict[str, Any]:
    """The verified ID token claims for this callback (the browser must be the one that started it)."""
    if not browser or not hmac.compare_digest(digest(browser), pending.browser):
        raise OidcFailed("this sign-in was started in another browser; start again")
    with client(settings, pending.redirect_uri) as oauth:
        try:
            token = oauth.fetch_token(provider.token_endpoint, code=code, code_verifier=pending.verifier,
                                      grant_type="authorization_code")
        except Exception as exc:  # authlib raises OAuthError, httpx its own: either way no sign-in
            raise OidcFailed(f"the provider did not exchange the code: {exc}") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcFailed("the provider sent no ID token")
    return verify_id_token(id_token, keys(provider), settings, pending.nonce)


def verify_id_token(id_token: str, key_set: KeySet, settings: Settings, nonce: str) -> dict[str, Any]:
    """The claims of a valid ID token for this client and login; anything else raises ``OidcFailed``."""
    algorithms = list(settings.oidc_algorithms)
    try:
        token = jwt.decode(id_token, key_set, algorithms=algorithms)
    except (JoseError, ValueError) as exc:
        raise OidcFailed(f"the ID token's signature does not verify: {type(exc).__name__}") from None
    if token.header.get("alg") not in algorithms:  # belt and braces: decode already refused others
        raise OidcFailed("the ID token's algorithm is not allowed")
    registry = jwt.JWTClaimsRegistry(
        leeway=settings.oidc_clock_skew_s,
        iss={"essential": True, "value": settings.oidc_issuer},
        aud={"essential": True, "value": settings.oidc_client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except JoseError as exc:
        raise OidcFailed(f"the ID token is not for this sign-in: {exc.error}") from None
    audiences = token.claims["aud"] if isinstance(token.claims["aud"], list) else [token.claims["aud"]]
    if len(audiences) > 1 and token.claims.get("azp") != settings.oidc_client_id:
        raise OidcFailed("the ID token has several audiences and is not authorized for this client")
    return dict(token.claims)


def claim_path(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def groups_of(claims: dict[str, Any], path: str) -> tuple[str, ...]:
    """Group names from a list or a space/comma separated string at ``path``; anything else is no groups."""
    value = claim_path(claims, path)
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    else:
        return ()
    return tuple(dict.fromkeys(g.strip() for g in items if g.strip() and len(g.strip()) <= 120))


def to_claim(claims: dict[str, Any], settings: Settings) -> Claim:
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    name = claims.get(settings.oidc_name_claim)
    name = name if isinstance(name, str) and name.strip() else email or claims["sub"]
    assert settings.oidc_issuer
    return Claim(issuer=settings.oidc_issuer, subject=str(claims["sub"]), name=name.strip()[:120], email=email,
                 groups=groups_of(claims, settings.oidc_groups_claim))
