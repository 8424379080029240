"""A deleted document's text is nowhere in the data directory (issue 15, W2), on both index backends.

Deleting only marks points deleted in Qdrant, leaves old pages in SQLite's free
list and write-ahead log, and an earlier version's original in ``files/``; the
red team found the text of deleted documents in all of them. Here a document is
ingested, asked about, replaced by a new version and deleted through the CLI, and
then every byte of every file under the data directory is searched for the
unique markers both versions held.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OLD, NEW = "QZXOLDMARK7731", "QZXNEWMARK5519"
KEEP = "QZXKEEPMARK2024"


def inhouse(env: dict, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "app", *args, "--json"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def files_holding(folder: Path, marker: str) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and marker.encode() in p.read_bytes())


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_a_deleted_document_leaves_no_byte_of_its_text_in_the_data_directory(tmp_path, models_dir, backend):
    data = tmp_path / "data"
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_INDEX_BACKEND": backend, "INHOUSE_GENERATOR_MAX_TOKENS": "16", "INHOUSE_ANSWER_PASSAGES": "2"}
    memo, other = tmp_path / "memo.md", tmp_path / "other.md"
    memo.write_text(f"# Reorganisation\n\nThe Bergen office closes in May; code name {OLD}.\n")
    other.write_text(f"# Canteen\n\nThe canteen serves fish on Fridays ({KEEP}).\n")
    inhouse(env, "users", "add", "hana", "--groups", "hr")
    [doc] = inhouse(env, "ingest", str(memo), "--groups", "hr")["documents"]
    inhouse(env, "ingest", str(other), "--public")
    assert inhouse(env, "ask", f"What is the code name {OLD}?", "--as", "hana")["answer_id"]

    memo.write_text(f"# Reorganisation\n\nThe Bergen office closes in June; code name {NEW}.\n")
    [again] = inhouse(env, "ingest", str(memo), "--groups", "hr")["documents"]
    assert (again["id"], again["status"]) == (doc["id"], "ready")
    assert [f for f in files_holding(data, OLD) if f.startswith(("files/", "text/"))] == [], (
        "an earlier version's original is gone once it is replaced")
    inhouse(env, "ask", f"What is the code name {NEW}?", "--as", "hana")

    inhouse(env, "docs", "delete", doc["id"])
    assert (files_holding(data, OLD), files_holding(data, NEW)) == ([], [])
    assert files_holding(data, KEEP), "the other document is still there"
    hits = inhouse(env, "search", "canteen fish Fridays", "--as", "hana")["hits"]
    assert any(KEEP in h["text"] for h in hits), "the index still answers after compaction"
