"""One process owns the index (issue 18): a running server and the command line on one data directory.

Qdrant Edge allows one open shard per directory and, without a write-ahead
log, no longer refuses a second opener itself. These tests drive what an
operator does: `inhouse serve` in one process, `inhouse ingest`, `search`,
`ask` and `docs delete` in others, at the same time, and two `inhouse ingest`
at once; and they check that a second opener is refused by the lock and that
a killed holder leaves nothing locked.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from retrieval.edge_index import EdgeIndex
from retrieval.lock import IndexBusyError, read_holder
from retrieval.server_index import ServerIndex

REPO = Path(__file__).resolve().parents[2]


def inhouse(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def env(tmp_path, models_dir) -> dict:
    return {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir),
            "INHOUSE_ANSWER_MODE": "extractive"}


def test_a_second_opener_is_refused_in_this_process_and_in_another(tmp_path):
    shard = tmp_path / "qdrant" / "inhouse"
    first = EdgeIndex(shard)
    first.ensure_collection(4)
    with pytest.raises(IndexBusyError, match=f"pid {os.getpid()}"):
        EdgeIndex(shard)
    other = subprocess.run([sys.executable, "-c", f"from pathlib import Path; from retrieval.edge_index import EdgeIndex; "
                            f"EdgeIndex(Path({str(shard)!r}))"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert other.returncode != 0 and "IndexBusyError" in other.stderr and "only one process" in other.stderr
    EdgeIndex(tmp_path / "qdrant" / "eval-abc").close()  # an eval collection has its own lock
    first.close()
    EdgeIndex(shard).close()  # closing released it

    local = ServerIndex("inhouse", path=tmp_path / "qdrant-local")
    with pytest.raises(IndexBusyError):
        ServerIndex("other", path=tmp_path / "qdrant-local")  # local mode: one opener for the whole folder
    local.close()
    ServerIndex("inhouse", path=tmp_path / "qdrant-local").close()


def test_a_killed_holder_releases_the_lock(tmp_path):
    shard = tmp_path / "shard"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import time; from pathlib import Path; from retrieval.edge_index import EdgeIndex; "
         f"i = EdgeIndex(Path({str(shard)!r}));"
         " i.ensure_collection(4); print('open', flush=True); time.sleep(600)"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert read_holder(shard)["pid"] == holder.pid
        with pytest.raises(IndexBusyError, match=f"pid {holder.pid}"):
            EdgeIndex(shard)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    index = EdgeIndex(shard)  # the operating system dropped the dead holder's lock
    assert index.count() == 0
    index.close()


def start_server(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while True:
        assert server.poll() is None, server.stderr.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"] == "ok":
                return server
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not become healthy within 180 s"
        time.sleep(0.5)


def test_the_command_line_works_beside_a_running_server(tmp_path, env):
    from tests.web.test_serve import free_port

    assert inhouse(env, "users", "add", "reader").returncode == 0
    data = Path(env["INHOUSE_DATA_DIR"])
    port = free_port()
    server = start_server(env, port)
    try:
        presence = data / "server.json"
        assert stat.S_IMODE(presence.stat().st_mode) == 0o600
        announced = json.loads(presence.read_text())
        assert announced["url"] == f"http://127.0.0.1:{port}" and announced["pid"] == server.pid
        assert read_holder(data / "qdrant" / "inhouse")["pid"] == server.pid  # it holds the index

        # the operator channel: nothing without the secret, nothing from a browser even with it
        route = f"http://127.0.0.1:{port}/internal/operator/search"
        body = {"text": "garage", "as_user": "reader"}
        assert httpx.post(route, json=body).status_code == 404
        assert httpx.post(route, json=body, headers={"X-Inhouse-Operator": "guess"}).status_code == 404
        with_cookie = {"X-Inhouse-Operator": announced["secret"], "Cookie": "inhouse_session=x"}
        assert httpx.post(route, json=body, headers=with_cookie).status_code == 404

        # ingest and search at the same time, both while the server holds the index
        note, memo = tmp_path / "note.md", tmp_path / "memo.md"
        note.write_text("# Parking\n\nVisitors park on level 2 of the garage.\n")
        memo.write_text("# Canteen\n\nThe canteen serves lunch from eleven to one.\n")
        first = subprocess.Popen([sys.executable, "-m", "app", "ingest", str(note), "--public", "--json"], env=env,
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        second = inhouse(env, "ingest", str(memo), "--public", "--json")
        out, errors = first.communicate(timeout=300)
        for code, stdout, stderr in ((first.returncode, out, errors), (second.returncode, second.stdout, second.stderr)):
            assert code == 0, stderr
            [doc] = json.loads(stdout)["documents"]
            assert doc["status"] == "ready" and doc["chunks"] >= 1 and "Traceback" not in stderr

        found = inhouse(env, "search", "where do visitors park", "--as", "reader", "--json")
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["hits"][0]["source"] == note.name
        answered = inhouse(env, "ask", "When is lunch served?", "--as", "reader", "--json")
        assert answered.returncode == 0, answered.stderr
        assert "eleven" in json.loads(answered.stdout)["answer"]

        # a command that is not sent to the server says what to do, never a lock error
        doc_id = json.loads(second.stdout)["documents"][0]["id"]
        refused = inhouse(env, "docs", "delete", doc_id)
        message = " ".join(refused.stderr.split())  # rich wraps it to the terminal
        assert refused.returncode == 1
        assert f"the server at http://127.0.0.1:{port}" in message and "stop the server" in message
        assert "Traceback" not in refused.stderr
        assert read_holder(data / "qdrant" / "inhouse")["pid"] == server.pid  # nobody else opened it
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert not (data / "server.json").exists()
    # the server is gone: the same command now runs here
    deleted = inhouse(env, "docs", "delete", doc_id)
    assert deleted.returncode == 0, deleted.stderr


def test_two_ingests_at_once_take_turns(tmp_path, env):
    files = []
    for n, text in enumerate(["Visitors park on level 2 of the garage.", "The canteen serves lunch at noon."]):
        files.append(tmp_path / f"doc{n}.md")
        files[-1].write_text(f"# Doc {n}\n\n{text}\n")
    runs = [subprocess.Popen([sys.executable, "-m", "app", "ingest", str(f), "--public", "--json"], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    for run in runs:
        out, errors = run.communicate(timeout=300)
        assert run.returncode == 0, errors
        assert json.loads(out)["documents"][0]["status"] == "ready"
        assert "Traceback" not in errors
    listed = inhouse(env, "docs", "list", "--json")
    assert sorted(d["status"] for d in json.loads(listed.stdout)["documents"]) == ["ready", "ready"]
    assert inhouse(env, "users", "add", "reader").returncode == 0
    found = inhouse(env, "search", "lunch", "--as", "reader", "--json")
    assert json.loads(found.stdout)["hits"][0]["source"] == "doc1.md"
