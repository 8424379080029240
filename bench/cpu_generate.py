"""CPU generation: the portable llama.cpp build against other builds, and the cost of the child process.

    python bench/cpu_generate.py --native-wheel ~/.cache/inhouse/wheels/llama-cpp-python-0.3.36-cp311/native \
        [--other-wheel ~/.cache/inhouse/wheels/llama-cpp-python-0.3.36-cp311/x86-64-v4]
    make bench-cpu-generate            # builds the native wheel first

1. **Builds.** The installed llama-cpp-python (the portable build `make` installs) and
   each other build's shared libraries (taken out of its wheel, loaded through
   llama-cpp-python's ``LLAMA_CPP_LIB_PATH``) generate the same greedy answer in turn,
   each in its own process (a build that crashes is reported with its signal, not
   hidden). Decode tokens/s over ``--tokens`` tokens and prompt tokens/s, best of
   ``--repeats``, and the ratio of every build to the portable one.
2. **Isolation.** In one process, the in-process ``LlamaCppGenerator`` and the app's
   ``IsolatedLlamaCppGenerator`` (model in a child process) take turns (order alternating)
   on RAG-sized prompts that differ in their first line, so llama.cpp's prefix cache
   cannot skip them: time to first token and decode tokens/s, medians over
   ``--isolation-rounds`` rounds, and the isolated/in-process ratios (median of the per-round ratios).

Prints a table; writes bench/results/cpu-generate-<date>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODEL = REPO / "data" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PASSAGE = ("Permanent employees receive 25 days of paid vacation per calendar year. Up to five unused "
           "days may be carried over. Requests go to the manager two weeks ahead. ")
RAG_MESSAGES = [
    {"role": "system", "content": "Answer from the numbered passages only and cite them as [n]."},
    {"role": "user", "content": "".join(f"[{n}] {PASSAGE * 3}\n" for n in range(1, 7))
     + "\nQuestion: How many vacation days do employees get?"},
]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------- 1. builds (child side)
def measure_build(model: Path, tokens: int, repeats: int) -> dict:
    """Runs in a child whose LLAMA_CPP_LIB_PATH picks the build."""
    import llama_cpp
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), n_ctx=2048, n_threads=os.cpu_count(), seed=0, verbose=False)
    prompt = llm.tokenize(("Write a long story about a lighthouse keeper. " * 8).encode(), add_bos=True)
    best_decode = best_prompt = 0.0
    for _ in range(repeats):
        llm.reset()
        started = time.perf_counter()
        first = None
        count = 0
        for _chunk in llm.create_completion(prompt, max_tokens=tokens, temperature=0.0, stream=True,
                                            logit_bias={llm.token_eos(): -1e9}):
            count += 1
            if first is None:
                first = time.perf_counter()
        ended = time.perf_counter()
        best_prompt = max(best_prompt, len(prompt) / (first - started))
        best_decode = max(best_decode, (count - 1) / (ended - first))
    features = llama_cpp.llama_print_system_info().decode(errors="replace")
    return {"decode_tok_s": round(best_decode, 1), "prompt_tok_s": round(best_prompt, 1),
            "features": " ".join(f.split(" =")[0] for f in features.split(" | ") if f.endswith("= 1"))}


def run_build(label: str, lib_dir: Path | None, args) -> dict:
    env = dict(os.environ)
    if lib_dir is not None:
        env["LLAMA_CPP_LIB_PATH"] = str(lib_dir)
    proc = subprocess.run(
        [sys.executable, __file__, "--child-build", "--model", str(args.model), "--tokens", str(args.tokens),
         "--repeats", str(args.repeats)], env=env, capture_output=True, text=True, timeout=900,
    )
    if proc.returncode < 0:
        import signal

        return {"build": label, "crashed": signal.Signals(-proc.returncode).name}
    if proc.returncode != 0:
        return {"build": label, "error": proc.stderr.strip().splitlines()[-1:]}
    return {"build": label, **json.loads(proc.stdout.strip().splitlines()[-1])}


def wheel_libs(wheel_dir: Path, into: Path) -> Path:
    [wheel] = sorted(wheel_dir.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith("llama_cpp/lib/"):
                zf.extract(name, into)
    return into / "llama_cpp" / "lib"


# ---------------------------------------------------------------- 2. isolation
def rag_messages(request: int) -> list[dict]:
    """A different first line per request, so llama.cpp's prefix cache cannot skip the prompt."""
    system = {"role": "system", "content": f"Request {request:05d}. " + RAG_MESSAGES[0]["content"]}
    return [system, *RAG_MESSAGES[1:]]


async def one_answer(generator, params, request: int) -> tuple[float, float]:
    from inference.types import GenerationStats

    stats = GenerationStats()
    started = time.perf_counter()
    first = None
    pieces = 0
    async for _ in generator.generate(rag_messages(request), params, stats):
        pieces += 1
        if first is None:
            first = time.perf_counter()
    ended = time.perf_counter()
    return (first - started) * 1000, (pieces - 1) / (ended - first)


def measure_isolation(args) -> dict:
    from inference.llamacpp import LlamaCppGenerator
    from inference.llamacpp_isolated import IsolatedLlamaCppGenerator
    from inference.types import GenerationParams

    params = GenerationParams(max_tokens=args.tokens, ignore_eos=True)
    generators = {
        "in-process": LlamaCppGenerator(args.model, n_ctx=2048),
        "isolated": IsolatedLlamaCppGenerator(args.model, n_ctx=2048),
    }
    samples: dict[str, dict[str, list[float]]] = {k: {"ttft_ms": [], "decode_tok_s": []} for k in generators}
    prompt_tokens = generators["isolated"].count_tokens(generators["isolated"].render(rag_messages(0)))

    async def rounds() -> None:
        request = 0
        for gen in generators.values():  # warm both up (first prompt evaluation, page cache)
            request += 1
            await one_answer(gen, params, request)
        for round_no in range(args.isolation_rounds):
            order = list(generators.items())
            for name, gen in order if round_no % 2 == 0 else order[::-1]:  # neither always goes first
                request += 1
                ttft, rate = await one_answer(gen, params, request)
                samples[name]["ttft_ms"].append(ttft)
                samples[name]["decode_tok_s"].append(rate)
        for gen in generators.values():
            await gen.aclose()

    asyncio.run(rounds())
    out = {name: {k: round(statistics.median(v), 2) for k, v in s.items()} for name, s in samples.items()}
    # paired: each round's two runs were back to back, so their ratio cancels most of the load of the moment
    iso, inp = samples["isolated"], samples["in-process"]
    out["ratio_ttft"] = round(statistics.median(a / b for a, b in zip(iso["ttft_ms"], inp["ttft_ms"])), 3)
    out["ratio_decode"] = round(
        statistics.median(a / b for a, b in zip(iso["decode_tok_s"], inp["decode_tok_s"])), 3)
    out["prompt_tokens"] = prompt_tokens
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--isolation-rounds", type=int, default=10)
    parser.add_argument("--native-wheel", type=Path, help="folder with a natively built llama-cpp-python wheel")
    parser.add_argument("--other-wheel", type=Path, action="append", default=[], help="more builds to compare")
    parser.add_argument("--child-build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build:
        print(json.dumps(measure_build(args.model, args.tokens, args.repeats)))
        return

    builds = [run_build("portable (installed)", None, args)]
    with tempfile.TemporaryDirectory(prefix="llama-builds-") as tmp:
        for wheel_dir in ([args.native_wheel] if args.native_wheel else []) + args.other_wheel:
            label = "native" if wheel_dir == args.native_wheel else wheel_dir.name
            builds.append(run_build(label, wheel_libs(wheel_dir, Path(tmp) / label), args))
    base = builds[0].get("decode_tok_s")
    print(f"\nCPU: {cpu_name()}, {os.cpu_count()} cores; {args.model.name}; {args.tokens} tokens, best of {args.repeats}")
    print(f"{'build':<22} {'decode tok/s':>12} {'prompt tok/s':>12} {'ratio':>6}  features")
    for b in builds:
        if "decode_tok_s" in b:
            ratio = b["decode_tok_s"] / base if base else float("nan")
            print(f"{b['build']:<22} {b['decode_tok_s']:>12} {b['prompt_tok_s']:>12} {ratio:>6.2f}  {b['features']}")
        else:
            print(f"{b['build']:<22} {'crashed: ' + b['crashed'] if 'crashed' in b else b['error']}")

    iso = measure_isolation(args)
    print(f"\nisolation ({args.tokens} tokens, {iso['prompt_tokens']}-token prompt, median of {args.isolation_rounds} alternating rounds)")
    for name in ("in-process", "isolated"):
        print(f"{name:<12} TTFT {iso[name]['ttft_ms']:>8.1f} ms   decode {iso[name]['decode_tok_s']:>7.1f} tok/s")
    print(f"ratio isolated/in-process (median of per-round ratios): TTFT {iso['ratio_ttft']:.3f}, "
          f"decode {iso['ratio_decode']:.3f}")

    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc)
    path = results / f"cpu-generate-{stamp:%Y-%m-%d}.json"
    path.write_text(json.dumps({"when": stamp.isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
                                "model": args.model.name, "tokens": args.tokens, "builds": builds,
                                "isolation": iso}, indent=1))
    print(f"\nwrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
