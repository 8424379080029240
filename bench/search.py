"""Search latency on the embedded backend (Qdrant Edge), at 10k and 100k chunks.

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--queries 200] [--models data/models]

What is timed, per query, with the real bge-small query encoder, real BM25 and
the real ``HybridSearcher`` (ACL filter inside the query, fusion, shaping):

* the whole search (query encoding + the one batched index call + fusion +
  shaping), k = 10, for dense, sparse and hybrid, with an empty query cache;
* the same hybrid search when the question was asked before (query-embedding
  cache hit);
* the index call alone (``HybridSearcher.candidates`` with cached vectors);
* sparse and hybrid again with BM25's IDF over the whole collection, as before
  issue 15: the difference is what computing it over the reader's documents
  (Qdrant's IDF corpus = their ACL) costs;
* measuring the collection's average BM25 length and re-encoding every BM25
  vector by it (``retrieval/sparse_stats.py``), once, after the build;
* re-ranking the top 10 and top 20 with the bundled cross-encoder, per query
  and per passage.

How the collections are built: chunks are synthetic, so 100k of them build in
about a minute instead of the ~35 minutes real embedding would take on two
cores. Each chunk's text is ~180 words drawn Zipf-wise (s = 1.1) from the
whole-word English entries of the bge tokenizer's vocabulary (so BM25 sees a
realistic term distribution and the cross-encoder realistic token counts);
its dense vector is a random unit vector (384 dims), which costs the engine
exactly what a real one does; its BM25 vector is the real ``Bm25Encoder``
output for the text; the payload has the production layout with ACL tokens
spread over 20 groups. Queries are 3–9 words from the same distribution and
run as a user in three groups. Results go to ``bench/results/search-*.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest.encoders import load_encoder  # noqa: E402
from ingest.sparse import Bm25Encoder  # noqa: E402
from retrieval.edge_index import EdgeIndex  # noqa: E402
from retrieval.profile import SearchProfile  # noqa: E402
from retrieval.rerank import load_cross_encoder  # noqa: E402
from retrieval.schema import ChunkPoint, IndexFilter, point_id  # noqa: E402
from retrieval.search import HybridSearcher  # noqa: E402
from retrieval.sparse_stats import keep_average_length, measure  # noqa: E402

GROUPS = 20
WORDS_PER_CHUNK = 180
DIM = 384


def vocabulary(tokenizer_json: Path) -> list[str]:
    vocab = json.loads(tokenizer_json.read_text())["model"]["vocab"]
    words = [w for w, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if w.isalpha() and w.isascii() and len(w) > 2]
    return words


class Zipf:
    def __init__(self, words: list[str], seed: int = 0, s: float = 1.1) -> None:
        self.words = np.array(words)
        ranks = np.arange(1, len(words) + 1)
        p = 1.0 / ranks**s
        self.p = p / p.sum()
        self.rng = np.random.default_rng(seed)

    def text(self, n: int) -> str:
        return " ".join(self.rng.choice(self.words, size=n, p=self.p))


def build(path: Path, n: int, zipf: Zipf, bm25: Bm25Encoder, optimize: bool) -> dict:
    started = time.perf_counter()
    index = EdgeIndex(path)
    index.ensure_collection(DIM)
    rng = np.random.default_rng(n)
    batch = 2000
    for start in range(0, n, batch):
        texts = [zipf.text(WORDS_PER_CHUNK) for _ in range(min(batch, n - start))]
        vectors = rng.normal(size=(len(texts), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        sparse = bm25.encode_documents(texts)
        points = []
        for i, text in enumerate(texts):
            no = start + i
            doc = f"doc{no // 4}"
            points.append(ChunkPoint(point_id(doc, no % 4, str(no)), vectors[i].tolist(), sparse[i], {
                "doc_id": doc, "doc_sha": doc, "title": f"Document {no // 4}", "source": f"{doc}.pdf",
                "acl": [f"group:{no % GROUPS}", f"user:{no % 97}"], "groups": [f"g{no % GROUPS}"], "owner": None,
                "doc_type": "pdf", "created_at": "2026-01-01T00:00:00+00:00", "embed_model": "bge-small-en",
                "chunk_no": no % 4, "text": text, "page": 1, "heading_path": [], "char_start": 0,
                "char_end": len(text),
            }))
        index.upsert(points)
    built = time.perf_counter() - started
    t = time.perf_counter()
    measure(index, bm25)
    measured = time.perf_counter() - t
    t = time.perf_counter()
    stats = keep_average_length(index, bm25)  # the first measurement re-encodes from the default 256
    calibrated = time.perf_counter() - t
    optimized = 0.0
    if optimize:
        t = time.perf_counter()
        index.shard.optimize()
        optimized = time.perf_counter() - t
    index.close()
    return {"chunks": n, "build_s": round(built, 1), "optimize_s": round(optimized, 1),
            "measure_avg_len_s": round(measured, 1), "measure_and_reencode_s": round(calibrated, 1),
            "avg_len": round(stats.avg_len, 1)}


@contextlib.contextmanager
def collection_wide_idf():
    """Searches as before issue 15: BM25's IDF over the whole collection, whoever reads."""
    import retrieval.search as search

    kept = search.readable_corpus
    search.readable_corpus = lambda flt: None
    try:
        yield
    finally:
        search.readable_corpus = kept


def pct(values: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "mean_ms": round(statistics.fmean(values), 2), "n": len(values)}


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_size(path: Path, encoder, bm25, queries: list[str]) -> dict:
    index = EdgeIndex(path)
    tokens = ["public", "user:5", "group:1", "group:2", "group:3"]  # sees 3 of 20 groups' chunks
    result: dict = {}
    try:
        for mode in ("dense", "sparse", "hybrid"):
            s = HybridSearcher(index, encoder, bm25, profile=SearchProfile.for_mode(mode))
            s.search("warm up the engine", tokens, k=10)
            result[f"search_{mode}"] = pct(timed(lambda q: s.search(q, tokens, k=10), queries))
            if mode == "hybrid":
                result["search_hybrid_cached_query"] = pct(timed(lambda q: s.search(q, tokens, k=10), queries))
                flt = IndexFilter(acl_tokens=tokens)
                result["index_call_hybrid"] = pct(
                    timed(lambda q: s.candidates(q, flt, s.profile, s.depth(10, s.profile)), queries))
        # The index call alone (query vectors cached), reader's IDF and collection-wide IDF
        # alternating query by query, so a load change on a shared machine hits both alike.
        flt = IndexFilter(acl_tokens=tokens)
        for mode in ("sparse", "hybrid"):
            s = HybridSearcher(index, encoder, bm25, profile=SearchProfile.for_mode(mode))
            depth = s.depth(10, s.profile)
            reader, wide = [], []
            for q in queries:
                s.encode_query(q)
                reader += timed(lambda q: s.candidates(q, flt, s.profile, depth), [q])
                with collection_wide_idf():
                    wide += timed(lambda q: s.candidates(q, flt, s.profile, depth), [q])
            result[f"index_call_{mode}_reader_idf"], result[f"index_call_{mode}_collection_idf"] = pct(reader), pct(wide)
        for mode in ("sparse", "hybrid"):
            s = HybridSearcher(index, encoder, bm25, profile=SearchProfile.for_mode(mode))
            with collection_wide_idf():
                s.search("warm up the engine", tokens, k=10)
                result[f"search_{mode}_collection_idf"] = pct(timed(lambda q: s.search(q, tokens, k=10), queries))
        hits = HybridSearcher(index, encoder, bm25).search(queries[0], tokens, k=10)
        result["hits_per_search"] = len(hits)
    finally:
        index.close()
    return result


def bench_encoding(encoder, bm25, queries: list[str]) -> dict:
    s = HybridSearcher(None, encoder, bm25)
    cold = timed(s.encode_query, queries)
    warm = timed(s.encode_query, queries)
    return {"query_encode_uncached": pct(cold), "query_encode_cached": pct(warm)}


def bench_rerank(scorer, zipf: Zipf, queries: list[str], depths=(10, 20)) -> dict:
    out = {}
    passages = [zipf.text(WORDS_PER_CHUNK) for _ in range(max(depths))]
    tokens = [len(scorer._tokenizer.encode(p).ids) for p in passages] if hasattr(scorer, "_tokenizer") else []
    scorer.score([(queries[0], p) for p in passages[:4]])  # warm up
    for depth in depths:
        times = timed(lambda q: scorer.score([(q, p) for p in passages[:depth]]), queries)
        stats = pct(times)
        stats["per_passage_ms"] = round(stats["mean_ms"] / depth, 2)
        out[f"rerank_top{depth}"] = stats
    if tokens:
        out["passage_tokens_mean"] = round(statistics.fmean(tokens), 1)
    return out


def print_table(report: dict) -> None:
    rows = []
    for size, r in report["sizes"].items():
        for key in ("search_dense", "search_sparse", "search_hybrid", "search_hybrid_cached_query", "index_call_hybrid",
                    "search_sparse_collection_idf", "search_hybrid_collection_idf", "index_call_sparse_reader_idf",
                    "index_call_sparse_collection_idf", "index_call_hybrid_reader_idf",
                    "index_call_hybrid_collection_idf"):
            rows.append((f"{size} chunks", key, r[key]["p50_ms"], r[key]["p95_ms"]))
    for key in ("query_encode_uncached", "query_encode_cached"):
        rows.append(("-", key, report["encoding"][key]["p50_ms"], report["encoding"][key]["p95_ms"]))
    for key, v in report["rerank"].items():
        if isinstance(v, dict):
            rows.append(("-", f"{key} ({v['per_passage_ms']} ms/passage)", v["p50_ms"], v["p95_ms"]))
    width = max(len(r[1]) for r in rows)
    print(f"{'collection':<16}{'what':<{width + 2}}{'p50 ms':>10}{'p95 ms':>10}")
    for c, what, p50, p95 in rows:
        print(f"{c:<16}{what:<{width + 2}}{p50:>10}{p95:>10}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rerank-queries", type=int, default=20)
    ap.add_argument("--models", type=Path, default=REPO / "data" / "models")
    ap.add_argument("--work-dir", type=Path, default=None, help="where the collections are built (default: a temp dir)")
    ap.add_argument("--no-optimize", action="store_true", help="skip EdgeShard.optimize() after the build")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()

    encoder = load_encoder(args.models / "bge-small-en", "onnx")
    bm25 = Bm25Encoder()
    scorer = load_cross_encoder(args.models / "ms-marco-MiniLM-L-12-v2", "onnx")
    words = vocabulary(args.models / "bge-small-en" / "tokenizer.json")
    zipf = Zipf(words)
    queries = [zipf.text(int(n)) for n in np.random.default_rng(1).integers(3, 10, size=args.queries)]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="inhouse-bench-"))
    report: dict = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version()},
        "method": __doc__.split("\n\n")[2].replace("\n", " ") if len(__doc__.split("\n\n")) > 2 else "",
        "queries": len(queries), "vocabulary_words": len(words), "builds": {}, "sizes": {},
    }
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            path = work / f"edge-{size}"
            if not path.exists():
                report["builds"][str(size)] = build(path, size, zipf, bm25, not args.no_optimize)
                print(f"built {size} chunks: {report['builds'][str(size)]}", file=sys.stderr)
            report["sizes"][str(size)] = bench_size(path, encoder, bm25, queries)
        report["encoding"] = bench_encoding(encoder, bm25, queries)
        report["rerank"] = bench_rerank(scorer, zipf, queries[: args.rerank_queries])
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"search-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
