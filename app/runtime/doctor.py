"""`inhouse doctor`: load every configured model and run it once, each in a child process.

A model can fail in two ways: an exception (a missing folder, a wrong format)
and a crash of native code (llama.cpp or onnxruntime built for another CPU,
which ends the process with SIGSEGV or SIGILL and no Python traceback at all).
Running each check in its own process turns both into one line that names the
model and the fix, and lets the other checks run. `make setup` ends with this
command, so a machine that cannot run a model stops at set-up, not at the
first question; the web app's `/readyz` will report the same facts.

The child is ``python -m app.runtime.doctor CHECK`` with the settings as JSON on stdin;
it prints one line starting with ``RESULT_MARK`` and a JSON object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from app.settings import Settings

CHECKS = ("embedder", "re-ranker", "generator", "parser")
RESULT_MARK = "inhouse-doctor-result "
PROBE_SENTENCE = "Employees get twenty-five vacation days per year."

def tiny_pdf(text: str = "Vacation policy for employees") -> bytes:
    """A valid one-page PDF with one line of text (with its xref table), so the check needs no file."""
    stream = f"BT /F1 12 Tf 20 50 Td ({text}) Tj ET".encode()
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 100]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length %d>>stream\n%s\nendstream" % (len(stream), stream),
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


@dataclass
class CheckResult:
    check: str
    model: str
    ok: bool
    seconds: float
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 2)}


def model_of(check: str, settings: Settings) -> str:
    if check == "embedder":
        return str(settings.embed_model_path)
    if check == "re-ranker":
        return str(settings.model_path(settings.rerank_model))
    if check == "generator":
        return settings.openai_url or str(settings.model_path(settings.generator_model))
    return "unstructured (PDF, fast strategy)"


def fix_for(check: str, settings: Settings, crashed: bool) -> str:
    if check == "generator" and crashed:
        return ("llama.cpp crashed on this CPU: rebuild it for a lower CPU level with "
                "`make llama-reinstall LLAMA_CPU=x86-64-v2` (aarch64: LLAMA_CPU=armv8-a), "
                "or point INHOUSE_OPENAI_URL at a GPU server")
    if crashed:
        return "a native library crashed on this CPU: reinstall with `make clean && make setup`"
    return {
        "embedder": "run `inhouse models fetch`, or set INHOUSE_EMBED_MODEL to a model folder",
        "re-ranker": "run `inhouse models fetch`, or set INHOUSE_RERANK_MODEL to a model folder",
        "generator": ("run `inhouse models fetch`, or set INHOUSE_GENERATOR_MODEL to a GGUF file "
                      "(or INHOUSE_OPENAI_URL to a reachable server)"),
        "parser": "run `make setup` (it installs unstructured's parsers and poppler-utils)",
    }[check]


# ---------------------------------------------------------------- in the child
def probe(check: str, settings: Settings) -> str:
    """Run one model once; return what it did, or raise."""
    if check == "embedder":
        from ingest.encoders import load_encoder

        encoder = load_encoder(settings.embed_model_path, settings.embed_backend, 8, settings.embed_max_tokens)
        import numpy as np

        vector = encoder.encode_documents([PROBE_SENTENCE])[0]
        if vector.shape != (encoder.dim,) or not np.isfinite(vector).all() or not np.linalg.norm(vector) > 0:
            raise RuntimeError(f"the embedding came out wrong: shape {vector.shape}")
        return f"{encoder.model_id}: one sentence → {encoder.dim} dimensions"
    if check == "re-ranker":
        from retrieval.rerank import load_cross_encoder

        scorer = load_cross_encoder(settings.model_path(settings.rerank_model), settings.rerank_backend, 4)
        question = "How many vacation days do employees get?"
        good, bad = scorer.score([(question, PROBE_SENTENCE), (question, "The printer is on floor two.")])
        if not good > bad:
            raise RuntimeError(f"it scored an unrelated passage higher ({bad:.2f} ≥ {good:.2f})")
        return f"{scorer.model_id}: relevant pair {good:.2f} > unrelated {bad:.2f}"
    if check == "generator":
        return _probe_generator(settings)
    if check == "parser":
        import tempfile

        from ingest.offline import use_local_spacy
        from ingest.parse import parse
        from ingest.sniff import sniff

        use_local_spacy(settings.models_dir)  # what ingestion does before it parses
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "doctor.pdf"
            path.write_bytes(tiny_pdf())
            doc = parse(path, sniff(path))
        text = " ".join(b.text for b in doc.blocks)
        if "Vacation policy" not in text:
            raise RuntimeError(f"the PDF's text did not come out: {text[:80]!r}")
        return f"a one-page PDF → {text.strip()[:40]!r}"
    raise ValueError(f"unknown check {check!r}; choose from {', '.join(CHECKS)}")


def _probe_generator(settings: Settings) -> str:
    import asyncio

    from inference.factory import choose_backend, load_generator
    from inference.types import GenerationParams

    backend = choose_backend(settings)
    if backend == "llamacpp":  # in this process: a native crash shows as this process's signal
        from inference.llamacpp import LlamaCppGenerator

        generator = LlamaCppGenerator(settings.model_path(settings.generator_model), n_ctx=512,
                                      n_threads=settings.generator_threads)
    else:
        generator = load_generator(settings)

    async def go() -> str:
        messages = [{"role": "user", "content": "Say hello."}]
        text = "".join([p async for p in generator.generate(messages, GenerationParams(max_tokens=4))])
        await generator.aclose()
        return text

    text = asyncio.run(go())
    detail = f"{backend} {generator.model_id}: 4 tokens → {text.strip()[:30]!r}"
    if backend == "llamacpp":
        import llama_cpp

        features = llama_cpp.llama_print_system_info().decode(errors="replace")
        detail += f" [{' '.join(f for f in features.split(' | ') if f.endswith('= 1'))[:160]}]"
    return detail


def _child_main(check: str) -> int:
    settings = Settings(**json.loads(sys.stdin.read() or "{}"))
    try:
        result = {"ok": True, "detail": probe(check, settings)}
    except Exception as exc:  # reported to the parent as the check's failure
        result = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


# ---------------------------------------------------------------- in the parent
def describe_signal(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_check(check: str, settings: Settings, timeout_s: float = 600.0) -> CheckResult:
    model = model_of(check, settings)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "app.runtime.doctor", check], input=settings.model_dump_json(),
            capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )
    except subprocess.TimeoutExpired:
        return CheckResult(check, model, False, time.perf_counter() - started,
                           f"did not finish in {timeout_s:.0f} s", fix_for(check, settings, crashed=False))
    seconds = time.perf_counter() - started
    marked = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode < 0 or not marked:
        how = f"crashed ({describe_signal(proc.returncode)})" if proc.returncode < 0 else (
            f"exited with status {proc.returncode} and no result")
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return CheckResult(check, model, False, seconds, f"{how}{': ' + tail if tail else ''}",
                           fix_for(check, settings, crashed=proc.returncode < 0))
    result = json.loads(marked[-1][len(RESULT_MARK):])
    return CheckResult(check, model, result["ok"], seconds, result["detail"],
                       None if result["ok"] else fix_for(check, settings, crashed=False))


def run_checks(settings: Settings, checks: tuple[str, ...] = CHECKS) -> list[CheckResult]:
    return [run_check(check, settings) for check in checks]


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
