"""An access change holds whatever happens to the document's new version (research/redteam.md L1).

The owner of a document readable by ``everyone`` uploads a new version with
``--groups board``. Whether that version is empty, corrupt, over the size limit,
refused by the index or killed half-way, a reader outside ``board`` must not get
the old version's passages in ``search`` or ``ask`` from that moment on, and the
document still says what readers get: ready, in its previous version, with the
reason the update failed.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app

DRAFT = ("# Product roadmap draft\n\nMarker STALEMARK4242. The next product is the Kestrel drone, launching in "
         "May.\nIts target price is 2300 zorblats per unit.\n")
QUESTION = "What is the target price of the Kestrel drone?"


@pytest.fixture
def inhouse(tmp_path, models_dir, monkeypatch):
    """The CLI, in this process, on a fresh data directory; returns the parsed --json output."""
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("INHOUSE_ANSWER_MODE", "extractive")
    runner = CliRunner()

    def run(*args: str, env: dict | None = None, ok: bool = True) -> dict:
        result = runner.invoke(app, [*args, "--json"], env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if result.stdout.strip() else {}

    return run


@pytest.fixture
def roadmap(inhouse, tmp_path) -> tuple[Path, str]:
    """eve (everyone) and bob (everyone, board); the roadmap ingested for everyone."""
    for group in ("everyone", "board"):
        inhouse("groups", "add", group)
    inhouse("users", "add", "eve", "--groups", "everyone")
    inhouse("users", "add", "bob", "--groups", "everyone,board")
    draft = tmp_path / "docs" / "roadmap.md"
    draft.parent.mkdir()
    draft.write_text(DRAFT)
    [doc] = inhouse("ingest", str(draft), "--groups", "everyone")["documents"]
    assert doc["status"] == "ready"
    assert _sees_the_draft(inhouse, "eve"), "before the change eve reads it (the test is not vacuous)"
    return draft, doc["id"]


def _sees_the_draft(inhouse, user: str) -> bool:
    hits = inhouse("search", "Kestrel drone target price", "--as", user, "--k", "20")["hits"]
    return any("STALEMARK4242" in h["text"] for h in hits)


def _answer_cites_the_draft(inhouse, user: str, doc_id: str) -> bool:
    answer = inhouse("ask", QUESTION, "--as", user)
    return "2300" in answer["answer"] or any(c["doc_id"] == doc_id for c in answer["citations"])


def _document(inhouse, doc_id: str) -> dict:
    [doc] = [d for d in inhouse("docs", "list")["documents"] if d["id"] == doc_id]
    return doc


def _empty(draft: Path) -> dict:
    draft.write_bytes(b"")
    return {}


def _corrupt(draft: Path) -> dict:
    draft.write_bytes(b"%PDF-1.7\n" + os.urandom(4000))
    return {}


def _too_large(draft: Path) -> dict:
    draft.write_text(DRAFT + "The launch moves to June.\n")
    return {"INHOUSE_MAX_FILE_BYTES": "100"}


@pytest.mark.parametrize("break_it", [_empty, _corrupt, _too_large], ids=["empty", "corrupt", "too-large"])
def test_a_failed_new_version_still_takes_the_new_access(inhouse, roadmap, break_it):
    draft, doc_id = roadmap
    env = break_it(draft)
    [attempt] = inhouse("ingest", str(draft), "--groups", "board", env=env, ok=False)["documents"]
    assert attempt["status"] == "failed" and attempt["error"]

    assert not _sees_the_draft(inhouse, "eve")
    assert not _answer_cites_the_draft(inhouse, "eve", doc_id)
    assert _sees_the_draft(inhouse, "bob"), "board members read the previous version"
    assert _answer_cites_the_draft(inhouse, "bob", doc_id)

    doc = _document(inhouse, doc_id)  # it says what readers get: the previous version, and why not the new one
    assert doc["groups"] == ["board"] and doc["status"] == "ready" and doc["chunks"] == 1
    assert "last update failed" in doc["error"] and attempt["error"] in doc["error"]

    assert inhouse("jobs", "resume")["documents"] == []  # nothing left half-done
    assert not _sees_the_draft(inhouse, "eve")
    inhouse("ingest", str(draft), "--groups", "board", env=env, ok=False)  # a retry of the same file
    assert not _sees_the_draft(inhouse, "eve")
    assert _document(inhouse, doc_id)["status"] == "ready"


def test_a_new_version_whose_index_write_fails_still_takes_the_new_access(roadmap, inhouse, make_services,
                                                                           monkeypatch, tmp_path):
    draft, doc_id = roadmap
    draft.write_text(DRAFT + "The launch moves to June.\n")
    services = make_services()
    from app.ingestion import IngestService

    def disk_error(points):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(services.index, "upsert", disk_error)
    [attempt] = IngestService(services).ingest_paths([draft], groups=["board"])
    assert attempt.status == "failed" and "Input/output error" in attempt.error
    services.close()  # hand the index to the CLI

    assert not _sees_the_draft(inhouse, "eve")
    assert not _answer_cites_the_draft(inhouse, "eve", doc_id)
    assert _sees_the_draft(inhouse, "bob")
    doc = _document(inhouse, doc_id)
    assert (doc["groups"], doc["status"]) == (["board"], "ready") and "Input/output error" in doc["error"]

    [retried] = inhouse("ingest", str(draft), "--groups", "board")["documents"]  # the disk is back
    assert retried["status"] == "ready"
    assert _document(inhouse, doc_id)["error"] is None
    assert not _sees_the_draft(inhouse, "eve")


def test_an_access_change_the_index_cannot_take_is_refused_not_half_made(roadmap, inhouse, make_services):
    """Another process holds the index: the change is refused as a whole, and the database says so."""
    draft, doc_id = roadmap
    holder = make_services()
    holder.index.count()  # this process now holds the embedded index, as `inhouse serve` would
    try:
        [attempt] = inhouse("ingest", str(draft), "--groups", "board", ok=False)["documents"]
    finally:
        holder.close()
    assert attempt["status"] == "failed" and "not changed" in attempt["error"]
    doc = _document(inhouse, doc_id)
    assert doc["groups"] == ["everyone"], "the database never claims an access the index does not enforce"
    assert doc["status"] == "ready" and "not changed" in doc["error"]

    [retried] = inhouse("ingest", str(draft), "--groups", "board")["documents"]  # the other process stopped
    assert retried["status"] == "ready"
    assert not _sees_the_draft(inhouse, "eve") and _sees_the_draft(inhouse, "bob")
    assert _document(inhouse, doc_id)["error"] is None
