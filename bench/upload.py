"""The browser's upload path against `inhouse ingest` on the same files, and the library list at
100,000 documents.

    .venv/bin/python bench/upload.py [--docs 60] [--rounds 2] [--list-docs 100000] [--list-requests 60]

1. **Upload throughput.** The same synthetic policy documents (Markdown, ~10 chunks of
   256 tokens each) are ingested, in alternating order each round, into two fresh data
   directories that share one set of loaded models:

   * the CLI path: ``app.library.actions.ingest_paths`` on the folder (what ``inhouse
     ingest`` runs once its models are loaded), timed from the call to its return;
   * the browser path: the real app (``web.app.create_app``) served by uvicorn on a free
     port with its ingestion worker, an admin logged in over HTTP, every file sent in one
     streamed ``multipart/form-data`` POST to ``/documents/upload`` as the upload form
     does, timed from the first byte sent until the last job row is final in SQL (polled
     every 0.1 s).

   Both have warmed their parsers and opened the index first, as a running server has.
   The ratio is browser throughput / CLI throughput (target >= 0.9).

2. **The library list at 100,000 documents.** A throwaway SQLite database (migrated like
   any other) gets ``--list-docs`` document rows inserted straight (in four groups, with
   owners, types and statuses spread over them), then ``GET /documents`` is timed over
   real HTTP for an administrator (sees every row) and for an owner who is a member of
   two of the four groups (the access rule in the query), on the first page, a title
   search, a status filter, a sort by title, and page 1,000 (rows 24,976-25,000): reached
   by following Next 999 times for the default sort (untimed; then that link is timed),
   and for each other sort by a cursor made with the app's own ``cursor_at`` from the row
   before it (the same link Next would give). p50 and p95 per case (target: p95 <= 100 ms).
   The page counts matches only up to ``COUNT_CAP`` (1,000; "1,000+").

Results go to ``bench/results/upload-*.json``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "bench-password-123"
from bench.ingest import WORDS, synth_docs  # noqa: E402  (one generator for both benchmarks)
from bench.web import free_port, pct  # noqa: E402


class Served:
    """The app on a real port in a thread (its lifespan starts the ingestion worker)."""

    def __init__(self, services) -> None:
        import httpx
        import uvicorn

        from web.app import create_app

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(services=services), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).json().get("status") == "ok":
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.2)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def logged_in(url: str, name: str):
    import re

    import httpx

    client = httpx.Client(base_url=url, timeout=600, follow_redirects=False)
    r = client.post("/login", data={"name": name, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/documents/upload").text).group(1)
    return client, csrf


def multipart(folder: Path, csrf: str, boundary: str):
    """The form's fields, then each file read from disk in 64 KiB pieces: what a browser streams."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"groups\"\r\n\r\nbench\r\n").encode()
    for path in sorted(folder.iterdir()):
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
               "Content-Type: text/markdown\r\n\r\n").encode()
        with path.open("rb") as fh:
            while block := fh.read(65536):
                yield block
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def fresh_services(root: Path, models: Path, encoder, bm25):
    from app.accounts.directory import add_group, add_user
    from app.services import build_services
    from app.settings import Settings
    from ingest.pipeline import warm_up

    services = build_services(Settings(data_dir=root / "data", models_dir=models), encoder=encoder, bm25=bm25)
    with services.session() as s:
        add_group(s, "bench")
        add_user(s, "ada", role="admin", groups=["bench"], password=PASSWORD)
    warm_up(services.settings.preparation(), services.encoder)
    services.check_collection(create=True)
    return services


def run_cli(folder: Path, root: Path, models: Path, encoder, bm25) -> dict:
    from app.accounts.actor import Actor
    from app.library.actions import ingest_paths

    services = fresh_services(root, models, encoder, bm25)
    try:
        start = time.perf_counter()
        results = ingest_paths(services, Actor.operator(), [folder], ["bench"])
        seconds = time.perf_counter() - start
    finally:
        services.close()
    return {"seconds": seconds, "docs": len(results), "ready": sum(r.status == "ready" for r in results),
            "chunks": sum(r.chunks for r in results)}


def run_browser(folder: Path, root: Path, models: Path, encoder, bm25) -> dict:
    from sqlalchemy import func, select

    from app.db.library import Document, IngestJob

    services = fresh_services(root, models, encoder, bm25)
    served = Served(services)
    try:
        client, csrf = logged_in(served.url, "ada")
        boundary = uuid.uuid4().hex
        n = len(list(folder.iterdir()))
        start = time.perf_counter()
        r = client.post("/documents/upload", content=multipart(folder, csrf, boundary),
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "HX-Request": "true"})
        answered = time.perf_counter() - start
        assert r.status_code == 200, r.text[:500]
        while True:
            with services.session() as s:
                open_jobs = s.scalar(select(func.count()).select_from(IngestJob)
                                     .where(IngestJob.status.in_(("queued", "running"))))
                jobs = s.scalar(select(func.count()).select_from(IngestJob))
            if jobs >= n and not open_jobs:
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        with services.session() as s:
            ready = s.scalar(select(func.count()).select_from(Document).where(Document.status == "ready"))
            chunks = s.scalar(select(func.sum(Document.chunk_count)))
        client.close()
    finally:
        served.close()
        services.close()
    return {"seconds": seconds, "upload_answered_s": answered, "docs": n, "ready": ready, "chunks": chunks}


def throughput(args, models: Path) -> dict:
    from app.services import build_services
    from app.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="inhouse-bench-upload-"))
    folder = work / "docs"
    folder.mkdir()
    synth_docs(folder, args.docs)
    loader = build_services(Settings(data_dir=work / "loader", models_dir=models))
    encoder, bm25 = loader.encoder, loader.bm25  # loaded once, shared by both paths
    encoder.encode_documents(["warm up"])
    runs: dict[str, list[dict]] = {"cli": [], "browser": []}
    for rnd in range(args.rounds):
        order = ("cli", "browser") if rnd % 2 == 0 else ("browser", "cli")
        for path in order:
            root = work / f"{path}-{rnd}"
            result = (run_cli if path == "cli" else run_browser)(folder, root, models, encoder, bm25)
            runs[path].append(result)
            print(f"round {rnd + 1} {path:8s} {result['seconds']:7.2f} s  {result['docs']} docs "
                  f"{result['ready']} ready  {result['chunks']} chunks", flush=True)
    cli = statistics.median(r["seconds"] for r in runs["cli"])
    browser = statistics.median(r["seconds"] for r in runs["browser"])
    ratio = cli / browser  # throughput ratio: same files, so the inverse ratio of times
    print(f"upload throughput: CLI {args.docs / cli:.2f} docs/s, browser {args.docs / browser:.2f} docs/s, "
          f"ratio {ratio:.3f} (target >= 0.9)", flush=True)
    return {"docs": args.docs, "runs": runs, "cli_median_s": cli, "browser_median_s": browser, "ratio": ratio}


def fill_library(services, n: int, seed: int = 7) -> None:
    """n document rows in four groups, inserted straight (no files, no index)."""
    from sqlalchemy import insert, select

    from app.accounts.directory import add_group, add_user
    from app.db.accounts import Group, User
    from app.db.library import Document, DocumentGroup

    with services.session() as s:
        for g in ("north", "south", "east", "west"):
            add_group(s, g)
        add_user(s, "ada", role="admin", password=PASSWORD)
        add_user(s, "olav", role="owner", groups=["north", "east"], password=PASSWORD)
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    with services.session() as s:
        groups = [g.id for g in s.scalars(select(Group).order_by(Group.name))]
        users = [u.id for u in s.scalars(select(User))]
    for start in range(0, n, 10_000):
        docs, links = [], []
        for i in range(start, min(n, start + 10_000)):
            doc_id = uuid.uuid4().hex
            name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:06d}"
            when = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
            docs.append(dict(id=doc_id, title=name.replace("-", " ").title(), source=f"{name}.pdf",
                             source_uri=f"/bench/{name}.pdf", sha256=uuid.uuid4().hex * 2, size=rng.randint(1000, 10**7),
                             doc_type=rng.choice(["pdf", "docx", "md", "html", "txt"]), public=False,
                             owner_id=rng.choice(users) if rng.random() < 0.2 else None,
                             status=rng.choices(["ready", "failed", "queued", "cancelled"], [94, 3, 2, 1])[0],
                             chunk_count=rng.randint(1, 300), created_at=when, updated_at=when))
            links.append(dict(document_id=doc_id, group_id=rng.choice(groups)))
        with services.session() as s:
            s.execute(insert(Document), docs)
            s.execute(insert(DocumentGroup), links)


DEEP_PAGE = 1000


def page_by_next(client, params: dict, page: int) -> str:
    """Page ``page``'s address, reached as a reader does: Next after Next from the first page (untimed)."""
    url, r = "/documents", client.get("/documents", params=params)
    for _ in range(page - 1):
        url = "/documents" + html.unescape(re.search(r'<a href="([^"]+)" rel="next"', r.text).group(1))
        r = client.get(url)
    assert f"page {page} of" in r.text and r.text.count('<tr data-doc="') == 25
    return url


def page_by_cursor(services, who: str, sort: str, page: int) -> dict:
    """The query of page ``page`` in this sort: a cursor at the row before it, as Next would make it."""
    from sqlalchemy import select

    from app.accounts.directory import get_user
    from app.db.library import Document
    from app.library.paging import PAGE_SIZE, SORTS, cursor_at
    from app.library.scope import readable_clause

    order = SORTS[sort]
    with services.session() as s:
        row = s.execute(select(Document, *order.columns()[:-1]).where(readable_clause(get_user(s, who)))
                        .order_by(*[c.desc() if order.descending else c.asc() for c in order.columns()])
                        .offset((page - 1) * PAGE_SIZE - 1).limit(1)).one()
        return {"sort": sort, "cursor": cursor_at(sort, row, True, page)}


def list_latency(args, models: Path) -> dict:
    from app.services import build_services
    from app.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="inhouse-bench-list-"))
    loader = build_services(Settings(data_dir=work / "loader", models_dir=models))
    services = build_services(Settings(data_dir=work / "data", models_dir=models), encoder=loader.encoder,
                              bm25=loader.bm25)
    start = time.perf_counter()
    fill_library(services, args.list_docs)
    print(f"inserted {args.list_docs:,} document rows in {time.perf_counter() - start:.1f} s", flush=True)
    served = Served(services)
    cases = {
        "first page": {},
        "title search": {"q": "robot"},
        "status failed": {"status": "failed"},
        "sort by title": {"sort": "title"},
        f"page {DEEP_PAGE:,} by Next": None,  # walked below, per reader
        **{f"page {DEEP_PAGE:,}, sort by {sort} (cursor)": sort for sort in ("title", "status", "type", "chunks")},
    }
    out: dict[str, dict] = {}
    try:
        for who in ("ada", "olav"):
            client, _ = logged_in(served.url, who)
            for case, params in cases.items():
                if params is None:
                    start = time.perf_counter()
                    url, params = page_by_next(client, {}, DEEP_PAGE), None
                    print(f"{who}: followed Next {DEEP_PAGE - 1} times in {time.perf_counter() - start:.1f} s "
                          f"({(time.perf_counter() - start) / (DEEP_PAGE - 1) * 1000:.1f} ms a page)", flush=True)
                else:
                    url = "/documents"
                    if isinstance(params, str):
                        params = page_by_cursor(services, who, params, DEEP_PAGE)
                assert client.get(url, params=params).status_code == 200  # warm
                times = []
                for _ in range(args.list_requests):
                    t = time.perf_counter()
                    r = client.get(url, params=params)
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                if f"page {DEEP_PAGE:,}" in case:  # the deep page really is page 1,000, full
                    assert f"page {DEEP_PAGE} of" in r.text and r.text.count('<tr data-doc="') == 25, case
                total = int(r.text.split('data-total="', 1)[1].split('"', 1)[0])
                shown = f"{total:,}+" if "data-more" in r.text else f"{total:,}"  # the count stops at its cap
                key = f"{who} ({'admin' if who == 'ada' else 'owner, 2 of 4 groups'}): {case}"
                out[key] = {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95), "matching": shown}
                print(f"{key:68s} p50 {pct(times, 0.5):6.1f} ms  p95 {pct(times, 0.95):6.1f} ms  "
                      f"({shown} match)", flush=True)
            client.close()
    finally:
        served.close()
        services.close()
    worst = max(v["p95_ms"] for v in out.values())
    print(f"library list at {args.list_docs:,} documents: worst p95 {worst:.1f} ms (target <= 100 ms)", flush=True)
    return {"documents": args.list_docs, "cases": out, "worst_p95_ms": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--list-docs", type=int, default=100_000)
    parser.add_argument("--list-requests", type=int, default=60)
    parser.add_argument("--skip-upload", action="store_true")
    parser.add_argument("--skip-list", action="store_true")
    parser.add_argument("--models", default=str(REPO / "data" / "models"))
    args = parser.parse_args()
    models = Path(args.models)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
              "python": platform.python_version(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if not args.skip_upload:
        result["upload"] = throughput(args, models)
    if not args.skip_list:
        result["list"] = list_latency(args, models)
    out = REPO / "bench" / "results" / f"upload-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
