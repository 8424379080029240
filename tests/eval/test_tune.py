"""`eval tune`: a deterministic split, and re-ranking chosen only where it helps."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from app.db.library import IndexCollection
from eval.beir import BeirDataset
from retrieval.profile import SearchProfile
from eval.tune import MemoScorer, TuneGrid, split_queries, tune
from retrieval.search import HybridSearcher
from tests.retrieval.worlds import VOCAB, Doc, HashEncoder, ScriptedCrossEncoder, write_docs

SMALL_GRID = TuneGrid(candidates=(20, 40), alphas=(0.3, 0.5, 0.7), rrf_ks=(60,), rrf_alphas=(0.5,),
                      rerank_depths=(10, 30))


def test_the_split_is_half_and_half_deterministic_and_order_free():
    qids = [f"q{i}" for i in range(101)]
    tune_half, held = split_queries(qids)
    assert len(tune_half) == 50 and len(held) == 51 and not set(tune_half) & set(held)
    assert set(tune_half) | set(held) == set(qids)
    shuffled = qids[::-1]
    assert set(split_queries(shuffled)[0]) == set(tune_half)
    assert split_queries(qids) == (tune_half, held)


def test_memo_scorer_scores_each_pair_once():
    inner = ScriptedCrossEncoder(lambda q, p: float(len(p)))
    memo = MemoScorer(inner)
    assert list(memo.score([("q", "ab"), ("q", "abc")])) == [2.0, 3.0]
    assert list(memo.score([("q", "abc"), ("q", "ab"), ("q", "abcd")])) == [3.0, 2.0, 4.0]
    assert inner.pairs_scored == 3


@pytest.fixture
def noisy_world(make_services):
    """Random vectors and random words: the first stage is poor, so a good re-ranker has room."""
    encoder = HashEncoder(8)
    services = make_services(encoder=encoder)
    rng = random.Random(7)
    docs = [Doc(f"doc{i:02d}", [" ".join(rng.sample(VOCAB, 5))], {"title": f"doc{i:02d}"}) for i in range(60)]
    index = services.open_index("noisy")
    write_docs(index, docs, encoder, services.bm25)
    with services.session() as session:
        session.add(IndexCollection(name="noisy", embed_model=encoder.model_id, dim=encoder.dim))
    queries, qrels = {}, {}
    for i in range(40):
        target = docs[rng.randrange(60)]
        words = target.texts[0].split()[:2] + rng.sample(VOCAB, 2)
        queries[f"q{i}"] = " ".join(words)
        qrels[f"q{i}"] = {target.doc_id: 1}
    dataset = BeirDataset("noisy", Path("."), {}, queries, qrels)
    yield services, index, dataset
    index.close()


def _judge(dataset, helpful: bool):
    relevant = {dataset.queries[q]: set(docs) for q, docs in dataset.qrels.items()}

    def rule(query: str, passage: str) -> float:
        is_relevant = passage.split("\n", 1)[0] in relevant.get(query, ())
        return (10.0 if is_relevant else 0.0) if helpful else (-10.0 if is_relevant else 0.0)

    return ScriptedCrossEncoder(rule)


def judged_by(services, index, judge):
    """Searchers over the noisy world whose re-ranker is the scripted judge."""
    return lambda profile: HybridSearcher(index, services.encoder, services.bm25, cross_encoder=lambda: judge,
                                          profile=profile)


def test_re_ranking_is_switched_on_when_it_helps(noisy_world):
    services, index, dataset = noisy_world
    judge = _judge(dataset, helpful=True)
    result = tune(judged_by(services, index, judge), lambda: judge, "noisy", dataset, SMALL_GRID, ks=[1, 10])
    assert result.chosen.rerank, result.as_dict()
    assert result.rerank_p_value < 0.05
    held = {r.mode: r.metrics["ndcg@10"] for r in result.held_out}
    assert held["tuned"] >= max(held["dense"], held["sparse"], held["hybrid"])
    services.save_search_profile(result.chosen, "noisy")
    assert services.search_profile("noisy") == result.chosen


def test_re_ranking_stays_off_when_it_hurts(noisy_world):
    services, index, dataset = noisy_world
    judge = _judge(dataset, helpful=False)
    result = tune(judged_by(services, index, judge), lambda: judge, "noisy", dataset, SMALL_GRID, ks=[1, 10])
    assert not result.chosen.rerank
    assert result.rerank_trials and all(t.profile.rerank for t in result.rerank_trials)
    report = result.as_dict()
    assert report["split"]["tune"] == 20 and report["split"]["held_out"] == 20
    assert set(report["held_out"]) == {"dense", "sparse", "hybrid", "hybrid+rerank", "tuned"}


def test_without_significant_evidence_the_best_fixed_mode_is_kept(noisy_world):
    """Random judgments give nothing to learn: tuning must not wander off the fixed modes."""
    services, index, dataset = noisy_world
    rng = random.Random(3)
    dataset.qrels = {q: {f"doc{rng.randrange(60):02d}": 1} for q in dataset.qrels}  # judgments unrelated to queries
    result = tune(lambda profile: services.searcher_for(index, profile), lambda: services.cross_encoder, "noisy",
                  dataset, replace(SMALL_GRID, rerank_depths=()), ks=[10])
    guard = result.as_dict()["against_best_fixed_mode"]
    assert guard["kept"] == "fixed mode", guard
    assert result.chosen == SearchProfile.for_mode(guard["best_fixed_mode"])
