"""An ingestion killed with SIGKILL mid-way resumes and ends with exactly the right chunks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import long_text

REPO = Path(__file__).resolve().parents[2]


def _cli(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_sigkill_mid_ingest_then_resume_gives_exact_chunks(tmp_path, models_dir, shared_encoder):
    data = tmp_path / "data"
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_EMBED_BATCH_SIZE": "8"}
    assert _cli(env, "groups", "add", "hr").returncode == 0
    big = tmp_path / "manual.md"
    big.write_text("# Operations manual\n\n" + long_text(500, seed=7))

    proc = subprocess.Popen([sys.executable, "-m", "app", "ingest", str(big), "--groups", "hr"], env=env,
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = data / "inhouse.db"
    deadline = time.time() + 240
    done = total = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            with sqlite3.connect(db, timeout=5) as conn:
                row = conn.execute("select chunks_done, chunks_total from ingest_jobs").fetchone()
            if row and row[0] > 0:
                done, total = row
                break
        time.sleep(0.1)
    assert proc.poll() is None, "ingestion finished before it could be killed: make the document bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < done < total, (done, total)

    with sqlite3.connect(db) as conn:
        assert conn.execute("select status from ingest_jobs").fetchone()[0] == "running"
        doc_id, status = conn.execute("select id, status from documents").fetchone()
    assert status == "processing"

    resumed = _cli(env, "jobs", "resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    [doc] = json.loads(resumed.stdout)["documents"]
    assert doc["status"] == "ready" and doc["chunks"] == total

    # exactly the points a clean run produces: no duplicates, none missing
    from app.settings import Settings
    from ingest.pipeline import prepare_chunks
    from retrieval.edge_index import EdgeIndex
    from retrieval.schema import point_id

    settings = Settings(data_dir=data, models_dir=models_dir)
    expected = {point_id(doc_id, c.chunk_no, c.text_sha) for c in prepare_chunks(big, settings.preparation(), shared_encoder).chunks}
    index = EdgeIndex(settings.qdrant_dir / settings.collection)
    try:
        assert set(index.ids()) == expected
        assert index.count() == len(expected) == total
    finally:
        index.close()
    with sqlite3.connect(db) as conn:
        assert {r[0] for r in conn.execute("select id from chunks")} == expected
        assert conn.execute("select status from ingest_jobs").fetchone()[0] == "done"


def _serve_until_healthy(env: dict) -> None:
    """`inhouse serve` resumes unfinished jobs before /healthz says ok; then it is stopped."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.stderr.read()[-3000:]
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200 and health.json()["status"] == "ok":
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become healthy within 240 s"
            time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("backend,resume", [("edge", "ingest"), ("server", "serve")])
def test_a_replacement_killed_half_way_is_finished_by_the_next_ingest_or_serve_with_only_the_new_points(
    tmp_path, models_dir, shared_encoder, make_services, backend, resume
):
    """The riskier kill: a ready document is being replaced, so both versions' points may be in the index."""
    from app.accounts.actor import Actor
    from app.library.actions import ingest_paths
    from ingest.pipeline import prepare_chunks
    from retrieval.schema import IndexFilter, point_id

    manual = tmp_path / "manual.md"
    manual.write_text("# Operations manual\n\n" + long_text(20, seed=1))
    small = {"chunk_size": 64, "chunk_overlap": 0}  # small chunks embed fast: many batches in little time
    services = make_services(index_backend=backend, **small)
    [first] = ingest_paths(services, Actor.operator(), [manual], [], public=True)
    old_ids = set(services.index.ids(IndexFilter(doc_ids=[first.id])))
    assert first.status == "ready" and len(old_ids) == first.chunks > 3
    services.close()

    manual.write_text("# Operations manual, second edition\n\n" + long_text(90, seed=2))
    data = services.settings.data_dir
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_EMBED_BATCH_SIZE": "8", "INHOUSE_INDEX_BACKEND": backend, "INHOUSE_CHUNK_SIZE": "64",
           "INHOUSE_CHUNK_OVERLAP": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "ingest", str(manual), "--public"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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

    if resume == "ingest":  # any later ingest first finishes what was left
        other = tmp_path / "parking.md"
        other.write_text("# Parking\n\nVisitors park on level 2 of the garage.\n")
        ran = _cli(env, "ingest", str(other), "--public", "--json")
        assert ran.returncode == 0, ran.stderr
    else:
        _serve_until_healthy(env)

    services = make_services(index_backend=backend, **small)
    prepared = prepare_chunks(manual, services.settings.preparation(), shared_encoder)
    expected = {point_id(first.id, c.chunk_no, c.text_sha) for c in prepared.chunks}
    assert set(services.index.ids(IndexFilter(doc_ids=[first.id]))) == expected, "the new version, whole"
    assert not expected & old_ids
    with services.session() as session:
        from app.library.documents import get_document

        doc = get_document(session, first.id)
        assert (doc.status, doc.chunk_count) == ("ready", len(expected)) and len(expected) > 128


KILL_AFTER_FLUSH = '''
import os, signal
import ingest.writer

_flush = ingest.writer.ChunkWriter.flush

def flush_then_die(self):
    _flush(self)  # the batch is durable in the index; the database has not recorded it yet
    os.kill(os.getpid(), signal.SIGKILL)

ingest.writer.ChunkWriter.flush = flush_then_die
'''


@pytest.mark.slow
def test_a_kill_after_the_index_flush_before_the_database_commit_is_finished_by_jobs_resume(
    tmp_path, models_dir, shared_encoder, make_services
):
    """The narrowest window: the new version's points are durable and the old ones deleted, the SQL rows are not.

    A SIGKILL at exactly that point (the process kills itself right after the real flush returns,
    through a sitecustomize the subprocess loads) must leave readers the document and let
    ``inhouse jobs resume`` finish it with exactly the new version's points and chunk rows.
    """
    from sqlalchemy import select

    from app.accounts.actor import Actor
    from app.library.documents import get_document
    from app.library.actions import ingest_paths
    from app.db.library import Chunk
    from ingest.pipeline import prepare_chunks
    from retrieval.schema import IndexFilter, point_id

    policy = tmp_path / "policy.md"
    policy.write_text("# Travel policy\n\nTrain tickets are booked through the travel desk.\n")
    services = make_services()
    [first] = ingest_paths(services, Actor.operator(), [policy], [], public=True)
    old_ids = set(services.index.ids(IndexFilter(doc_ids=[first.id])))
    services.close()

    policy.write_text("# Travel policy, 2027\n\nFlights over 4 hours may be booked in premium economy.\n")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_AFTER_FLUSH)
    data = services.settings.data_dir
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir)}
    killed = _cli({**env, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)])}, "ingest", str(policy), "--public")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    expected = {point_id(first.id, c.chunk_no, c.text_sha)
                for c in prepare_chunks(policy, services.settings.preparation(), shared_encoder).chunks}
    services = make_services()
    assert set(services.index.ids(IndexFilter(doc_ids=[first.id]))) == expected, "the index has the new version"
    with services.session() as session:
        assert {c.id for c in session.scalars(select(Chunk).where(Chunk.document_id == first.id))} == old_ids
    services.close()

    resumed = _cli(env, "jobs", "resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    [doc] = json.loads(resumed.stdout)["documents"]
    assert doc["status"] == "ready" and doc["id"] == first.id

    services = make_services()
    assert set(services.index.ids(IndexFilter(doc_ids=[first.id]))) == expected
    with services.session() as session:
        assert {c.id for c in session.scalars(select(Chunk).where(Chunk.document_id == first.id))} == expected
        assert get_document(session, first.id).status == "ready"
    hits = services.searcher.search("premium economy flights", ["public"], k=3)
    assert hits and hits[0].doc_id == first.id and "premium economy" in hits[0].text
