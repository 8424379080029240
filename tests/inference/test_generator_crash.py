"""A crash inside llama.cpp fails the answer in progress, never the process that asked.

The generator's model runs in a child process. These tests kill that child for
real (SIGSEGV, as a broken CPU kernel does, and SIGKILL, as the kernel's OOM
killer does) in the middle of an answer, and check that the caller gets a
clear error, that whatever runs beside it (an ingestion job, the CLI) carries
on, and that the next question is answered by a fresh child.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from inference.types import GenerationParams, GenerationStats, GeneratorCrashedError

REPO = Path(__file__).resolve().parents[2]
INHOUSE = str(Path(sys.executable).parent / "inhouse")
MESSAGES = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
LONG = GenerationParams(max_tokens=300, ignore_eos=True)


def kill_after(generator, sig: int, pieces_before_kill: int = 3):
    """Generate, kill the child after a few pieces; return (pieces, error, stats)."""
    stats = GenerationStats()

    async def go():
        pieces = []
        try:
            async for piece in generator.generate(MESSAGES, LONG, stats):
                pieces.append(piece)
                if len(pieces) == pieces_before_kill:
                    os.kill(generator.worker_pid, sig)
        except GeneratorCrashedError as exc:
            return pieces, exc
        return pieces, None

    pieces, error = asyncio.run(asyncio.wait_for(go(), timeout=120))
    return pieces, error, stats


def answer(generator, max_tokens: int = 8) -> str:
    async def go():
        return "".join([p async for p in generator.generate(MESSAGES, GenerationParams(max_tokens=max_tokens))])

    return asyncio.run(asyncio.wait_for(go(), timeout=120))


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["SIGSEGV", "SIGKILL"])
def test_a_crash_mid_answer_fails_that_answer_and_the_next_question_is_answered(llama_generator, sig):
    before = llama_generator.worker_pid
    restarts = llama_generator.restarts
    pieces, error, stats = kill_after(llama_generator, sig)
    assert error is not None, "the stream ended normally although its model was killed"
    assert "the language model crashed" in str(error) and signal.Signals(sig).name in str(error)
    assert "the answer was not generated" in str(error)
    assert 3 <= len(pieces) < 300 and stats.finish_reason == "abort"
    assert answer(llama_generator).strip()  # a fresh child answers
    assert llama_generator.restarts == restarts + 1 and llama_generator.worker_pid != before


def test_a_child_that_died_while_idle_is_replaced_before_the_next_question(llama_generator):
    os.kill(llama_generator.worker_pid, signal.SIGKILL)
    time.sleep(0.5)
    assert llama_generator.count_tokens("Hello world") > 0
    assert answer(llama_generator).strip()


def test_leaving_mid_stream_stops_the_engine_not_only_the_stream(llama_generator):
    """What the engine generated is counted in the child: a stop that is ignored would show here."""
    stats = GenerationStats()

    async def go():
        stream = llama_generator.generate(MESSAGES, LONG, stats)
        received = 0
        async for _ in stream:
            received += 1
            if received == 3:
                break
        await stream.aclose()

    asyncio.run(asyncio.wait_for(go(), timeout=60))
    assert stats.finish_reason == "abort"
    assert stats.extra["engine_tokens"] < 10, stats  # 300 if the stop never reached the model


def test_an_ingestion_running_beside_a_crashing_answer_finishes(make_services, llama_generator, tmp_path):
    from app.accounts.directory import add_group
    from app.library.ingestion import IngestService

    services = make_services()
    with services.session() as session:
        add_group(session, "everyone")
    files = []
    for n in range(6):
        path = tmp_path / f"policy-{n}.md"
        path.write_text(f"# Policy {n}\n\n" + f"Rule {n}: badges are returned at the front desk. " * 40)
        files.append(path)
    results: list = []
    ingestion = threading.Thread(
        target=lambda: results.extend(IngestService(services).ingest_paths(files, groups=["everyone"]))
    )
    ingestion.start()
    _, error, _ = kill_after(llama_generator, signal.SIGSEGV)
    ingestion.join(timeout=300)
    assert isinstance(error, GeneratorCrashedError)
    assert [r.status for r in results] == ["ready"] * 6
    assert answer(llama_generator).strip()


def test_the_cli_reports_a_crashed_model_and_exits_cleanly(tmp_path, models_dir):
    env = {**os.environ, "INHOUSE_DATA_DIR": str(tmp_path / "data"), "INHOUSE_MODELS_DIR": str(models_dir),
           "INHOUSE_GENERATOR_MAX_TOKENS": "200", "INHOUSE_ANSWER_MODE": "generative", "PYTHONWARNINGS": "ignore"}
    policy = tmp_path / "badges.md"
    policy.write_text("# Badges\n\nA lost visitor badge must be reported to reception the same day. "
                      "Reception issues a replacement badge after checking the visitor's ID.\n")
    for args in (("users", "add", "sofie", "--groups", "everyone"),
                 ("ingest", str(policy), "--groups", "everyone")):
        done = subprocess.run([INHOUSE, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    proc = subprocess.Popen([INHOUSE, "ask", "What must I do if I lose my visitor badge?", "--as", "sofie", "--json"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.set_blocking(proc.stderr.fileno(), False)
    streamed = b""
    deadline = time.monotonic() + 180
    while len(streamed.strip()) < 3 and proc.poll() is None and time.monotonic() < deadline:
        streamed += proc.stderr.read() or b""  # the answer's tokens stream to stderr with --json
        time.sleep(0.01)
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if "inference.llamacpp_worker" in " ".join(p.cmdline())]
    assert len(workers) == 1, (streamed, workers)
    workers[0].send_signal(signal.SIGSEGV)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, "the CLI itself must not die by the signal"
    assert "the language model crashed (killed by SIGSEGV)" in " ".join((streamed + stderr).decode().split())
    assert stdout == b""  # --json: no half answer printed as if it were one
