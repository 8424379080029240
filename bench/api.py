"""What the API adds: the OpenAI-compatible endpoint against the in-process answer path, and
search requests per second at many concurrent clients.

    .venv/bin/python bench/api.py [--questions 8] [--mode extractive|generative|auto] [--clients 16]
                                  [--searches 400]

One process, one set of services on the sample corpus (ingested into a temporary
data directory), the app served by uvicorn on a free port and sharing those services:

* **time to first token**: the same questions answered in-process through
  ``AnswerService.stream`` (what the CLI does) and over HTTP through
  ``POST /v1/chat/completions`` with ``stream: true`` and a bearer token, alternating
  the two question by question so load and caches hit both alike. First token: the
  first ``Token`` event, or the first ``chat.completion.chunk`` whose delta carries
  text. The API layer's overhead is the difference of the p50s (target <= 15 ms).
* **search throughput**: ``--searches`` calls of ``POST /api/v1/search`` from
  ``--clients`` concurrent clients, against the same number of in-process
  ``search_readable`` calls on as many threads, run one after the other in the same
  process; requests/s of each and their ratio.

Results go to ``bench/results/api-*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from bench.web import in_process, pct, serve_ready  # noqa: E402  (after REPO is on the path)


async def over_openai(client, token: str, question: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = last = None
    body = {"model": "inhouse", "stream": True, "messages": [{"role": "user", "content": question}]}
    async with client.stream("POST", "/v1/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {token}"}) as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                break
            choice = json.loads(line[6:])["choices"][0]
            if choice["delta"].get("content") and first is None:
                first = time.perf_counter() - started
            if choice["finish_reason"]:
                last = time.perf_counter() - started
    return (first if first is not None else last), last


def summary(values: list[tuple[float, float]]) -> dict:
    firsts, lasts = [v[0] * 1000 for v in values], [v[1] * 1000 for v in values]
    return {"ttft_p50_ms": round(pct(firsts, .5), 1), "ttft_p95_ms": round(pct(firsts, .95), 1),
            "ttlt_p50_ms": round(pct(lasts, .5), 1), "ttlt_p95_ms": round(pct(lasts, .95), 1), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--mode", default="extractive", choices=["generative", "extractive", "auto"])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--models", default=str(REPO / "data" / "models"))
    args = parser.parse_args()

    import httpx

    from app.accounts import tokens as api_tokens
    from app.accounts.actor import Actor
    from app.accounts.directory import acl_tokens, get_user
    from app.answering.searching import search_readable
    from app.library.manifest import load_manifest
    from app.services import build_services
    from app.settings import Settings
    from web.app import create_app

    workdir = Path(tempfile.mkdtemp(prefix="inhouse-bench-api-"))
    settings = Settings(data_dir=workdir / "data", models_dir=Path(args.models), answer_mode=args.mode)
    services = build_services(settings)
    print("ingesting the sample corpus …", flush=True)
    load_manifest(services, Actor.operator(), REPO / "samples" / "manifest.json")
    with services.session() as session:
        reader = get_user(session, "sofie")
        tokens, user_id = acl_tokens(session, reader), reader.id
        bearer = api_tokens.create(session, reader, "bench", ["ask", "search"]).token
    lines = (REPO / "samples" / "questions.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.questions]

    app = create_app(services=services)
    server, base = serve_ready(app)
    service = app.state.answers

    async def answers() -> dict:
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            await in_process(service, tokens, user_id, questions[0])  # warm both paths
            await over_openai(client, bearer, questions[0])
            timings: dict[str, list[tuple[float, float]]] = {"in_process": [], "openai_http": []}
            for q in questions:
                timings["in_process"].append(await in_process(service, tokens, user_id, q))
                timings["openai_http"].append(await over_openai(client, bearer, q))
        out = {path: summary(values) for path, values in timings.items()}
        out["api_overhead_ttft_p50_ms"] = round(out["openai_http"]["ttft_p50_ms"] - out["in_process"]["ttft_p50_ms"], 1)
        return out

    async def searches_over_http() -> float:
        async with httpx.AsyncClient(base_url=base, timeout=600,
                                     limits=httpx.Limits(max_connections=args.clients)) as client:
            todo = [questions[i % len(questions)] for i in range(args.searches)]
            gate = asyncio.Semaphore(args.clients)

            async def one(query: str) -> None:
                async with gate:
                    r = await client.post("/api/v1/search", json={"query": query, "k": 10},
                                          headers={"Authorization": f"Bearer {bearer}"})
                    r.raise_for_status()

            await one(todo[0])  # warm
            started = time.perf_counter()
            await asyncio.gather(*[one(q) for q in todo])
            return args.searches / (time.perf_counter() - started)

    def searches_in_process() -> float:
        todo = [questions[i % len(questions)] for i in range(args.searches)]
        search_readable(services, tokens, todo[0], 10, None, None)  # warm
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(lambda q: search_readable(services, tokens, q, 10, None, None), todo))
        return args.searches / (time.perf_counter() - started)

    results: dict = {"mode": service.mode, "questions": len(questions), "clients": args.clients, "machine": {
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "python": platform.python_version()}}
    results["answers"] = asyncio.run(answers())
    print(json.dumps({"answers": results["answers"]}, indent=2), flush=True)
    http_rps, local_rps = asyncio.run(searches_over_http()), searches_in_process()
    results["search"] = {"http_rps": round(http_rps, 1), "in_process_rps": round(local_rps, 1),
                         "ratio": round(http_rps / local_rps, 3), "requests": args.searches}
    print(json.dumps({"search": results["search"]}, indent=2), flush=True)
    server.should_exit = True
    services.close()
    out = REPO / "bench" / "results" / f"api-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
