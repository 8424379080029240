"""Run a data set's queries through the real search code path and score them.

Every query of every mode goes through ``HybridSearcher.search`` (encoding,
the one index call with the ACL filter inside, fusion, re-ranking, shaping),
exactly as a user's search does. A fresh searcher per mode keeps one mode's
query-embedding cache from flattering the next mode's latency. Latency is
timed on the search a user runs (k = 10, nothing cached); the metrics come
from the same search asked for enough hits to rank 100 documents (its top is
the same: see tests/retrieval/test_fusion.py). Chunk hits become a document
ranking by first occurrence; metrics come from ranx.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from eval.progress import Progress, no_progress
from eval.beir import BeirDataset
from eval.metrics import answer_recall, doc_ranking, score
from retrieval.profile import SearchProfile
from retrieval.schema import PUBLIC_TOKEN
from retrieval.search import HybridSearcher

# A fresh searcher over the collection under test, searching with this profile.
SearcherFactory = Callable[[SearchProfile], HybridSearcher]

CHUNKS_PER_DOC = 2  # chunk hits fetched per document ranked: documents often have several
WARM_UP_QUERY = "warm-up query that loads the models"
LATENCY_K = 10  # latency is reported for the search a user runs


@dataclass
class ModeResult:
    mode: str
    profile: SearchProfile
    metrics: dict[str, float]
    latency_p50_ms: float
    latency_p95_ms: float
    rankings: dict[str, dict[str, float]] = field(repr=False)
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # per query, for the distribution

    def summary(self) -> dict:
        return {**self.metrics, "latency_p50_ms": self.latency_p50_ms, "latency_p95_ms": self.latency_p95_ms}


class MemoScorer:
    """Cross-encoder scores remembered per (query, passage): each pair is scored once."""

    def __init__(self, scorer) -> None:
        self.scorer = scorer
        self.model_id = getattr(scorer, "model_id", "cross-encoder")
        self.cache: dict[tuple[str, str], float] = {}

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        missing = [p for p in dict.fromkeys(pairs) if p not in self.cache]
        if missing:
            for pair, value in zip(missing, self.scorer.score(missing)):
                self.cache[pair] = float(value)
        return np.array([self.cache[p] for p in pairs], dtype=np.float32)


def _memoised(searcher: HybridSearcher) -> MemoScorer | None:
    """Give the searcher a memoising cross-encoder (loaded on first use); returns a handle to reset it."""
    if searcher.cross_encoder is None:
        return None
    load, memo = searcher.cross_encoder, MemoScorer(None)

    def scorer() -> MemoScorer:
        if memo.scorer is None:
            memo.scorer = load()
            memo.model_id = getattr(memo.scorer, "model_id", memo.model_id)
        return memo

    searcher.cross_encoder = scorer
    return memo


def profile_for(mode: str, stored: SearchProfile) -> SearchProfile:
    """A fixed mode uses the code's defaults; ``default`` is what the collection's search does."""
    if mode == "default":
        return stored
    return SearchProfile.for_mode(mode, SearchProfile())


def run_mode(
    searcher: HybridSearcher, dataset: BeirDataset, profile: SearchProfile, ks: Sequence[int], qids: Sequence[str] | None = None,
    acl_tokens: Sequence[str] = (PUBLIC_TOKEN,), progress: Progress = no_progress, label: str | None = None,
) -> ModeResult:
    qids = list(qids if qids is not None else dataset.queries)
    depth = max(max(ks), 10)
    chunk_k = depth * CHUNKS_PER_DOC
    memo = _memoised(searcher)
    searcher.search(WARM_UP_QUERY, list(acl_tokens), k=chunk_k, profile=profile)
    rankings: dict[str, dict[str, float]] = {}
    passages: dict[str, list[str]] = {}
    latencies: list[float] = []
    for n, qid in enumerate(qids, 1):
        query = dataset.queries[qid]
        if memo is not None:
            memo.cache.clear()
        # timed: the search a user runs (k = 10), query not yet encoded, cross-encoder scores not yet known
        started = time.perf_counter()
        searcher.search(query, list(acl_tokens), k=LATENCY_K, profile=profile)
        latencies.append((time.perf_counter() - started) * 1000)
        # scored: the same search, deep enough for recall@100 (same top; encoding and scores reused)
        hits = searcher.search(query, list(acl_tokens), k=chunk_k, profile=profile)
        rankings[qid] = doc_ranking((h.doc_id for h in hits), depth)
        passages[qid] = [h.text for h in hits[: max(ks)]]
        progress(label or profile.label, n, len(qids))
    qrels = {q: dataset.qrels[q] for q in qids}
    metrics = score(qrels, rankings, ks)
    if dataset.answers:
        metrics.update(answer_recall(passages, {q: dataset.answers.get(q, []) for q in qids}, ks))
    return ModeResult(
        mode=label or profile.label, profile=profile, metrics=metrics,
        latency_p50_ms=round(float(np.percentile(latencies, 50)), 2) if latencies else 0.0,
        latency_p95_ms=round(float(np.percentile(latencies, 95)), 2) if latencies else 0.0,
        rankings=rankings, latencies_ms=[round(v, 2) for v in latencies],
    )


def run_modes(
    make_searcher: SearcherFactory, dataset: BeirDataset, modes: Sequence[str], ks: Sequence[int],
    qids: Sequence[str] | None = None, acl_tokens: Sequence[str] = (PUBLIC_TOKEN,),
    stored: SearchProfile | None = None, extra: dict[str, SearchProfile] | None = None,
    progress: Progress = no_progress,
) -> list[ModeResult]:
    """Each mode (and each extra named profile) over the queries, a fresh searcher each."""
    stored = stored or SearchProfile()
    plan = [(mode, profile_for(mode, stored)) for mode in modes] + list((extra or {}).items())
    results: list[ModeResult] = []
    for label, profile in plan:
        same = next((r for r in results if r.profile == profile), None)
        if same is not None:  # the same profile searches the same way: measured once, reported under both names
            results.append(replace(same, mode=label))
            continue
        searcher = make_searcher(profile)
        results.append(run_mode(searcher, dataset, profile, ks, qids, acl_tokens, progress, label))
    return results
