"""A signed-in user makes, sees and revokes their own API tokens in the browser: the token is on the page
that made it and never again, it works on the API at once and stops the moment it is revoked; another
user's token cannot be revoked (404) and a form without the session's CSRF token is refused."""

from __future__ import annotations

import re

from tests.api.conftest import bearer
from tests.web.conftest import csrf_of, login


def signed_in(client, name: str) -> str:
    assert login(client, name).status_code == 303
    return csrf_of(client.get("/tokens").text)


def test_make_use_and_revoke_a_token_in_the_browser(client):
    assert client.get("/tokens").status_code == 303  # a page for signed-in users only
    csrf = signed_in(client, "sofie")
    assert client.post("/tokens", data={"name": "x", "scopes": ["ask"]}).status_code == 403  # no CSRF token
    made = client.post("/tokens", data={"csrf": csrf, "name": "wiki bot", "scopes": ["ask", "documents:read"],
                                        "days": "30"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    token = re.search(r'data-token>(ih_[A-Za-z0-9_-]+)<', made.text).group(1)
    listing = client.get("/tokens").text
    assert "wiki bot" in listing and token not in listing and token[:9] in listing
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 200
    token_id = re.search(r'data-token-id="(\d+)" data-state="active"', listing).group(1)
    assert client.post(f"/tokens/{token_id}/revoke", data={"csrf": csrf}).status_code == 303
    assert 'data-state="revoked"' in client.get("/tokens").text
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 401


def test_refusals_on_the_page(client, make_token):
    csrf = signed_in(client, "sofie")
    assert "needs the role admin" in client.post("/tokens", data={"csrf": csrf, "name": "x", "scopes": ["admin"]}).text
    assert "1 to 365 days" in client.post("/tokens", data={"csrf": csrf, "name": "x", "scopes": ["ask"],
                                                            "days": "400"}).text
    bobs = make_token("bob", "ask")
    from app.accounts import tokens
    with client.app.state.services.session() as s:
        bob_id = s.query(tokens.ApiToken).filter_by(token_hash=tokens.digest(bobs)).one().id
    assert client.post(f"/tokens/{bob_id}/revoke", data={"csrf": csrf}).status_code == 404
    assert client.get("/v1/models", headers=bearer(bobs)).status_code == 200  # still bob's, still working
