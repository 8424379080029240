"""Every listing and result command prints exactly one JSON document with --json; --filter narrows a search
and refuses what it cannot parse; a password is stored hashed. All through the command line."""

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

    def invoke(*args: str, code: int = 0, stdin: str | None = None):
        result = runner.invoke(app, list(args), input=stdin)
        assert result.exit_code == code, result.output
        if "--json" in args and code == 0:
            return json.loads(result.stdout)  # one document, nothing else on stdout
        return " ".join(result.output.split())

    return invoke


def test_accounts_commands_print_one_json_document_each(cli):
    assert cli("groups", "add", "hr", "--json") == {"id": 1, "name": "hr", "members": []}
    assert cli("users", "add", "alice", "--groups", "hr", "--json")["groups"] == ["hr"]
    cli("users", "add", "bob", "--json")
    assert cli("groups", "grant", "hr", "bob", "--json") == {"id": 1, "name": "hr", "members": ["alice", "bob"]}
    assert cli("groups", "revoke", "hr", "alice", "--json") == {"id": 1, "name": "hr", "members": ["bob"]}
    assert cli("groups", "list", "--json") == {"groups": [{"id": 1, "name": "hr", "members": ["bob"]}]}
    assert [(u["name"], u["groups"]) for u in cli("users", "list", "--json")["users"]] == [
        ("alice", []), ("bob", ["hr"])]
    assert "no user named 'carol'" in cli("groups", "grant", "hr", "carol", "--json", code=1)


def test_a_password_is_stored_hashed_and_only_the_right_one_verifies(cli, make_services):
    from app.accounts.directory import verify_password
    from app.db.accounts import User

    cli("users", "add", "alice", "--password-stdin", "--json", stdin="correct horse battery\n")
    cli("users", "add", "bob", "--password-stdin", "--json", stdin="correct horse battery\n")
    assert "no password was read" in cli("users", "add", "carol", "--password-stdin", stdin="\n", code=1)
    with make_services().session() as session:
        alice, bob = (session.query(User).filter_by(name=n).one().password_hash for n in ("alice", "bob"))
    assert "correct horse" not in alice and alice.startswith("scrypt$")
    assert alice != bob, "salted: the same password never gives the same stored value"
    assert verify_password("correct horse battery", alice)
    assert not verify_password("correct horse batterY", alice) and not verify_password("", alice)


def test_documents_manifest_and_filters_from_the_shell(cli, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave\n\nEmployees get 25 days of paid leave a year.\n")
    (folder / "leave.txt").write_text("Leave for contractors: contractors get no paid leave days.\n")
    (folder / "manifest.json").write_text(json.dumps({
        "groups": ["hr"], "users": [{"name": "alice", "groups": ["hr"]}],
        "documents": [{"path": "leave.md", "groups": ["hr"], "owner": "alice"},
                      {"path": "leave.txt", "groups": ["hr"]}]}))
    imported = cli("import-manifest", str(folder / "manifest.json"), "--json")["documents"]
    assert [(d["status"], d["chunks"]) for d in imported] == [("ready", 1), ("ready", 1)]
    md, txt = (d["id"] for d in imported)
    assert "bad manifest" in cli("import-manifest", str(folder / "leave.md"), code=1)

    [shown] = cli("docs", "show", md[:10], "--json")["documents"]
    assert shown["id"] == md and shown["groups"] == ["hr"] and shown["status"] == "ready"
    assert [c["chunk_no"] for c in shown["chunk_list"]] == [0]

    def found(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return [h["doc_id"] for h in cli("search", "paid leave days", "--as", "alice", "--json", *args)["hits"]]

    assert set(found()) == {md, txt}
    assert found("type=md") == [md] and found("type=txt") == [txt]
    assert found("owner=alice") == [md]
    assert found("source=leave.txt") == [txt] and set(found("source=leave.md,leave.txt")) == {md, txt}
    assert set(found("after=2020-01-01")) == {md, txt} and found("before=2020-01-01") == []
    assert "KEY=VALUE" in cli("search", "x", "--as", "alice", "--filter", "type", code=1)
    assert "ISO date" in cli("search", "x", "--as", "alice", "--filter", "after=last tuesday", code=1)
    assert "unknown filter 'colour'" in cli("search", "x", "--as", "alice", "--filter", "colour=red", code=1)
