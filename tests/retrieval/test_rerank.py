"""Re-ranking: the cross-encoder re-orders the fused head, batched, and only when asked."""

from __future__ import annotations

import pytest

from retrieval.profile import SearchProfile
from retrieval.rerank import load_cross_encoder
from tests.retrieval.worlds import VOCAB, Doc, ScriptedCrossEncoder, searcher, write_docs


@pytest.fixture
def world(services, hash_encoder, shared_bm25):
    index = services.open_index("rerank")
    docs = [Doc(f"d{i:02d}", [f"{VOCAB[i % len(VOCAB)]} gripper {VOCAB[(i * 3) % len(VOCAB)]}"]) for i in range(40)]
    write_docs(index, docs, hash_encoder, shared_bm25)
    yield index
    index.close()


def test_rerank_orders_the_head_by_cross_encoder_score(world, hash_encoder, shared_bm25):
    favourite = "d17"
    ce = ScriptedCrossEncoder(lambda q, p: 10.0 if p.startswith(f"{VOCAB[17]} gripper") else -1.0)
    s = searcher(world, hash_encoder, shared_bm25, cross_encoder=ce, rerank_depth=40)
    plain = s.search("gripper", ["public"], k=5, mode="hybrid")
    reranked = s.search("gripper", ["public"], k=5, mode="hybrid+rerank")
    assert plain[0].doc_id != favourite
    assert reranked[0].doc_id == favourite
    assert reranked[0].scores["rerank"] == 10.0 and "fused" in reranked[0].scores
    assert all("rerank" not in h.scores for h in plain)


def test_only_the_top_depth_is_rescored(world, hash_encoder, shared_bm25):
    ce = ScriptedCrossEncoder(lambda q, p: 0.0)
    s = searcher(world, hash_encoder, shared_bm25, cross_encoder=ce)
    s.search("gripper", ["public"], k=30, profile=SearchProfile(rerank=True, rerank_depth=7))
    assert ce.pairs_scored == 7


def test_rerank_without_a_cross_encoder_says_so(world, hash_encoder, shared_bm25):
    s = searcher(world, hash_encoder, shared_bm25)
    s.cross_encoder = None
    with pytest.raises(RuntimeError, match="cross-encoder"):
        s.search("gripper", ["public"], mode="hybrid+rerank")


def test_the_bundled_cross_encoder_prefers_the_passage_that_answers(models_dir):
    scorer = load_cross_encoder(models_dir / "ms-marco-MiniLM-L-12-v2", "onnx")
    question = "How many weeks of paid parental leave do birth parents get?"
    scores = scorer.score([
        (question, "The cafeteria is open from eight to four on weekdays."),
        (question, "Birth parents receive sixteen weeks of fully paid parental leave."),
        (question, "Servers are backed up every night to the second data centre."),
    ])
    assert scores.argmax() == 1
    assert scores[1] > 0 > max(scores[0], scores[2])
