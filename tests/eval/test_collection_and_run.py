"""Building an eval collection once, running modes through the real search, storing runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from app.db.evaluation import EvalRun
from eval.beir import load_beir
from app.evaluation.collections import ensure_collection
from app.evaluation.runs import load_results, save_run
from eval.runner import run_modes
from ingest.sparse import Bm25Encoder

REPO = Path(__file__).resolve().parents[2]


class CountingEncoder:
    def __init__(self, inner) -> None:
        self.inner, self.documents_encoded = inner, 0
        self.dim, self.model_id = inner.dim, inner.model_id

    def encode_documents(self, texts):
        self.documents_encoded += len(texts)
        return self.inner.encode_documents(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)


@pytest.fixture
def built(eval_services, tiny_beir):
    ds = load_beir(tiny_beir)
    return eval_services, ds, ensure_collection(eval_services, ds)


def test_the_corpus_is_chunked_and_indexed_like_an_ingested_document(built):
    services, ds, info = built
    assert info.documents == 12 and info.chunks > 12, "32-token chunks split the longer documents"
    index = services.open_index(info.name)
    try:
        hits = index.get(list(index.ids()))
    finally:
        index.close()
    assert len(hits) == info.chunks
    payload = next(h.payload for h in hits if h.payload["doc_id"] == "leave")
    assert payload["acl"] == ["public"] and payload["title"] == "Parental leave"
    assert payload["embed_model"] == "bge-small-en" and payload["doc_type"] == "txt"
    for key in ("doc_sha", "source", "groups", "owner", "created_at", "chunk_no", "text", "page",
                "heading_path", "char_start", "char_end"):
        assert key in payload


def test_a_second_run_reuses_the_collection_and_other_bm25_settings_reuse_the_vectors(built, make_services):
    services, ds, first = built
    same = {"data_dir": services.settings.data_dir, "chunk_size": 32, "chunk_overlap": 4}
    counting = CountingEncoder(services.encoder)
    again = ensure_collection(make_services(**same, encoder=counting), ds)
    assert again.reused and again.name == first.name and counting.documents_encoded == 0
    other = ensure_collection(make_services(**same, encoder=counting, bm25=Bm25Encoder(k=0.9, b=0.4)), ds)
    assert other.name != first.name and not other.reused
    assert not other.embedded and counting.documents_encoded == 0, "dense vectors come from the cache"


def test_a_changed_corpus_builds_a_new_collection(eval_services, tiny_beir):
    first = ensure_collection(eval_services, load_beir(tiny_beir))
    corpus = tiny_beir / "corpus.jsonl"
    corpus.write_text(corpus.read_text().replace("sixteen weeks", "eighteen weeks"))
    second = ensure_collection(eval_services, load_beir(tiny_beir))
    assert second.name != first.name and second.embedded


def test_every_mode_finds_the_judged_documents(built):
    services, ds, info = built
    index = services.open_index(info.name)
    try:
        modes = ["dense", "sparse", "hybrid", "hybrid+rerank"]
        results = {r.mode: r for r in run_modes(lambda p: services.searcher_for(index, p), ds, modes, [1, 3, 10])}
    finally:
        index.close()
    for mode, r in results.items():
        assert r.metrics["ndcg@10"] >= 0.8, (mode, r.metrics)
        assert 0 <= r.metrics["precision@1"] <= 1 and r.metrics["recall@10"] >= r.metrics["recall@1"]
        assert r.latency_p95_ms >= r.latency_p50_ms > 0
        assert set(r.rankings) == set(ds.queries)
        assert r.metrics["answer_recall@10"] >= r.metrics["answer_recall@1"] > 0.5
        ranking = r.rankings["q5"]
        assert len(ranking) == len(set(ranking)), "each document once, at its best chunk"
    assert results["hybrid+rerank"].profile.rerank and not results["hybrid"].profile.rerank


def test_runs_are_stored_with_their_provenance(built):
    services, ds, info = built
    index = services.open_index(info.name)
    try:
        results = run_modes(lambda p: services.searcher_for(index, p), ds, ["sparse", "dense"], [1, 10])
    finally:
        index.close()
    run_id = save_run(services, ds, info.name, results, [1, 10], list(ds.queries), note="test")
    with services.session() as session:
        run = session.get(EvalRun, run_id)
        assert run.dataset_hash == ds.content_hash and run.collection == info.name
        assert run.models["embed"] == "bge-small-en" and run.models["rerank"] == "ms-marco-MiniLM-L-12-v2"
        assert run.settings["chunk_size"] == 32
        assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", run.git_commit), run.git_commit  # this checkout is git
        commit = run.git_commit.removesuffix("+dirty")
        assert subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO).returncode == 0
        assert run.qrels["q5"] == {"gripper": 1, "warranty": 0}
    stored = load_results(services, [f"{run_id}:dense", str(run_id)])
    assert [s.label for s in stored] == [f"{run_id}:dense", f"{run_id}:sparse", f"{run_id}:dense"]
    assert stored[0].metrics == next(r.metrics for r in results if r.mode == "dense")
