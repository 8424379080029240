"""OpenID Connect sign-in against a real provider running in the test (oidc-provider-mock 0.3.4).

The whole dance goes through HTTP: our /login/oidc → the provider's authorize
form (submitted as the person) → our callback, which exchanges the code with
the PKCE verifier and verifies the ID token. Hand-made tokens (wrong audience,
expired, alg=none, HS256, unknown key, wrong issuer or nonce) go to the
verifier itself, since no honest provider would sign them.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlalchemy import select

from app.accounts.directory import add_group, add_user, grant
from app.db.accounts import ExternalIdentity, Group, Membership, User
from tests.web.conftest import PASSWORD, login
from web import oidc


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def set_user(provider: str, sub: str, **claims) -> None:
    httpx.put(f"{provider}/users/{sub}", json=claims).raise_for_status()


@pytest.fixture(scope="module")
def oidc_services(tmp_path_factory, models_dir, shared_encoder, shared_bm25, provider):
    from app.services import build_services
    from app.settings import Settings

    root = tmp_path_factory.mktemp("oidc")
    settings = Settings(
        data_dir=root / "data", models_dir=models_dir, answer_mode="extractive",
        oidc_issuer=provider, oidc_client_id="inhouse", oidc_client_secret="not-checked-by-the-mock",
        oidc_role_groups={"inhouse-admins": "admin"},
    )
    services = build_services(settings, encoder=shared_encoder, bm25=shared_bm25)
    with services.session() as session:
        for g in ("everyone", "board", "risk"):
            add_group(session, g)
        add_user(session, "sofie", groups=["everyone"], password=PASSWORD)
    yield services
    services.close()


@pytest.fixture(scope="module")
def oidc_app(oidc_services):
    from web.app import create_app

    return create_app(services=oidc_services)


@pytest.fixture
def browser(oidc_app):
    from starlette.testclient import TestClient

    opened = []

    def make():
        c = TestClient(oidc_app, base_url="http://testserver", follow_redirects=False)
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def to_provider(c, provider: str, next_path: str = "/") -> str:
    r = c.get("/login/oidc", params={"next": next_path})
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    assert url.startswith(provider + "/oauth2/authorize")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
    assert "code_verifier" not in query
    return url


def consent(authorize_url: str, sub: str) -> str:
    """The person signs in at the provider; its redirect back to our callback."""
    r = httpx.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert r.status_code in (302, 303), r.text
    return r.headers["location"]


def sign_in(c, provider: str, sub: str):
    return c.get(consent(to_provider(c, provider), sub))


def who(c) -> str | None:
    import re

    found = re.search(r'data-user="([^"]+)"', c.get("/").text)
    return found.group(1) if found else None


def groups_of(services, name: str) -> dict[str, str]:
    with services.session() as session:
        user = session.scalar(select(User).where(User.name == name))
        rows = session.execute(select(Group.name, Membership.source).join(Membership, Membership.group_id == Group.id)
                               .where(Membership.user_id == user.id)).all()
        return dict(rows)


def test_a_person_signs_in_with_code_pkce_state_and_nonce(browser, provider, oidc_services):
    set_user(provider, "s-0001", preferred_username="alice", email="alice@example.org",
             groups=["everyone", "risk", "not-here"])
    c = browser()
    assert c.get("/login").text.count("data-sso") == 1
    r = sign_in(c, provider, "s-0001")
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert who(c) == "alice"
    assert groups_of(oidc_services, "alice") == {"everyone": "sso", "risk": "sso"}
    with oidc_services.session() as session:
        identity = session.scalar(select(ExternalIdentity).where(ExternalIdentity.subject == "s-0001"))
        assert identity.issuer == provider and identity.email == "alice@example.org"
        assert session.scalar(select(Group.id).where(Group.name == "not-here")) is None
    # a later sign-in syncs the IdP's groups and leaves what was granted here alone
    with oidc_services.session() as session:
        grant(session, "board", "alice")
    set_user(provider, "s-0001", preferred_username="alice", email="alice@example.org", groups=["everyone"])
    assert sign_in(browser(), provider, "s-0001").status_code == 303
    assert groups_of(oidc_services, "alice") == {"everyone": "sso", "board": "local"}


def test_users_are_keyed_by_issuer_and_subject_never_email(browser, provider, oidc_services):
    set_user(provider, "s-0002", preferred_username="bea", email="shared@example.org")
    set_user(provider, "s-0003", preferred_username="bea2", email="shared@example.org")
    assert sign_in(browser(), provider, "s-0002").status_code == 303
    c = browser()
    assert sign_in(c, provider, "s-0003").status_code == 303
    assert who(c) == "bea2"  # the same e-mail is another person
    set_user(provider, "s-0004", preferred_username="sofie", email="sofie@example.org")
    r = sign_in(browser(), provider, "s-0004")
    assert r.status_code == 403  # a local account's name is not taken over
    assert login(browser(), "sofie").status_code == 303


def test_admin_only_through_the_group_mapping(browser, provider, oidc_services):
    set_user(provider, "s-0005", preferred_username="carl", groups=["admin", "everyone"], role="admin")
    c = browser()
    sign_in(c, provider, "s-0005")
    assert c.get("/admin/users").status_code == 403
    set_user(provider, "s-0005", preferred_username="carl", groups=["inhouse-admins"])
    c = browser()
    sign_in(c, provider, "s-0005")
    assert c.get("/admin/users").status_code == 200


def test_a_state_is_used_once_and_only_by_the_browser_that_started(browser, provider):
    set_user(provider, "s-0006", preferred_username="dag")
    c = browser()
    callback = consent(to_provider(c, provider), "s-0006")
    attacker = browser()  # login CSRF: the victim's browser did not start this sign-in
    assert attacker.get(callback).status_code == 401
    c2 = browser()
    callback = consent(to_provider(c2, provider), "s-0006")
    assert c2.get(callback).status_code == 303
    assert c2.get(callback).status_code == 401  # replayed
    assert browser().get("/login/oidc/callback", params={"state": "made-up", "code": "x"}).status_code == 401


def test_the_issuer_must_match_exactly(browser, provider, oidc_services):
    settings = oidc_services.settings
    oidc_services.settings = settings.model_copy(update={"oidc_issuer": provider + "/"})
    try:
        assert browser().get("/login/oidc").status_code == 401
    finally:
        oidc_services.settings = settings


def test_local_login_can_be_turned_off(browser, oidc_services):
    settings = oidc_services.settings
    oidc_services.settings = settings.model_copy(update={"web_local_login": False})
    try:
        c = browser()
        assert 'name="password"' not in c.get("/login").text
        assert login(c, "sofie").status_code == 403
    finally:
        oidc_services.settings = settings


# hand-made ID tokens: what no honest provider signs must not sign anyone in

ISSUER, CLIENT, NONCE = "https://sso.example.org", "inhouse", "n-123"


@pytest.fixture(scope="module")
def signing():
    from app.settings import Settings

    key = RSAKey.generate_key(2048, parameters={"kid": "good"})
    other = RSAKey.generate_key(2048, parameters={"kid": "unknown"})
    settings = Settings(oidc_issuer=ISSUER, oidc_client_id=CLIENT)
    return key, other, KeySet([key]), settings


def claims(**changes):
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "s-1", "iat": now, "exp": now + 300, "nonce": NONCE}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_good_token_verifies(signing):
    key, _, keys, settings = signing
    token = jwt.encode({"alg": "RS256", "kid": "good"}, claims(), key)
    assert oidc.verify_id_token(token, keys, settings, NONCE)["sub"] == "s-1"
    late = jwt.encode({"alg": "RS256", "kid": "good"}, claims(exp=int(time.time()) - 30), key)
    assert oidc.verify_id_token(late, keys, settings, NONCE)  # within the 60 s skew
    listed = jwt.encode({"alg": "RS256", "kid": "good"}, claims(aud=[CLIENT]), key)
    assert oidc.verify_id_token(listed, keys, settings, NONCE)


@pytest.mark.parametrize("case", ["wrong audience", "several audiences, not authorized", "expired",
                                  "wrong issuer", "issuer with a slash", "wrong nonce", "no nonce", "no sub",
                                  "issued in the future", "alg none", "HS256", "unknown key", "tampered"])
def test_bad_tokens_are_refused(signing, case):
    key, other, keys, settings = signing
    now = int(time.time())
    header = {"alg": "RS256", "kid": "good"}
    made = {
        "wrong audience": lambda: jwt.encode(header, claims(aud="someone-else"), key),
        "several audiences, not authorized": lambda: jwt.encode(header, claims(aud=[CLIENT, "other"]), key),
        "expired": lambda: jwt.encode(header, claims(exp=now - 120), key),
        "wrong issuer": lambda: jwt.encode(header, claims(iss="https://evil.example.org"), key),
        "issuer with a slash": lambda: jwt.encode(header, claims(iss=ISSUER + "/"), key),
        "wrong nonce": lambda: jwt.encode(header, claims(nonce="n-other"), key),
        "no nonce": lambda: jwt.encode(header, claims(nonce=None), key),
        "no sub": lambda: jwt.encode(header, claims(sub=None), key),
        "issued in the future": lambda: jwt.encode(header, claims(iat=now + 600, exp=now + 900, nbf=now + 600), key),
        "alg none": lambda: f"{b64({'alg': 'none'})}.{b64(claims())}.",
        "HS256": lambda: jwt.encode({"alg": "HS256", "kid": "good"}, claims(),
                                    OctKey.import_key(b"the-client-secret-used-as-a-key!!"), algorithms=["HS256"]),
        "unknown key": lambda: jwt.encode({"alg": "RS256", "kid": "unknown"}, claims(), other),
        "tampered": lambda: (lambda t: t.split(".")[0] + "." + b64(claims(sub="s-admin")) + "." + t.split(".")[2])(
            jwt.encode(header, claims(), key)),
    }
    with pytest.raises(oidc.OidcFailed):
        oidc.verify_id_token(made[case](), keys, settings, NONCE)


def test_none_and_hs_algorithms_cannot_be_configured():
    from pydantic import ValidationError

    from app.settings import Settings

    for alg in ("none", "HS256"):
        with pytest.raises(ValidationError):
            Settings(oidc_algorithms=[alg])
    with pytest.raises(ValidationError):
        Settings(oidc_clock_skew_s=300)


def test_groups_from_a_claim_path():
    assert oidc.groups_of({"realm_access": {"roles": ["a", "b", "a"]}}, "realm_access.roles") == ("a", "b")
    assert oidc.groups_of({"groups": "a b,c"}, "groups") == ("a", "b", "c")
    assert oidc.groups_of({"groups": {"not": "a list"}}, "groups") == ()
    assert oidc.groups_of({}, "realm_access.roles") == ()
