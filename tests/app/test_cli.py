"""The command line is an interface: --json prints exactly one JSON document on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def inhouse(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300, input=stdin)


def test_a_content_owner_and_an_employee_from_the_shell(tmp_path, models_dir):
    env = {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir)}
    user = inhouse(env, "users", "add", "alice", "--groups", "hr", "--role", "owner", "--password-stdin", "--json",
                   stdin="s3cret\n")
    assert user.returncode == 0, user.stderr
    assert json.loads(user.stdout) == {"id": 1, "name": "alice", "role": "owner", "groups": ["hr"]}
    assert json.loads(inhouse(env, "users", "add", "nina", "--json").stdout)["groups"] == []
    assert inhouse(env, "users", "add", "alice").returncode == 1  # duplicate: a clear error, not a traceback

    policy = tmp_path / "leave.md"
    policy.write_text("# Leave\n\nEmployees get 25 days of paid leave. Contractors get none.\n")
    ingested = inhouse(env, "ingest", str(policy), str(tmp_path / "missing.pdf"), "--groups", "hr", "--json")
    assert ingested.returncode == 1 and "no such file" in ingested.stderr
    ingested = inhouse(env, "ingest", str(policy), "--groups", "hr", "--owner", "alice", "--json")
    assert ingested.returncode == 0, ingested.stderr
    [doc] = json.loads(ingested.stdout)["documents"]
    assert set(doc) == {"id", "path", "status", "chunks", "error"} and doc["status"] == "ready"

    listed = json.loads(inhouse(env, "docs", "list", "--json").stdout)["documents"]
    assert [(d["id"], d["groups"], d["chunks"]) for d in listed] == [(doc["id"], ["hr"], 1)]

    hits = json.loads(inhouse(env, "search", "paid leave days", "--as", "alice", "--json").stdout)["hits"]
    assert hits and {"doc_id", "title", "source", "page", "chunk_id", "text", "score"} <= set(hits[0])
    assert hits[0]["source"] == "leave.md"
    assert json.loads(inhouse(env, "search", "paid leave days", "--as", "nina", "--json").stdout) == {"hits": []}
    bad = inhouse(env, "search", "x", "--as", "nobody")
    assert bad.returncode == 1 and "no user named 'nobody'" in bad.stderr

    deleted = inhouse(env, "docs", "delete", doc["id"][:8], "--json")
    assert json.loads(deleted.stdout)["documents"][0]["status"] == "deleted"
    assert json.loads(inhouse(env, "docs", "list", "--json").stdout) == {"documents": []}


def test_the_typer_app_alone_has_every_command():
    """Commands are registered explicitly in app/cli/__init__.py, not by importing modules for their side effects."""
    import typer

    from app.cli import app

    def names(group, prefix: str = "") -> set[str]:
        out = set()
        for name, command in group.commands.items():
            out.add(prefix + name)
            if hasattr(command, "commands"):
                out |= names(command, f"{prefix}{name} ")
        return out

    assert names(typer.main.get_command(app)) == {
        "ingest", "import-manifest", "reindex", "search", "ask", "doctor", "serve", "worker",
        "jobs", "jobs resume",
        "docs", "docs list", "docs show", "docs delete",
        "users", "users add", "users list",
        "groups", "groups add", "groups grant", "groups revoke", "groups list",
        "eval", "eval run", "eval compare", "eval tune", "eval list", "eval plot", "eval export-feedback",
        "eval answers", "eval gate",
        "models", "models fetch", "models dequantize", "models convert-gguf",
        "tokens", "tokens create", "tokens list", "tokens revoke",
    }
