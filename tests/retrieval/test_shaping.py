"""Result shaping: what a person sees after fusion (and re-ranking)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.hits import SearchHit
from retrieval.shaping import cap_per_document, drop_near_duplicates, merge_adjacent
from tests.retrieval.worlds import Doc, searcher, write_docs


def sh(doc: str, no: int, text: str, start: int = 0, end: int | None = None, score: float = 1.0) -> SearchHit:
    end = start + len(text) if end is None else end
    return SearchHit(doc, f"title {doc}", f"{doc}.txt", None, f"{doc}-{no}", text, score, chunk_no=no,
                     char_start=start, char_end=end, chunk_ids=[f"{doc}-{no}"], chunk_nos=[no],
                     scores={"fused": score})


def test_adjacent_chunks_of_a_document_merge_without_repeating_the_overlap():
    first = sh("a", 0, "alpha beta gamma delta", 0, 22)
    second = sh("a", 1, "gamma delta epsilon", 11, 30, score=0.5)  # its first 11 chars overlap
    merged = merge_adjacent([first, second])
    assert len(merged) == 1
    assert merged[0].text == "alpha beta gamma delta epsilon"
    assert merged[0].chunk_ids == ["a-0", "a-1"] and merged[0].score == 1.0


def test_a_later_chunk_ranked_first_keeps_its_score_when_the_earlier_one_joins():
    merged = merge_adjacent([sh("a", 3, "three", 30, 35, score=0.9), sh("a", 2, "two", 20, 25, score=0.4)])
    assert merged[0].chunk_nos == [2, 3] and merged[0].score == 0.9
    assert merged[0].text == "two\nthree"


def test_non_adjacent_chunks_and_other_documents_stay_apart():
    hits = [sh("a", 0, "x"), sh("a", 2, "y"), sh("b", 1, "z")]
    assert [h.chunk_ids for h in merge_adjacent(hits)] == [["a-0"], ["a-2"], ["b-1"]]


def test_cap_per_document_keeps_the_best_ranked_passages():
    hits = [sh("a", 0, "1"), sh("a", 5, "2"), sh("b", 0, "3"), sh("a", 9, "4")]
    assert [h.chunk_id for h in cap_per_document(hits, 2)] == ["a-0", "a-5", "b-0"]
    assert cap_per_document(hits, 0) == hits


def test_near_duplicates_drop_in_favour_of_the_better_ranked():
    text = "the quarterly board meeting approved the robotics budget for the next year"
    hits = [sh("a", 0, text), sh("b", 0, text + " indeed"), sh("c", 0, "an unrelated passage about leave")]
    kept = drop_near_duplicates(hits, 0.8)
    assert [h.doc_id for h in kept] == ["a", "c"]
    assert drop_near_duplicates(hits, 1.0) == hits


def _brute_force(hits, threshold):
    def shingles(t):
        w = re.findall(r"\w+", t.lower())
        return {" ".join(w[i : i + 3]) for i in range(max(len(w) - 2, 1))}

    kept = []
    for h in hits:
        a = shingles(h.text)
        if any(len(a & b) / len(a | b) >= threshold for _, b in kept):
            continue
        kept.append((h, a))
    return [h for h, _ in kept]


words = st.lists(st.sampled_from("ab cd ef gh ij kl mn op".split()), max_size=14)


@settings(max_examples=200, deadline=None)
@given(st.lists(words, min_size=1, max_size=10), st.sampled_from([0.3, 0.5, 0.8, 0.9, 0.95]))
def test_the_fast_near_duplicate_check_agrees_with_the_pairwise_definition(texts, threshold):
    hits = [sh(f"d{i}", 0, " ".join(t)) for i, t in enumerate(texts)]
    assert [h.doc_id for h in drop_near_duplicates(hits, threshold)] == [
        h.doc_id for h in _brute_force(hits, threshold)
    ]


def test_search_hits_carry_stage_scores_and_why_they_matched(services, hash_encoder, shared_bm25):
    index = services.open_index("shaping")
    try:
        write_docs(index, [
            Doc("a", ["robot gripper calibration guide"], {"title": "Gripper"}),
            Doc("b", ["holiday leave and salary"], {"title": "Leave"}),
            Doc("c", ["server outage report"], {"title": "Outage"}),
        ], hash_encoder, shared_bm25)
        hits = searcher(index, hash_encoder, shared_bm25).search("gripper calibration", ["public"], k=3, mode="hybrid")
    finally:
        index.close()
    top = hits[0]
    assert top.doc_id == "a" and top.title == "Gripper"
    assert {"dense", "sparse", "fused"} <= set(top.scores)
    assert top.ranks["sparse"] == 1 and top.ranks["dense"] >= 1
    assert "sparse #1" in top.why
    as_json = top.as_dict()
    assert {"doc_id", "title", "source", "page", "chunk_id", "text", "score", "why"} <= set(as_json)


def test_search_merges_neighbours_and_caps_per_document(services, hash_encoder, shared_bm25):
    index = services.open_index("shaping2")
    try:
        write_docs(index, [Doc("long", [f"gripper part {i} torque" for i in range(6)]),
                           Doc("other", ["gripper torque other"])], hash_encoder, shared_bm25)
        s = searcher(index, hash_encoder, shared_bm25)
        merged = s.search("gripper torque", ["public"], k=10, mode="sparse")
        capped = s.search("gripper torque", ["public"], k=10, mode="sparse",
                          profile=s.profile.__class__(max_per_doc=1, merge_adjacent=False))
    finally:
        index.close()
    assert sum(len(h.chunk_nos) for h in merged if h.doc_id == "long") == 6
    assert len([h for h in merged if h.doc_id == "long"]) < 6, "neighbouring chunks are merged"
    assert sorted(h.doc_id for h in capped) == ["long", "other"]
