"""Administration through the real app: users (create, role, password, disable) and groups
(create, members, owners), and every way in for someone who is not an administrator: no
session, an employee, a content owner, no CSRF token, a disabled user's surviving session."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from app.accounts import sessions
from app.accounts.directory import acl_tokens, add_user, get_user
from tests.web.conftest import PASSWORD, SECRET, csrf_of, login

NEW_PASSWORD = "another long passphrase 42"
PAGES = ("/admin/users", "/admin/groups")
WRITES = ("/admin/users", "/admin/users/role", "/admin/users/password", "/admin/users/disable",
          "/admin/users/enable", "/admin/groups", "/admin/groups/members", "/admin/groups/members/remove",
          "/admin/groups/owners")


@pytest.fixture(scope="module", autouse=True)
def people(web_services):
    with web_services.session() as session:
        add_user(session, "olga", role="owner", groups=["everyone"], password=PASSWORD)
        for name in ("dora", "petra", "nils", "gro"):
            add_user(session, name, groups=["everyone"], password=PASSWORD)


def signed_in(client, name: str, password: str = PASSWORD) -> str:
    r = login(client, name, password)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def second(web_app):
    """Another browser, with its own cookies."""
    with TestClient(web_app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def tokens_of(services, name: str) -> list[str]:
    with services.session() as session:
        return acl_tokens(session, get_user(session, name))


def test_admin_pages_need_a_session(client):
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path
    for path in WRITES:
        assert client.post(path, data={"name": "dora", "role": "admin"}).status_code in (303, 401), path
    assert get_role(client.app.state.services, "dora") == "employee"


def get_role(services, name: str) -> str:
    with services.session() as session:
        return get_user(session, name).role


@pytest.mark.parametrize("who", ["sofie", "olga"])
def test_employees_and_content_owners_get_no_admin_page_and_change_nothing(client, web_services, who):
    csrf = signed_in(client, who)
    assert 'href="/admin/users"' not in client.get("/").text
    for path in PAGES:
        assert client.get(path).status_code == 403, path
    for path in WRITES:
        r = client.post(path, data={"csrf": csrf, "name": who, "role": "admin", "password": NEW_PASSWORD,
                                     "group": "board", "owner": "on"})
        assert r.status_code == 403, path
    assert get_role(web_services, who) != "admin"
    with web_services.session() as session:
        assert "board" not in {g.name for g in get_user(session, who).groups}  # not let into the board


def test_an_admin_sees_users_and_groups_with_the_header_link(client):
    signed_in(client, "ivar")
    assert 'href="/admin/users"' in client.get("/").text
    users = client.get("/admin/users").text
    assert 'data-user="sofie"' in users and 'data-user="ivar"' in users and "Create user" in users
    groups = client.get("/admin/groups").text
    assert 'data-group="board"' in groups and 'data-member="bob"' in groups


def test_creating_a_user_needs_csrf_and_a_long_password_and_then_they_can_sign_in(client, second):
    csrf = signed_in(client, "ivar")
    form = {"name": "kari", "password": NEW_PASSWORD, "role": "employee", "groups": ["everyone"]}
    assert client.post("/admin/users", data=form).status_code == 403  # no CSRF
    assert client.post("/admin/users", data={**form, "csrf": csrf, "password": "short"}).status_code == 400
    r = client.post("/admin/users", data={**form, "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/users?done=")
    assert client.post("/admin/users", data={**form, "csrf": csrf}).status_code == 400  # the name is taken
    assert client.post("/admin/users", data={**form, "csrf": csrf, "name": "x", "role": "king"}).status_code == 400
    assert login(second, "kari", NEW_PASSWORD).status_code == 303


def test_a_new_role_counts_from_the_users_next_request(client, second, web_services):
    signed_in(second, "dora")
    assert second.get("/documents").status_code == 403
    csrf = signed_in(client, "ivar")
    assert client.post("/admin/users/role", data={"csrf": csrf, "name": "dora", "role": "owner"}).status_code == 303
    assert second.get("/documents").status_code == 200
    assert 'href="/documents"' in second.get("/").text
    r = client.post("/admin/users/role", data={"csrf": csrf, "name": "ivar", "role": "employee"})
    assert r.status_code == 400 and get_role(web_services, "ivar") == "admin"  # no admin demotes themselves


def test_a_password_reset_ends_the_users_sessions_and_only_the_new_password_works(client, second):
    signed_in(second, "petra")
    assert second.get("/").status_code == 200
    csrf = signed_in(client, "ivar")
    assert client.post("/admin/users/password", data={"csrf": csrf, "name": "petra", "password": "short"}
                       ).status_code == 400
    r = client.post("/admin/users/password", data={"csrf": csrf, "name": "petra", "password": NEW_PASSWORD})
    assert r.status_code == 303
    assert second.get("/").headers["location"].startswith("/login")  # the old session is gone
    assert login(second, "petra", PASSWORD).status_code == 401
    assert login(second, "petra", NEW_PASSWORD).status_code == 303


def test_disabling_a_user_ends_their_session_at_once_and_they_read_nothing(client, second, web_services):
    signed_in(second, "nils")
    assert second.get("/").status_code == 200 and tokens_of(web_services, "nils")
    csrf = signed_in(client, "ivar")
    assert client.post("/admin/users/disable", data={"name": "nils"}).status_code == 403  # no CSRF
    assert client.post("/admin/users/disable", data={"csrf": csrf, "name": "nils"}).status_code == 303
    r = second.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert second.get(f"/documents/{web_services.doc_ids['handbook.md']}/file").status_code == 303
    assert login(second, "nils").status_code == 401  # same message as a wrong password
    assert tokens_of(web_services, "nils") == []
    assert 'data-user="nils" data-state="disabled"' in client.get("/admin/users").text
    assert client.post("/admin/users/disable", data={"csrf": csrf, "name": "ivar"}).status_code == 400  # not self
    assert client.post("/admin/users/enable", data={"csrf": csrf, "name": "nils"}).status_code == 303
    assert login(second, "nils").status_code == 303


def test_a_disabled_users_surviving_session_resolves_to_nobody(client, web_services):
    """Should a session row outlive the disable (a backup restored, a race), it still opens nothing."""
    from app.accounts.actions import set_disabled
    from app.accounts.actor import Actor

    set_disabled(web_services, Actor.operator(), "gro", True)
    with web_services.session() as session:
        token = sessions.begin(session, get_user(session, "gro"))
    client.cookies.set("inhouse_session", token)
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with web_services.session() as session:
        assert sessions.sessions_of(session, get_user(session, "gro").id) == 0  # and it is removed


def test_groups_members_and_owners_take_effect_on_the_next_request(client, second, web_services):
    csrf = signed_in(client, "ivar")
    assert client.post("/admin/groups", data={"name": "legal"}).status_code == 403  # no CSRF
    assert client.post("/admin/groups", data={"csrf": csrf, "name": "legal"}).status_code == 303
    assert client.post("/admin/groups", data={"csrf": csrf, "name": "  "}).status_code == 400
    assert 'data-group="legal"' in client.get("/admin/groups").text

    signed_in(second, "olga")
    assert 'value="board"' not in second.get("/documents/upload").text
    board = web_services.doc_ids["board-minutes.md"]
    assert second.get(f"/documents/{board}").status_code == 404
    r = client.post("/admin/groups/members", data={"csrf": csrf, "group": "board", "name": "olga", "owner": "on"})
    assert r.status_code == 303
    assert 'value="board"' in second.get("/documents/upload").text  # she may grant it now
    page = second.get(f"/documents/{board}").text
    assert SECRET in page  # a member now: she reads the board's documents
    assert "Change access" in page
    r = client.post("/admin/groups/owners", data={"csrf": csrf, "group": "board", "name": "olga"})
    assert r.status_code == 303 and 'value="board"' not in second.get("/documents/upload").text
    assert "Change access" not in second.get(f"/documents/{board}").text  # still a member, no longer owner
    r = client.post("/admin/groups/members/remove", data={"csrf": csrf, "group": "board", "name": "olga"})
    assert r.status_code == 303
    assert second.get(f"/documents/{board}").status_code == 404
    assert client.post("/admin/groups/members", data={"csrf": csrf, "group": "nope", "name": "olga"}
                       ).status_code == 400
