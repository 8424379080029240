"""Who may call the API: every route, every way a token can be missing, wrong, expired, revoked or in the
wrong place, through the real app. A route the matrix does not name fails the last test, so a new route
cannot ship without its refusals being checked."""

from __future__ import annotations

import pytest

from tests.api.conftest import bearer

# (method, path, scope it needs, JSON body)
ROUTES = [
    ("POST", "/api/v1/ask", "ask", {"question": "How many vacation days do employees get?"}),
    ("POST", "/api/v1/ask/stream", "ask", {"question": "How many vacation days do employees get?"}),
    ("POST", "/api/v1/search", "search", {"query": "vacation days"}),
    ("GET", "/api/v1/documents", "documents:read", None),
    ("GET", "/api/v1/documents/{doc_id}", "documents:read", None),
    ("GET", "/api/v1/conversations", "ask", None),
    ("GET", "/api/v1/conversations/{conversation_id}", "ask", None),
    ("PATCH", "/api/v1/conversations/{conversation_id}", "ask", {"title": "renamed"}),
    ("DELETE", "/api/v1/conversations/{conversation_id}", "ask", None),
    ("GET", "/api/v1/answers/{answer_id}", "ask", None),
    ("PUT", "/api/v1/answers/{answer_id}/rating", "ask", {"rating": "up"}),
    ("POST", "/api/v1/answers/{answer_id}/passages/{n}/not-relevant", "ask", None),
    ("GET", "/v1/models", "ask", None),
    ("POST", "/v1/chat/completions", "ask", {"model": "inhouse", "messages": [{"role": "user", "content": "hi"}]}),
]
SCOPES = ("ask", "search", "documents:read")


def call(client, method: str, path: str, body, headers=None, **params):
    path = path.format(doc_id="d", conversation_id=1, answer_id=1, n=1)
    return client.request(method, path, json=body, headers=headers or {}, params=params or None)


def assert_refused(r, status: int) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["message"]
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("method,path,scope,body", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_every_route_refuses_a_missing_wrong_expired_revoked_or_misplaced_token(
        client, web_services, make_token, method, path, scope, body):
    from app.accounts import tokens
    from app.accounts.tokens import ApiToken

    assert_refused(call(client, method, path, body), 401)
    assert_refused(call(client, method, path, body, {"Authorization": "Bearer ih_notatoken"}), 401)
    assert_refused(call(client, method, path, body, {"Authorization": "Basic c29maWU6cHc="}), 401)
    others = [s for s in SCOPES if s != scope]
    assert_refused(call(client, method, path, body, bearer(make_token("sofie", *others))), 403)

    good = make_token("sofie", scope)
    assert_refused(call(client, method, path, body, access_token=good), 401)  # never in the URL
    assert_refused(call(client, method, path, body, {**bearer(good)}, token=good), 401)
    with web_services.session() as s:
        tokens.revoke(s, s.query(ApiToken).filter_by(token_hash=tokens.digest(good)).one().id)
    assert_refused(call(client, method, path, body, bearer(good)), 401)  # the very next request

    expired = make_token("sofie", scope)
    from datetime import datetime, timedelta, timezone
    with web_services.session() as s:
        row = s.query(ApiToken).filter_by(token_hash=tokens.digest(expired)).one()
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert_refused(call(client, method, path, body, bearer(expired)), 401)


def test_the_openai_routes_refuse_in_openais_error_shape(client, make_token):
    r = client.post("/v1/chat/completions", json={"model": "inhouse", "messages": []})
    assert r.status_code == 401
    assert r.json() == {"error": {"message": r.json()["error"]["message"], "type": "invalid_request_error",
                                  "param": None, "code": "invalid_api_key"}}
    r = client.get("/v1/models", headers=bearer(make_token("sofie", "search")))
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"


def test_a_signed_in_browser_session_is_not_an_api_token(client):
    from tests.web.conftest import login

    assert login(client, "sofie").status_code == 303
    assert client.get("/").status_code == 200  # signed in for the pages
    assert_refused(client.get("/api/v1/documents"), 401)
    assert_refused(client.post("/v1/chat/completions", json={"model": "inhouse", "messages": []}), 401)


def test_a_token_acts_with_its_owners_current_role_and_last_use_is_recorded(client, web_services, make_token):
    from app.accounts import tokens
    from app.accounts.directory import get_user

    with web_services.session() as s:
        made = tokens.create(s, get_user(s, "ivar"), "ops", ["admin", "documents:read"])
    assert client.get("/api/v1/documents", headers=bearer(made.token)).status_code == 200
    with web_services.session() as s:
        [view] = [t for t in tokens.list_for(s, get_user(s, "ivar")) if t.id == made.view.id]
        assert view.last_used_at is not None
        get_user(s, "ivar").role = "employee"
    try:
        with web_services.session() as s:
            user = tokens.resolve(s, made.token)
        assert user.role == "employee" and "admin" not in user.scopes and "documents:read" in user.scopes
    finally:
        with web_services.session() as s:
            get_user(s, "ivar").role = "admin"


def test_a_removed_owner_takes_their_tokens_with_them(client, web_services, make_token):
    from app.accounts.directory import add_user, get_user

    with web_services.session() as s:
        add_user(s, "leaver", groups=["everyone"])
    token = make_token("leaver", "documents:read")
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 200
    with web_services.session() as s:
        s.delete(get_user(s, "leaver"))
    assert_refused(client.get("/api/v1/documents", headers=bearer(token)), 401)


def test_the_schema_documents_exactly_the_api_and_every_operation_is_in_the_matrix(client):
    schema = client.get("/api/v1/openapi.json").json()
    operations = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert operations == {(m, p) for m, p, _, _ in ROUTES}
    assert all(p.startswith(("/api/v1/", "/v1/")) for _, p in operations)  # no HTML page in it
    assert "text/event-stream" in schema["paths"]["/api/v1/ask/stream"]["post"]["responses"]["200"]["content"]
    assert client.get("/openapi.json").status_code == 404 and client.get("/docs").status_code in (303, 404)


def test_disabling_the_owner_stops_their_tokens_at_the_next_request(client, web_services, make_token):
    from app.accounts.directory import add_user, get_user

    with web_services.session() as s:
        add_user(s, "suspended", groups=["everyone"])
    token = make_token("suspended", "documents:read")
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 200
    with web_services.session() as s:
        get_user(s, "suspended").disabled = True
    assert_refused(client.get("/api/v1/documents", headers=bearer(token)), 401)
    with web_services.session() as s:
        get_user(s, "suspended").disabled = False
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 200
