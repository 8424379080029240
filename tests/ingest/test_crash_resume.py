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
