"""Generation throughput: the app's path against raw `vllm.LLM.generate`, same prompts, same GPU, same run.

    python bench/generate.py                       # 1, 16, 64, 256 concurrent; 2000 in / 256 out
    python bench/generate.py --concurrency 1,16 --output-tokens 64

The model is an 8B-shaped Llama (Llama-3.1-8B's hidden 4096, intermediate 14336,
32 layers, 32 heads, 8 KV heads, head_dim 128) with dummy bf16 weights, written
here as config.json plus the tokenizer of the bundled SmolLM2 GGUF (so the
vocabulary is 49,152, not Llama-3's 128,256: 0.6 B fewer embedding parameters).
Output text is noise; the engine work is real. Every request generates exactly
``--output-tokens`` (``ignore_eos``).

* **raw**: `vllm.LLM(...).generate(prompts)` with the prompts as token ids, all
  submitted at once per concurrency level: vLLM's own ceiling.
* **app**: `inference.vllm_engine.VllmGenerator` (AsyncLLM in-process) with, per
  request, what `inhouse ask` does around the engine: `fit_prompt` (budget with
  the tokenizer), chat template, streaming deltas, `parse_citations` on the result;
  `concurrency` requests in flight at once on one event loop.

Each path runs in its own process (one engine on the GPU at a time). Time to first
token: raw from vLLM's per-request metrics (arrival → first token), app as the
user sees it (request submitted → first streamed piece). Prints a table and
writes bench/results/generate-<date>.json. Needs a GPU and vLLM (the gpu extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LLAMA_8B_SHAPE = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "head_dim": 128, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    "hidden_act": "silu", "torch_dtype": "bfloat16", "tie_word_embeddings": False,
}
WORDS = ("policy employee contract vacation remote office budget approval security badge network server "
         "deploy release incident review quarter revenue travel expense manager onboarding laptop access").split()


def write_model_folder(folder: Path, gguf: Path, tokenizer: Path | None = None) -> Path:
    import shutil

    from inference.gguf_convert import gguf_tokenizer_folder

    if tokenizer is not None:  # a tokenizer folder made elsewhere (smaller to carry than the GGUF)
        folder.mkdir(parents=True, exist_ok=True)
        for f in tokenizer.iterdir():
            if f.is_file() and f.name != "config.json":
                shutil.copy(f, folder / f.name)
    else:
        gguf_tokenizer_folder(gguf, folder)
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(str(folder)))
    config = {**LLAMA_8B_SHAPE, "vocab_size": (vocab + 63) // 64 * 64}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    return folder


def make_requests(folder: Path, n: int, prompt_tokens: int, seed: int = 0) -> list[dict]:
    """n distinct questions with retrieved-looking passages, each rendering to about prompt_tokens tokens."""
    from transformers import AutoTokenizer

    from inference.prompting import Passage, build_messages

    tok = AutoTokenizer.from_pretrained(str(folder))
    rng = random.Random(seed)

    def render(msgs):
        return tok.encode(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True),
                          add_special_tokens=False)

    requests = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(prompt_tokens * 2)]
        question = f"Request {i}: what does the {rng.choice(WORDS)} {rng.choice(WORDS)} say?"

        def messages(count: int):
            per = max(1, count // 6)
            passages = [Passage(k + 1, " ".join(words[k * per:(k + 1) * per]) + ".", f"Doc {i}-{k}")
                        for k in range(6)]
            return build_messages(question, passages)

        if i == 0:
            lo, hi = 6, len(words)
            while lo < hi:  # the largest word count whose prompt fits prompt_tokens
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if len(render(messages(mid))) <= prompt_tokens else (lo, mid - 1)
            fitted = lo
        else:  # the same vocabulary: start from the first request's count and trim to fit
            lo = fitted
            while (excess := len(render(messages(lo))) - prompt_tokens) > 0:
                lo -= excess // 2 + 1
        msgs = messages(lo)
        requests.append({"question": question, "messages": msgs, "ids": render(msgs)})
    return requests


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarise(wall: float, out_tokens: int, prompt_tokens: int, ttfts: list[float]) -> dict:
    return {
        "wall_s": round(wall, 3), "output_tokens": out_tokens,
        "output_tok_s": round(out_tokens / wall, 1), "total_tok_s": round((out_tokens + prompt_tokens) / wall, 1),
        "ttft_p50_ms": round(percentile(ttfts, 0.5) * 1000, 1) if ttfts else None,
        "ttft_p95_ms": round(percentile(ttfts, 0.95) * 1000, 1) if ttfts else None,
    }


# ---- the two paths, each in its own process ------------------------------------
def run_raw(spec: dict) -> dict:
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from inference.vllm_config import VllmConfig

    config = VllmConfig(model=Path(spec["model"]), load_format="dummy", max_model_len=spec["max_model_len"],
                        gpu_memory_utilization=spec["gpu_memory_utilization"])
    llm = LLM(**config.engine_kwargs(for_async=False), disable_log_stats=False)
    params = SamplingParams(max_tokens=spec["output_tokens"], ignore_eos=True, temperature=0.0)
    requests = spec["requests"]
    llm.generate([TokensPrompt(prompt_token_ids=requests[0]["ids"])], params, use_tqdm=False)  # warm-up
    results = {}
    for c in spec["concurrency"]:
        batch = [TokensPrompt(prompt_token_ids=r["ids"]) for r in requests[:c]]
        start = time.perf_counter()
        outs = llm.generate(batch, params, use_tqdm=False)
        wall = time.perf_counter() - start
        ttfts = [o.metrics.first_token_latency for o in outs if o.metrics and o.metrics.first_token_latency]
        results[str(c)] = summarise(wall, sum(len(o.outputs[0].token_ids) for o in outs),
                                    sum(len(r["ids"]) for r in requests[:c]), ttfts)
    return results


def run_app(spec: dict) -> dict:
    from inference.budget import fit_prompt
    from inference.citations import parse_citations
    from inference.prompting import Passage
    from inference.types import GenerationParams, GenerationStats
    from inference.vllm_config import VllmConfig
    from inference.vllm_engine import VllmGenerator

    config = VllmConfig(model=Path(spec["model"]), load_format="dummy", max_model_len=spec["max_model_len"],
                        gpu_memory_utilization=spec["gpu_memory_utilization"])
    gen = VllmGenerator(config)
    params = GenerationParams(max_tokens=spec["output_tokens"], ignore_eos=True)

    async def one(request: dict) -> tuple[float, int]:
        submitted = time.perf_counter()
        user = request["messages"][-1]["content"]
        ranked = [Passage(k + 1, block) for k, block in enumerate(user.split("\n\n")[1:-1])]
        fit_prompt(gen, request["question"], ranked, None, params.max_tokens)  # the budgeting the app does
        stats = GenerationStats()
        first = None
        pieces = []
        async for piece in gen.generate(request["messages"], params, stats):
            if first is None:
                first = time.perf_counter() - submitted
            pieces.append(piece)
        parse_citations("".join(pieces), len(ranked))
        return first or 0.0, stats.completion_tokens

    async def main() -> dict:
        await gen.start()
        await one(spec["requests"][0])  # warm-up
        results = {}
        for c in spec["concurrency"]:
            reqs = spec["requests"][:c]
            start = time.perf_counter()
            done = await asyncio.gather(*(one(r) for r in reqs))
            wall = time.perf_counter() - start
            results[str(c)] = summarise(wall, sum(n for _, n in done), sum(len(r["ids"]) for r in reqs),
                                        [t for t, _ in done])
            results[str(c)]["peak_running"] = gen.batch_stats.peak_running
            gen.batch_stats.peak_running = 0
        await gen.aclose()
        return results

    return asyncio.run(main())


# ---- orchestration ----------------------------------------------------------------
def gpu_name() -> str:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=20).stdout.strip().splitlines()[0]
    except Exception:
        return "unknown GPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", default="1,16,64,256")
    ap.add_argument("--prompt-tokens", type=int, default=2000)
    ap.add_argument("--output-tokens", type=int, default=256)
    ap.add_argument("--gguf", type=Path, default=REPO / "data/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                    help="where the tokenizer comes from")
    ap.add_argument("--tokenizer", type=Path, help="a tokenizer folder to use instead of reading the GGUF")
    ap.add_argument("--work", type=Path, default=REPO / ".cache/bench-generate")
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    ap.add_argument("--out", type=Path, default=REPO / "bench/results")
    ap.add_argument("--part", choices=["raw", "app"], help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.part:  # child process: one path, results as JSON on the last line of stdout
        spec = json.loads(args.spec.read_text())
        results = run_raw(spec) if args.part == "raw" else run_app(spec)
        print("RESULT " + json.dumps(results), flush=True)
        return

    levels = [int(c) for c in args.concurrency.split(",")]
    folder = write_model_folder(args.work / "llama-8b-shaped", args.gguf, args.tokenizer)
    requests = make_requests(folder, max(levels), args.prompt_tokens)
    spec = {"model": str(folder), "requests": requests, "concurrency": levels, "output_tokens": args.output_tokens,
            "max_model_len": args.prompt_tokens + args.output_tokens + 64,
            "gpu_memory_utilization": args.gpu_memory_utilization}
    spec_file = args.work / "spec.json"
    spec_file.write_text(json.dumps(spec))
    results = {}
    for part in ("raw", "app"):
        print(f"running the {part} path…", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, __file__, "--part", part, "--spec", str(spec_file)],
                              capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            sys.stderr.write(proc.stderr[-6000:])
            raise SystemExit(f"the {part} path failed (exit {proc.returncode})")
        results[part] = json.loads(line[-1][len("RESULT "):])

    import vllm

    mean_prompt = round(statistics.fmean(len(r["ids"]) for r in requests))
    rows = []
    for c in levels:
        raw, app = results["raw"][str(c)], results["app"][str(c)]
        rows.append({"concurrency": c, "raw": raw, "app": app,
                     "ratio": round(app["output_tok_s"] / raw["output_tok_s"], 3),
                     "ttft_p50_delta_ms": None if raw["ttft_p50_ms"] is None
                     else round(app["ttft_p50_ms"] - raw["ttft_p50_ms"], 1)})
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "gpu": gpu_name(), "vllm": vllm.__version__,
        "model": "Llama-3.1-8B-shaped, dummy bf16 weights, SmolLM2 tokenizer", "prompt_tokens_mean": mean_prompt,
        "output_tokens": args.output_tokens, "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"generate-{report['date']}-{report['gpu'].replace(' ', '_')}.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"{report['gpu']} · vLLM {report['vllm']} · {mean_prompt} prompt / {args.output_tokens} output tokens")
    print(f"{'concurrent':>10} {'raw tok/s':>10} {'app tok/s':>10} {'ratio':>6} "
          f"{'raw TTFT p50/p95 ms':>20} {'app TTFT p50/p95 ms':>20}")
    for r in rows:
        raw, app = r["raw"], r["app"]
        print(f"{r['concurrency']:>10} {raw['output_tok_s']:>10} {app['output_tok_s']:>10} {r['ratio']:>6} "
              f"{str(raw['ttft_p50_ms']) + ' / ' + str(raw['ttft_p95_ms']):>20} "
              f"{str(app['ttft_p50_ms']) + ' / ' + str(app['ttft_p95_ms']):>20}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
