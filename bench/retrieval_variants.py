"""Screen how a chunk carries its title, the query instruction and BM25's k1/b, without rebuilding anything.

    .venv/bin/python bench/retrieval_variants.py DATASET_DIR --data-dir DIR [--limit N] VARIANT…

VARIANT is ``TEXT:K1:B:INSTRUCTION``: TEXT ``title`` (the BM25 text is
``Chunk.embed_text(title)``, as shipped), ``notitle`` (the chunk's text
alone) or ``us`` (the title's underscores as spaces in *both* vectors: the
chunks are re-embedded once, cached in ``--scratch``, and written with the
eval writer into a second copy); K1 and B are BM25's parameters;
INSTRUCTION ``1`` prefixes dense queries with the model's own instruction (as
shipped), ``0`` with nothing. ``title:1.2:0.75:1`` is the product as shipped.

Why a replay and not ``inhouse eval run`` per variant: each variant changes only
the BM25 vectors or the dense query vectors, so the eval collection that
``inhouse eval run`` built in ``--data-dir`` (its dense vectors untouched) is
copied once into ``--scratch``, each variant's BM25 vectors are written into
the copy in place (average length measured from the variant's own text),
every query's dense and sparse lists are fetched through
``HybridSearcher.candidates`` (100 per list) and the shipped profile, dense
and sparse are replayed over them with ``eval.tune.replay`` (the fusion and
shaping code a search runs). On the shipped variant this gives the figures
``inhouse eval run`` stores for the same collection (SciFact hybrid 0.7370,
SQuAD 2,000 0.8825). nDCG@10 is printed for all queries and for
``eval tune``'s two halves, with ranx's paired t-test against the first
variant given; rankings are kept in ``--scratch`` for later tests.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.evaluation.collections import cache_dir, collection_name  # noqa: E402
from app.services import build_services  # noqa: E402
from app.settings import Settings  # noqa: E402
from eval.beir import load_beir  # noqa: E402
from eval.collection import load_cached, write_corpus  # noqa: E402
from eval.metrics import score, significance  # noqa: E402
from eval.tune import collect_candidates, replay, split_queries  # noqa: E402
from ingest.encoders import OnnxEncoder  # noqa: E402
from ingest.sparse import Bm25Encoder  # noqa: E402
from retrieval.edge_index import EdgeIndex  # noqa: E402
from retrieval.profile import SearchProfile  # noqa: E402
from retrieval.schema import PUBLIC_TOKEN  # noqa: E402
from retrieval.search import HybridSearcher  # noqa: E402

MODES = ("dense", "sparse", "hybrid")


def ndcg(qrels: dict, rankings: dict, qids: list[str]) -> float:
    return score({q: qrels[q] for q in qids}, {q: rankings[q] for q in qids}, [10])["ndcg@10"]


def p_value(qrels: dict, base: dict, other: dict, qids: list[str]) -> float:
    sub = {q: qrels[q] for q in qids}
    test = significance(sub, {"base": {q: base[q] for q in qids}, "other": {q: other[q] for q in qids}}, ["ndcg@10"])
    return test["p_values"]["other"]["base"]["ndcg@10"]


def points_of(index: EdgeIndex) -> dict[tuple[str, int], str]:
    """Each chunk's point id, by (corpus document id, chunk number)."""
    return {(h.payload["doc_id"], h.payload["chunk_no"]): h.id for h in index.scroll(["doc_id", "chunk_no"])}


def underscore_copy(services, ds, rows, scratch: Path, name: str) -> tuple[EdgeIndex, object]:
    """A second copy whose chunks carry the title with spaces for underscores, in both vectors."""
    spaced = replace(ds, corpus={d: replace(doc, title=doc.title.replace("_", " ")) for d, doc in ds.corpus.items()})
    cache = scratch / f"{name}-us-dense.npy"
    if cache.exists():
        vectors = np.load(cache)
    else:
        texts = [c.embed_text(spaced.corpus[d].title) for d, c in rows]
        parts = [services.encoder.encode_documents(texts[i : i + 256]) for i in range(0, len(texts), 256)]
        vectors = np.concatenate(parts)
        np.save(cache, vectors)
    index = EdgeIndex(scratch / f"{name}-us")
    if not index.exists():
        write_corpus(index, spaced, rows, vectors, services.bm25, services.settings.embed_model_path.name, "variant")
    return index, spaced


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--data-dir", type=Path, required=True, help="where `inhouse eval run` built the collection")
    ap.add_argument("--models-dir", type=Path, default=REPO / "data" / "models")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/retrieval-variants"))
    args = ap.parse_args()

    services = build_services(Settings(data_dir=args.data_dir, models_dir=args.models_dir))
    ds = load_beir(args.dataset, args.limit)
    name = collection_name(services, ds)
    cached = load_cached(cache_dir(services, ds))
    if cached is None:
        sys.exit(f"no chunk cache for {ds.name} in {args.data_dir}: run `inhouse eval run` on it first")
    rows = cached[0]
    args.scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    copy = args.scratch / name
    if not copy.exists():
        shutil.copytree(args.data_dir / "qdrant" / name, copy)
    index = EdgeIndex(copy)
    point_of = points_of(index)
    qids = list(ds.queries)
    qrels = {q: ds.qrels[q] for q in qids}
    halves = {"all": qids, **dict(zip(("tune", "held"), split_queries(qids)))}
    encoders: dict[str, OnnxEncoder] = {}
    store = args.scratch / f"rankings-{name}.pkl"
    kept = pickle.loads(store.read_bytes()) if store.exists() else {}
    first = args.variants[0]
    spaced_copy = None
    for variant in args.variants:
        text, k1, b, instruction = variant.split(":")
        started = time.perf_counter()
        target, corpus = index, ds.corpus
        if text == "us":
            spaced_copy = spaced_copy or underscore_copy(services, ds, rows, args.scratch, name)
            target, corpus = spaced_copy[0], spaced_copy[1].corpus
        target_points = point_of if target is index else points_of(target)
        texts = [c.embed_text("" if text == "notitle" else corpus[d].title) for d, c in rows]
        plain = Bm25Encoder(language=services.settings.bm25_language, k=float(k1), b=float(b))
        lengths = plain.lengths(texts)
        bm25 = plain.with_avg_len(sum(lengths) / len(lengths))
        vectors = bm25.encode_documents(texts)
        target.set_sparse([(target_points[(d, c.chunk_no)], v) for (d, c), v in zip(rows, vectors)])
        target.flush()
        if instruction not in encoders:
            encoders[instruction] = OnnxEncoder(
                services.settings.embed_model_path, query_instruction=None if instruction == "1" else ""
            )
        searcher = HybridSearcher(target, encoders[instruction], bm25)
        cands = collect_candidates(searcher, ds, qids, [PUBLIC_TOKEN], 100)
        report: dict = {"variant": variant, "avg_len": round(bm25.avg_len, 1)}
        for mode in MODES:
            kept[(variant, mode)] = replay(searcher, ds, cands, SearchProfile.for_mode(mode, SearchProfile()))
            for half, members in halves.items():
                entry = {"ndcg@10": round(ndcg(qrels, kept[(variant, mode)], members), 4)}
                if variant != first and (first, mode) in kept:
                    entry["p_vs_first"] = round(p_value(qrels, kept[(first, mode)], kept[(variant, mode)], members), 3)
                report[f"{mode} {half}"] = entry
        report["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(report), flush=True)
        store.with_suffix(".partial").write_bytes(pickle.dumps(kept))
        os.replace(store.with_suffix(".partial"), store)
    index.close()
    if spaced_copy:
        spaced_copy[0].close()


if __name__ == "__main__":
    main()
