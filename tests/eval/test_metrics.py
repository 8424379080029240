"""Metrics come from ranx; these pin down how rankings and judgments are handed to it."""

from __future__ import annotations

import pytest

from eval.metrics import answer_recall, doc_ranking, normalise_answer, per_query, score, significance

QRELS = {"a": {"d1": 1}, "b": {"d2": 1, "d3": 1}}


def test_document_ranking_keeps_each_documents_first_chunk():
    assert list(doc_ranking(["d2", "d1", "d2", "d3", "d1"], 10)) == ["d2", "d1", "d3"]
    assert list(doc_ranking(["d1", "d2", "d3"], 2)) == ["d1", "d2"]


def test_perfect_and_empty_rankings():
    perfect = {"a": {"d1": 2.0}, "b": {"d2": 2.0, "d3": 1.0}}
    assert score(QRELS, perfect, [1, 10]) == pytest.approx(
        {"recall@1": 0.75, "recall@10": 1.0, "precision@1": 1.0, "precision@10": 0.15, "mrr@10": 1.0, "ndcg@10": 1.0})
    nothing = score(QRELS, {}, [10])
    assert nothing["ndcg@10"] == 0.0 and nothing["recall@10"] == 0.0


def test_a_relevant_document_at_rank_two():
    ranked = {"a": {"x": 2.0, "d1": 1.0}, "b": {"d2": 2.0, "d3": 1.0}}
    m = score(QRELS, ranked, [1])
    assert m["mrr@10"] == pytest.approx(0.75)
    assert per_query(QRELS, ranked)["a"] == pytest.approx(0.6309, abs=1e-4)


def test_answer_recall_counts_questions_with_the_answer_in_the_top_k():
    passages = {"a": ["nothing here", "The Denver Broncos won."], "b": ["no"]}
    answers = {"a": ["Denver Broncos"], "b": ["Panthers"]}
    assert answer_recall(passages, answers, [1, 2]) == {"answer_recall@1": 0.0, "answer_recall@2": 0.5}
    assert normalise_answer("The  Broncos!") == "broncos"


def test_significance_is_the_paired_t_test_on_the_per_query_scores():
    """Five queries; 'good' finds the document at rank 1 everywhere, 'mixed' at rank 1, 2 or not at all."""
    from scipy.stats import ttest_rel

    qrels = {q: {f"{q}-hit": 1} for q in "abcde"}
    good = {q: {f"{q}-hit": 2.0, "noise": 1.0} for q in qrels}
    mixed = {"a": {"a-hit": 2.0}, "b": {"noise": 2.0, "b-hit": 1.0}, "c": {"noise": 1.0},
             "d": {"noise": 2.0, "d-hit": 1.0}, "e": {"e-hit": 1.0}}
    out = significance(qrels, {"good": good, "mixed": mixed}, ["ndcg@10"])

    good_scores = [per_query(qrels, good)[q] for q in "abcde"]
    mixed_scores = [per_query(qrels, mixed)[q] for q in "abcde"]
    assert mixed_scores == pytest.approx([1.0, 0.6309, 0.0, 0.6309, 1.0], abs=1e-4)
    expected = ttest_rel(good_scores, mixed_scores).pvalue  # 0.130: a real difference, on five queries
    assert out["p_values"]["good"]["mixed"]["ndcg@10"] == pytest.approx(expected, abs=1e-3)
    assert out["scores"]["good"]["ndcg@10"] == 1.0
    assert out["scores"]["mixed"]["ndcg@10"] == pytest.approx(sum(mixed_scores) / 5, abs=1e-4)
    same = significance(qrels, {"good": good, "again": dict(good)}, ["ndcg@10"])
    assert same["p_values"]["good"]["again"]["ndcg@10"] == 1.0  # no difference at all: no evidence
