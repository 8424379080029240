"""The data directory is the owner's alone (issue 15, W8).

Database, originals, clean texts and index were created under the process
umask (0755 folders, 0644 files): any local account could read every
document. Now a fresh data directory is 0700 with 0600 files throughout, and
one that others can read or enter is refused, with the command that fixes it,
by the CLI and by `inhouse serve`.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def inhouse(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def open_to_others(root: Path) -> list[str]:
    """Every path under root (root too) that group or others may read, write or enter."""
    paths = [root, *root.rglob("*")]
    return [f"{stat.S_IMODE(p.lstat().st_mode):04o} {p}" for p in paths
            if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]


def test_a_fresh_data_directory_and_everything_in_it_is_private(tmp_path, models_dir):
    data = tmp_path / "data"
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir)}
    minutes = tmp_path / "minutes.txt"
    minutes.write_text("Board minutes: the zorblats acquisition was approved.")
    os.chmod(minutes, 0o644)
    assert inhouse(env, "users", "add", "bob", "--groups", "board").returncode == 0
    ingested = inhouse(env, "ingest", str(minutes), "--groups", "board", "--json")
    assert ingested.returncode == 0, ingested.stderr

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for part in ("inhouse.db", "files", "text", "qdrant"):
        assert (data / part).exists(), part
    assert open_to_others(data) == []


def test_a_data_directory_others_can_read_is_refused_with_the_fix(tmp_path, models_dir):
    data = tmp_path / "data"
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data), "INHOUSE_MODELS_DIR": str(models_dir), "COLUMNS": "1000"}
    assert inhouse(env, "users", "add", "bob").returncode == 0
    os.chmod(data, 0o755)

    for command in (["docs", "list"], ["users", "add", "eve"], ["serve", "--port", "8792"]):
        refused = inhouse(env, *command, timeout=120)
        assert refused.returncode == 1, command
        assert "cannot start" in refused.stderr and f"chmod -R go-rwx {data}" in refused.stderr, refused.stderr

    os.chmod(data, 0o700)  # the fix it names
    assert inhouse(env, "users", "add", "eve").returncode == 0
