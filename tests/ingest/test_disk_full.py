"""A full disk under the index refuses the file with a clear message; the process lives and a retry finishes.

The index folder is a real tmpfs, mounted for the test, and ``inhouse ingest``
runs in a subprocess: Qdrant Edge maps its files into memory, so a disk that
cannot back a page kills the process with SIGBUS (exit -7) instead of raising.
A monkeypatched flush would not see that; this test does. The collection is
created in this process (step 2) only once a subprocess has shown that the
small disk is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.disk import KEEP_FREE_BYTES, unbacked_bytes
from retrieval.schema import IndexFilter
from tests.factories import long_text

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20
SETTINGS = {"chunk_size": 32, "chunk_overlap": 0, "embed_batch_size": 16}


@pytest.fixture
def index_on_tmpfs(tmp_path):
    """``<data>/qdrant`` on a real 16 MiB tmpfs: too small to create a collection (21 MiB)."""
    folder = tmp_path / "data" / "qdrant"
    folder.mkdir(parents=True)
    folder.parent.chmod(0o700)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root (CAP_SYS_ADMIN): {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Another program's file, leaving exactly ``leave`` bytes free on ``folder``'s disk."""
    ballast = folder / "ballast"
    with ballast.open("wb") as fh:
        todo = shutil.disk_usage(folder).free - leave
        while todo > 0:
            fh.write(b"\1" * min(todo, MIB))
            todo -= MIB
    return ballast


def test_a_full_index_disk_refuses_the_file_clearly_keeps_the_process_alive_and_a_retry_finishes(
    tmp_path, models_dir, shared_encoder, make_services, index_on_tmpfs
):
    env = {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir),
           **{f"INHOUSE_{k.upper()}": str(v) for k, v in SETTINGS.items()}}

    def inhouse(*args: str) -> subprocess.CompletedProcess:
        run = subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode >= 0, f"killed by signal {-run.returncode} (SIGBUS is 7): {run.stderr[-2000:]}"
        return run

    def ingest(*paths: Path) -> tuple[int, dict]:
        run = inhouse("ingest", *map(str, paths), "--public", "--json")
        return run.returncode, {Path(d["path"]).name: d for d in json.loads(run.stdout)["documents"]}

    small = tmp_path / "parking.md"
    small.write_text("# Parking\n\nVisitors park on level 2 of the garage.\n")
    big = tmp_path / "procedures.md"
    big.write_text("# Procedures\n\n" + long_text(12))

    # 1. Too little room for a collection's files: refused before Edge maps one.
    code, docs = ingest(small)
    assert code == 1 and docs["parking.md"]["status"] == "failed"
    assert "is full" in docs["parking.md"]["error"] and "free some space" in docs["parking.md"]["error"]

    # 2. The disk grows; the same file is ingested (here, in this process) and the collection created.
    subprocess.run(["mount", "-o", "remount,size=400m", str(index_on_tmpfs)], check=True)
    from app.accounts.actor import Actor
    from app.library.actions import ingest_paths

    services = make_services(encoder=shared_encoder, **SETTINGS)
    [first] = ingest_paths(services, Actor.operator(), [small], [], public=True)
    assert first.status == "ready"
    services.close()

    # 2b. Loading the shard again fills ~110 MiB of its files: with less room than that, a command that opens
    # the index (here an unchanged file, whose access is rewritten) is refused instead of killed.
    ballast = fill(index_on_tmpfs, 64 * MIB)
    opened = inhouse("ingest", str(small), "--public", "--json")
    assert opened.returncode == 1 and "is full" in " ".join(opened.stderr.split())
    ballast.unlink()

    # 3. Another program leaves just less room than the index's files may take, its margin and the
    # new chunks need. Loading the shard fills ~110 MiB of its files: that much fits, the chunks do not.
    ballast = fill(index_on_tmpfs, unbacked_bytes(index_on_tmpfs) + KEEP_FREE_BYTES + 16 * 1024)
    code, docs = ingest(big)
    assert code == 1 and docs["procedures.md"]["status"] == "failed"
    error = docs["procedures.md"]["error"]
    assert "is full" in error and "Nothing was written" in error and str(index_on_tmpfs) in error

    # 4. Space freed: the retry writes the document whole, and nothing of the refused try is left over.
    ballast.unlink()
    code, docs = ingest(small, big)
    assert code == 0
    assert docs["parking.md"]["status"] == "unchanged"  # still there, not written again
    assert docs["procedures.md"]["status"] == "ready" and docs["procedures.md"]["chunks"] > 8

    index = make_services(encoder=shared_encoder, **SETTINGS).index
    assert index.count(IndexFilter(doc_ids=[docs["procedures.md"]["id"]])) == docs["procedures.md"]["chunks"]
    assert index.count() == docs["procedures.md"]["chunks"] + 1
