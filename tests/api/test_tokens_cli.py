"""`inhouse tokens create|list|revoke` from the shell: the token is shown once and stored only as a hash;
scopes, expiry and the owner's role are checked when it is made; a revoked token is listed as revoked."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app


@pytest.fixture
def cli(tmp_path, models_dir, monkeypatch):
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        if "--json" in args and code == 0:
            return json.loads(result.stdout)
        return " ".join(result.output.split())

    return invoke


def test_a_token_is_shown_once_and_only_its_hash_is_stored(cli, tmp_path):
    cli("users", "add", "alice", "--json")
    made = cli("tokens", "create", "alice", "--name", "intranet bot", "--scopes", "ask,search", "--json")
    token = made["token"]
    assert token.startswith("ih_") and len(token) == 3 + 43  # base64url of 32 random bytes: 256 bits
    assert made["scopes"] == ["ask", "search"] and made["state"] == "active" and made["last_used_at"] is None
    assert token.startswith(made["prefix"]) and len(made["prefix"]) < 12
    listed = cli("tokens", "list", "--json")["tokens"]
    assert [t["name"] for t in listed] == ["intranet bot"] and "token" not in listed[0]
    assert token not in json.dumps(listed)
    database = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("inhouse.db*"))
    assert token.encode() not in database and token[3:].encode() not in database
    other = cli("tokens", "create", "alice", "--name", "second", "--json")["token"]
    assert other != token, "many tokens per user, each its own secret"


def test_expiry_is_mandatory_and_at_most_a_year(cli):
    from datetime import datetime, timedelta, timezone

    cli("users", "add", "alice", "--json")
    made = cli("tokens", "create", "alice", "--name", "default", "--json")
    expires = datetime.fromisoformat(made["expires_at"])
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=90))) < timedelta(minutes=1)
    assert made["scopes"] == ["ask"]
    assert "1 to 365 days" in cli("tokens", "create", "alice", "--name", "forever", "--days", "366", code=1)
    assert "1 to 365 days" in cli("tokens", "create", "alice", "--name", "none", "--days", "0", code=1)


def test_scopes_are_checked_against_the_list_and_the_owners_role(cli):
    cli("users", "add", "alice", "--json")
    cli("users", "add", "root", "--role", "admin", "--json")
    assert "unknown scope 'chat'" in cli("tokens", "create", "alice", "--name", "x", "--scopes", "chat", code=1)
    assert "at least one scope" in cli("tokens", "create", "alice", "--name", "x", "--scopes", ",", code=1)
    assert "needs the role admin" in cli("tokens", "create", "alice", "--name", "x", "--scopes", "admin", code=1)
    assert cli("tokens", "create", "root", "--name", "x", "--scopes", "admin", "--json")["scopes"] == ["admin"]
    assert "no user named 'carol'" in cli("tokens", "create", "carol", "--name", "x", code=1)
    assert "needs a name" in cli("tokens", "create", "alice", "--name", " ", code=1)


def test_revoke_marks_the_token_and_list_filters_by_user(cli):
    cli("users", "add", "alice", "--json")
    cli("users", "add", "bob", "--json")
    a = cli("tokens", "create", "alice", "--name", "a", "--json")
    cli("tokens", "create", "bob", "--name", "b", "--json")
    revoked = cli("tokens", "revoke", str(a["id"]), "--json")
    assert revoked["state"] == "revoked" and revoked["revoked_at"]
    assert [(t["name"], t["state"]) for t in cli("tokens", "list", "--user", "alice", "--json")["tokens"]] == [
        ("a", "revoked")]
    assert "no token 999" in cli("tokens", "revoke", "999", code=1)
    assert "revoked token" in cli("tokens", "revoke", str(a["id"]))
