"""`make run` ends in `inhouse serve`: the real server answers over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_server_reports_health_and_asks_strangers_to_log_in(tmp_path, models_dir):
    env = {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir)}
    note = tmp_path / "note.md"
    note.write_text("# Parking\n\nVisitors park on level 2 of the garage.\n")
    ingested = subprocess.run([sys.executable, "-m", "app", "ingest", str(note), "--public"], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
    assert ingested.returncode == 0, ingested.stderr

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                if health.status_code == 200 and health.json()["status"] == "ok":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become healthy within 120 s"
            time.sleep(0.5)
        home = httpx.get(base + "/", timeout=10, follow_redirects=True)  # nothing about the documents before logging in
        assert home.status_code == 200 and str(home.url).endswith("/login?next=/")
        assert "documents indexed" not in home.text and "Log in" in home.text
    finally:
        server.terminate()
        server.wait(timeout=30)
