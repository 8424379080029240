"""The SQL job queue: atomic claims by several workers, heartbeats, and the takeover of a dead worker's job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.factories import long_text

REPO = Path(__file__).resolve().parents[2]

CLAIMER = """
import json, sys
from app.library.job_queue import claim, new_worker_id
from app.services import build_services
from app.settings import Settings

services = build_services(Settings())
me, got = new_worker_id(), []
while ids := claim(services, me, limit=1):
    got += ids
print(json.dumps({"worker": me, "jobs": got}))
"""


def _queue(services, tmp_path: Path, n: int) -> list[int]:
    from app.library.ingestion import IngestService

    ingest, ids = IngestService(services), []
    for i in range(n):
        path = tmp_path / f"note-{i}.md"
        path.write_text(f"# Note {i}\n\nNote number {i} says something of its own.\n")
        ids.append(ingest.register(path, tmp_path, ["hr"]).job.id)
    return ids


def _hr(services) -> None:
    from app.accounts.actions import create_group
    from app.accounts.actor import Actor

    create_group(services, Actor.operator(), "hr")


def _jobs(services) -> dict[int, tuple]:
    from app.db.library import IngestJob

    with services.session() as session:
        return {j.id: (j.status, j.worker_id, j.attempts, j.error, j.chunks_done, j.chunks_total)
                for j in session.query(IngestJob)}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_worker_processes_claim_disjoint_jobs(database, tmp_path, make_services, request):
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    services = make_services(**({"database_url": url} if url else {}))
    _hr(services)
    queued = _queue(services, tmp_path, 40)
    env = {**os.environ, "INHOUSE_DATA_DIR": str(services.settings.data_dir),
           **({"INHOUSE_DATABASE_URL": url} if url else {})}
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER], env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    a, b = (json.loads(o[0]) for o in outs)
    assert not set(a["jobs"]) & set(b["jobs"])
    assert sorted(a["jobs"] + b["jobs"]) == queued
    rows = _jobs(services)
    for worker in (a, b):
        assert all(rows[j][:3] == ("running", worker["worker"], 1) for j in worker["jobs"])


def test_a_stale_heartbeat_is_taken_over_and_too_many_attempts_fail_with_the_reason(tmp_path, make_services):
    from app.library.job_queue import claim, reap
    from app.db.base import utcnow
    from app.db.library import Document, IngestJob

    services = make_services(job_stale_s=30, job_max_attempts=3)
    _hr(services)
    alive, stale, tired, orphan = _queue(services, tmp_path, 4)
    fresh, old = utcnow(), utcnow() - timedelta(seconds=31)
    with services.session() as session:
        for job_id, worker, beat, attempts in [
            (alive, "elsewhere:1:aa", fresh, 1), (stale, "elsewhere:2:bb", old, 1),
            (tired, "elsewhere:3:cc", old, 3), (orphan, "localhost-gone:1:dd", fresh, 1),
        ]:
            session.execute(update(IngestJob).where(IngestJob.id == job_id).values(
                status="running", worker_id=worker, heartbeat_at=beat, attempts=attempts))
    # a worker on this host whose process is gone is noticed at once, without waiting for the timeout
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    with services.session() as session:
        session.execute(update(IngestJob).where(IngestJob.id == orphan).values(
            worker_id=f"{socket.gethostname()}:{dead.stdout.strip()}:dd"))

    gone = {a.job_id: a.failed for a in reap(services)}
    assert gone == {stale: False, tired: True, orphan: False}
    assert claim(services, "me:1:ee") == [stale, orphan]  # the live worker's job is not taken
    rows = _jobs(services)
    assert rows[alive][:3] == ("running", "elsewhere:1:aa", 1)
    assert rows[stale][:3] == ("running", "me:1:ee", 2)
    assert rows[tired][0] == "failed" and "gave up after 3 attempts" in rows[tired][3]
    with services.session() as session:
        doc = session.get(Document, session.get(IngestJob, tired).document_id)
        assert doc.status == "failed" and "gave up after 3 attempts" in doc.error


def _sql(services, query: str):
    from sqlalchemy import text

    with services.engine.connect() as conn:
        return conn.execute(text(query)).fetchone()


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_job_is_taken_over_by_another_worker_with_exact_chunks(
    database, tmp_path, models_dir, make_services, shared_encoder, request
):
    """SIGKILL `inhouse worker` mid-document; another `inhouse worker` sees the heartbeat go stale and finishes it."""
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    stale_s = 4.0
    services = make_services(**({"database_url": url} if url else {}))
    data = services.settings.data_dir
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_EMBED_BATCH_SIZE": "8", "INHOUSE_JOB_HEARTBEAT_S": "0.5", "INHOUSE_JOB_STALE_S": str(stale_s),
           **({"INHOUSE_DATABASE_URL": url} if url else {})}
    from app.library.ingestion import IngestService
    from app.db.library import IngestJob

    _hr(services)
    big = tmp_path / "manual.md"
    big.write_text("# Operations manual\n\n" + long_text(160, seed=7))  # several write batches, few enough to stay quick
    reg = IngestService(services).register(big, tmp_path, ["hr"])
    job_id, doc_id = reg.job.id, reg.document.id

    def worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "app", "worker", "--poll", "0.5"], env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    first = worker()
    deadline = time.monotonic() + 240
    while True:
        assert first.poll() is None, first.stderr.read()[-3000:]
        done, total = _sql(services, f"select chunks_done, chunks_total from ingest_jobs where id = {job_id}")
        if done > 0:
            break
        assert time.monotonic() < deadline, "the first worker never wrote a batch"
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    status, holder, attempts = _sql(services, f"select status, worker_id, attempts from ingest_jobs where id = {job_id}")
    assert (status, attempts) == ("running", 1) and f":{first.pid}:" in holder
    assert 0 < done < total, (done, total)
    # as if the dead worker ran on another machine: only its silent heartbeat can tell
    with services.session() as session:
        session.execute(update(IngestJob).where(IngestJob.id == job_id).values(worker_id="another-host:1:ab"))

    second = worker()
    try:
        taken_at = None
        while True:
            assert second.poll() is None, second.stderr.read()[-3000:]
            status, holder, attempts = _sql(
                services, f"select status, worker_id, attempts from ingest_jobs where id = {job_id}")
            if taken_at is None and holder not in (None, "another-host:1:ab"):
                taken_at = time.monotonic()
            if status in ("done", "failed"):
                break
            assert time.monotonic() < deadline + 240, "the second worker did not finish the job"
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert status == "done" and attempts == 2 and f":{second.pid}:" in holder
    assert taken_at is not None and taken_at - killed_at >= stale_s - 1.0  # noticed by the heartbeat's age

    from ingest.pipeline import prepare_chunks
    from retrieval.schema import point_id

    expected = {point_id(doc_id, c.chunk_no, c.text_sha)
                for c in prepare_chunks(big, services.settings.preparation(), shared_encoder).chunks}
    assert len(expected) == total
    index = services.index  # the workers are gone: this process may open the index now
    assert set(index.ids()) == expected and index.count() == total
    from sqlalchemy import text

    with services.engine.connect() as conn:
        assert {r[0] for r in conn.execute(text("select id from chunks"))} == expected
        assert conn.execute(text(f"select status, chunk_count from documents where id = '{doc_id}'")).fetchone() \
            == ("ready", total)
