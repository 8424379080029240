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
    from app.library.ingestion import IngestService

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


def test_an_access_change_the_index_cannot_take_is_refused_not_half_made(roadmap, inhouse, make_services,
                                                                         monkeypatch):
    """The index refuses the access write (busy, as when another process holds the shard): the change is
    refused as a whole, and the database says so."""
    draft, doc_id = roadmap
    services = make_services()
    from app.library.ingestion import IngestService
    from retrieval.index import IndexError_

    def busy(where, payload):
        raise IndexError_("cannot open the embedded index: Can't init WAL: WouldBlock")

    monkeypatch.setattr(services.index, "set_payload", busy)
    [attempt] = IngestService(services).ingest_paths([draft], groups=["board"])
    services.close()
    assert attempt.status == "failed" and "not changed" in attempt.error and "WouldBlock" in attempt.error
    doc = _document(inhouse, doc_id)
    assert doc["groups"] == ["everyone"], "the database never claims an access the index does not enforce"
    assert doc["status"] == "ready" and "not changed" in doc["error"]

    [retried] = inhouse("ingest", str(draft), "--groups", "board")["documents"]  # the index is free again
    assert retried["status"] == "ready"
    assert not _sees_the_draft(inhouse, "eve") and _sees_the_draft(inhouse, "bob")
    assert _document(inhouse, doc_id)["error"] is None


@pytest.mark.slow
def test_a_new_version_killed_half_way_already_has_the_new_access_and_resume_finishes_it(
    roadmap, inhouse, tmp_path, models_dir
):
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from tests.factories import long_text

    draft, doc_id = roadmap
    draft.write_text(DRAFT + "\n\n" + long_text(200, seed=3))
    data = tmp_path / "data"
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_EMBED_BATCH_SIZE": "4"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "ingest", str(draft), "--groups", "board"], env=env,
                            cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline, done = time.time() + 240, 0
    while time.time() < deadline and proc.poll() is None and not done:
        with sqlite3.connect(data / "inhouse.db", timeout=5) as conn:
            row = conn.execute("select chunks_done from ingest_jobs where status = 'running'").fetchone()
        done = row[0] if row else 0
        time.sleep(0.05)
    assert proc.poll() is None, "the new version finished before it could be killed: make it bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done > 0

    assert not _sees_the_draft(inhouse, "eve")
    assert not _answer_cites_the_draft(inhouse, "eve", doc_id)
    assert _sees_the_draft(inhouse, "bob")
    assert _document(inhouse, doc_id)["status"] == "ready", "readers get the previous version meanwhile"

    [resumed] = inhouse("jobs", "resume")["documents"]
    assert resumed["status"] == "ready" and resumed["chunks"] > 20
    assert not _sees_the_draft(inhouse, "eve") and _sees_the_draft(inhouse, "bob")
    doc = _document(inhouse, doc_id)
    assert (doc["status"], doc["groups"], doc["error"], doc["chunks"]) == ("ready", ["board"], None,
                                                                         resumed["chunks"])


def test_search_and_ask_trust_the_database_not_a_stale_payload(roadmap, inhouse, make_services):
    """A payload that says more than the database (an index restored from an older backup, a crash
    between the two writes) is not believed: the last check reads the database's access."""
    draft, doc_id = roadmap
    inhouse("ingest", str(draft), "--groups", "board")
    services = make_services()
    from retrieval.schema import IndexFilter

    services.index.set_payload(IndexFilter(doc_ids=[doc_id]), {"acl": ["public"]})  # the stale copy
    services.close()
    assert not _sees_the_draft(inhouse, "eve")
    assert not _answer_cites_the_draft(inhouse, "eve", doc_id)
    assert _document(inhouse, doc_id)["groups"] == ["board"]


def test_a_new_owner_gains_the_document_and_the_old_one_loses_it_at_once(roadmap, inhouse):
    """redteam W5: the owner in the index payload follows the database, so an owner filter tells no history."""
    draft, doc_id = roadmap
    inhouse("users", "add", "olga")
    inhouse("users", "add", "petra")
    inhouse("ingest", str(draft), "--owner", "olga")
    hits = inhouse("search", "Kestrel drone", "--as", "olga", "--filter", "owner=olga")["hits"]
    assert [h["doc_id"] for h in hits] == [doc_id]

    draft.write_text(DRAFT + "The launch moves to June.\n")  # a new version, and one that fails
    env = {"INHOUSE_MAX_FILE_BYTES": "100"}
    [attempt] = inhouse("ingest", str(draft), "--owner", "petra", env=env, ok=False)["documents"]
    assert attempt["status"] == "failed"
    assert inhouse("search", "Kestrel drone", "--as", "olga")["hits"] == []
    assert inhouse("search", "Kestrel drone", "--as", "petra", "--filter", "owner=olga")["hits"] == []
    hits = inhouse("search", "Kestrel drone", "--as", "petra", "--filter", "owner=petra")["hits"]
    assert [h["doc_id"] for h in hits] == [doc_id]
    assert _document(inhouse, doc_id)["owner"] == "petra"


def test_the_same_file_through_a_symlink_is_the_same_document(roadmap, inhouse, tmp_path):
    """redteam W6: restricting a file under another spelling of its path restricts that file."""
    draft, doc_id = roadmap
    alias = tmp_path / "mounted"
    alias.symlink_to(draft.parent, target_is_directory=True)
    [again] = inhouse("ingest", str(alias / draft.name), "--groups", "board")["documents"]
    assert again["id"] == doc_id and again["status"] == "unchanged"
    assert [d["id"] for d in inhouse("docs", "list")["documents"]] == [doc_id]
    assert not _sees_the_draft(inhouse, "eve") and _sees_the_draft(inhouse, "bob")
    [folder] = inhouse("ingest", str(alias), "--groups", "everyone")["documents"]  # the folder, through the link
    assert folder["id"] == doc_id and _sees_the_draft(inhouse, "eve")


def test_a_new_version_refused_for_another_embedding_model_leaves_the_document_ready(roadmap, inhouse):
    """issue 14: the status says what readers get; the refusal is the document's visible last error."""
    draft, doc_id = roadmap
    draft.write_text(DRAFT + "The launch moves to June.\n")
    [attempt] = inhouse("ingest", str(draft), "--groups", "everyone", env={"INHOUSE_EMBED_MODEL": "all-MiniLM-L6-v2"},
                        ok=False)["documents"]
    assert attempt["status"] == "failed" and "inhouse reindex" in attempt["error"]
    [shown] = inhouse("docs", "show", doc_id)["documents"]
    assert shown["status"] == "ready" and shown["chunks"] == 1
    assert shown["error"].startswith("the last update failed") and "inhouse reindex" in shown["error"]
    assert _sees_the_draft(inhouse, "eve")
    [retried] = inhouse("ingest", str(draft), "--groups", "everyone")["documents"]  # with the collection's model
    assert retried["status"] == "ready"
    assert _document(inhouse, doc_id)["error"] is None
