"""`inhouse doctor` runs every configured model once and names the one that fails, and the fix.

Each check runs in a child process, so a native crash (the signal a broken
build dies with) is reported like any other failure and the other checks run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INHOUSE = str(Path(sys.executable).parent / "inhouse")


def doctor(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([INHOUSE, "doctor", "--json", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def base_env(tmp_path: Path, models_dir: Path) -> dict:
    return {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir)}


def test_every_default_model_loads_and_runs(tmp_path, models_dir):
    done = doctor(base_env(tmp_path, models_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert [c["check"] for c in report["checks"]] == ["embedder", "re-ranker", "generator", "parser"]
    by_check = {c["check"]: c for c in report["checks"]}
    assert "384 dimensions" in by_check["embedder"]["detail"]
    assert "relevant pair" in by_check["re-ranker"]["detail"]
    assert by_check["generator"]["model"].endswith(".gguf") and "4 tokens" in by_check["generator"]["detail"]
    assert "Vacation policy" in by_check["parser"]["detail"]
    assert all(c["fix"] is None for c in report["checks"])


def test_a_missing_model_is_named_with_the_fix_and_fails_set_up(tmp_path, models_dir):
    env = {**base_env(tmp_path, models_dir), "INHOUSE_GENERATOR_MODEL": str(tmp_path / "gone.gguf")}
    done = doctor(env, "--check", "generator", "--check", "embedder")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    generator, embedder = report["checks"]
    assert report["ok"] is False and embedder["ok"] is True  # one failure does not hide the rest
    assert generator["ok"] is False and generator["model"] == str(tmp_path / "gone.gguf")
    assert "not found" in generator["detail"] and "inhouse models fetch" in generator["fix"]


def test_a_native_crash_is_reported_with_its_signal_and_the_rebuild_to_try(tmp_path, models_dir):
    # A real segfault in the generator check's process, before it loads anything: what a
    # llama.cpp build with instructions this CPU lacks does (SIGILL) or a broken kernel (SIGSEGV).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys, ctypes\n"
        "if sys.argv[-1:] == ['generator']:\n"
        "    ctypes.string_at(0)\n"
    )
    env = {**base_env(tmp_path, models_dir), "PYTHONPATH": str(hook)}
    done = doctor(env, "--check", "generator", "--check", "re-ranker")
    assert done.returncode == 1
    generator, reranker = json.loads(done.stdout)["checks"]
    assert generator["ok"] is False and "crashed (SIGSEGV)" in generator["detail"]
    assert "LLAMA_CPU=" in generator["fix"] and "make llama-reinstall" in generator["fix"]
    assert reranker["ok"] is True


def test_an_unknown_check_is_refused(tmp_path, models_dir):
    done = doctor(base_env(tmp_path, models_dir), "--check", "gpu")
    assert done.returncode == 1 and "unknown check gpu" in " ".join(done.stderr.split())
