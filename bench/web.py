"""What the web path adds to an answer: time to first and last token over HTTP vs in-process.

    .venv/bin/python bench/web.py [--questions 8] [--mode generative|extractive|auto] [--users 1,8]

One process, one set of services on the sample corpus (ingested into a
temporary data directory): the same questions are answered

* in-process, through ``AnswerService.stream`` (the path the CLI takes), and
* over real HTTP through the running app (uvicorn on a free port, sharing the
  same services): log in, POST the question as htmx does, read the
  server-sent events of ``GET /ask/stream/<ticket>`` as the browser does,

at 1 and at 8 concurrent users, alternating the two paths question by
question so load and caches hit both alike. Time to first token is taken at
the first ``Token`` event (in-process) or the first ``event: token`` frame
(HTTP); time to last token at the ``Answer`` event or the ``event: answer``
frame. The web layer's overhead is the difference of the p50s. It also sums
the JavaScript the browser downloads (all files under web/static, uncompressed).
Results go to ``bench/results/web-*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "bench-password-123"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def in_process(service, tokens: list[str], user_id: int, question: str) -> tuple[float, float]:
    from app.answering.events import Answer, Token

    started = time.perf_counter()
    first = None
    async for event in service.stream(question, tokens, user_id, store=True):
        if isinstance(event, Token) and first is None:
            first = time.perf_counter() - started
        elif isinstance(event, Answer):
            last = time.perf_counter() - started
    return (first if first is not None else last), last


async def over_http(client, csrf: str, question: str) -> tuple[float, float]:
    started = time.perf_counter()
    r = await client.post("/ask", data={"csrf": csrf, "question": question, "conversation_id": ""},
                          headers={"HX-Request": "true"})
    ticket_url = re.search(r'sse-connect="([^"]+)"', r.text).group(1)
    first = last = None
    async with client.stream("GET", ticket_url) as stream:
        async for line in stream.aiter_lines():
            if line == "event: token" and first is None:
                first = time.perf_counter() - started
            elif line == "event: answer":
                last = time.perf_counter() - started
            elif line == "event: done":
                break
    return (first if first is not None else last), last


def serve(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    return server


def serve_ready(app):
    """The app served by uvicorn on a free port in a thread, once /healthz says ok: (server, base URL)."""
    import httpx

    base = f"http://127.0.0.1:{(port := free_port())}"
    server = serve(app, port)
    while True:
        try:
            if httpx.get(base + "/healthz").json()["status"] == "ok":
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)


async def login(base: str, name: str):
    import httpx

    client = httpx.AsyncClient(base_url=base, timeout=600)
    await client.post("/login", data={"name": name, "password": PASSWORD, "next": "/"})
    home = await client.get("/")
    return client, re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--mode", default="generative", choices=["generative", "extractive", "auto"])
    parser.add_argument("--users", default="1,8")
    parser.add_argument("--models", default=str(REPO / "data" / "models"))
    args = parser.parse_args()

    from app.answering.service import AnswerService
    from app.accounts.directory import acl_tokens, get_user, hash_password
    from app.accounts.actor import Actor
    from app.library.manifest import load_manifest
    from app.services import build_services
    from app.settings import Settings
    from web.app import create_app

    workdir = Path(tempfile.mkdtemp(prefix="inhouse-bench-web-"))
    settings = Settings(data_dir=workdir / "data", models_dir=Path(args.models), answer_mode=args.mode)
    services = build_services(settings)
    print("ingesting the sample corpus …", flush=True)
    load_manifest(services, Actor.operator(), REPO / "samples" / "manifest.json")
    manifest = json.loads((REPO / "samples" / "manifest.json").read_text())
    names = [u["name"] for u in manifest["users"]]
    with services.session() as session:
        for name in names:
            get_user(session, name).password_hash = hash_password(PASSWORD)
        reader = get_user(session, "sofie")
        tokens, user_id = acl_tokens(session, reader), reader.id
    questions = [json.loads(line)["question"] for line in (REPO / "samples" / "questions.jsonl").read_text().splitlines()
                 if line.strip()][: args.questions]

    app = create_app(services=services)
    server, base = serve_ready(app)
    service = app.state.answers

    async def run(concurrency: int) -> dict:
        clients = [await login(base, "sofie") for _ in range(concurrency)]
        await in_process(service, tokens, user_id, questions[0])  # warm both paths
        await over_http(clients[0][0], clients[0][1], questions[0])
        timings: dict[str, list[tuple[float, float]]] = {"in_process": [], "http": []}
        for q in questions:
            batch = [q] * concurrency
            loop = asyncio.get_running_loop()
            # in-process users each on their own thread, as the web app runs answers off its loop
            results = await asyncio.gather(*[loop.run_in_executor(None, lambda q=q: asyncio.run(
                in_process(service, tokens, user_id, q))) for q in batch])
            timings["in_process"] += results
            timings["http"] += await asyncio.gather(*[over_http(c, csrf, q) for (c, csrf), q in zip(clients, batch)])
        for client, _ in clients:
            await client.aclose()
        out = {}
        for path, values in timings.items():
            firsts, lasts = [v[0] * 1000 for v in values], [v[1] * 1000 for v in values]
            out[path] = {"ttft_p50_ms": round(pct(firsts, .5), 1), "ttft_p95_ms": round(pct(firsts, .95), 1),
                         "ttlt_p50_ms": round(pct(lasts, .5), 1), "ttlt_p95_ms": round(pct(lasts, .95), 1),
                         "n": len(values)}
        out["web_overhead_ttft_p50_ms"] = round(out["http"]["ttft_p50_ms"] - out["in_process"]["ttft_p50_ms"], 1)
        # the same question on both paths, one after the other: the median of those differences
        # is steadier than a difference of two medians when the machine's load moves
        paired = [(h[0] - i[0]) * 1000 for i, h in zip(timings["in_process"], timings["http"])]
        out["web_overhead_ttft_paired_median_ms"] = round(statistics.median(paired), 1)
        return out

    results = {"mode": service.mode, "questions": len(questions), "machine": {
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}}
    for users in [int(u) for u in args.users.split(",")]:
        results[f"users_{users}"] = asyncio.run(run(users))
        print(json.dumps({f"users_{users}": results[f"users_{users}"]}, indent=2), flush=True)
    js = sum(p.stat().st_size for p in (REPO / "web" / "static").rglob("*.js"))
    results["javascript_bytes"] = js
    print(f"JavaScript shipped: {js} bytes ({js / 1024:.1f} KiB)")
    server.should_exit = True
    services.close()
    out = REPO / "bench" / "results" / f"web-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
