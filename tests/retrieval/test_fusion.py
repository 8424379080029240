"""Fusion: the Python replay ranks exactly as the engine, and weighted fusion behaves as documented."""

from __future__ import annotations

import pytest

from retrieval.fusion import fuse_dbsf, fuse_rrf, fuse_weighted
from retrieval.index import VectorQuery
from retrieval.profile import SearchProfile
from retrieval.schema import IndexFilter, IndexHit
from retrieval.search import Candidates, HybridSearcher
from tests.retrieval.worlds import VOCAB, Doc, searcher, write_docs

PUBLIC = IndexFilter(acl_tokens=["public"])


@pytest.fixture
def world(any_backend_services, hash_encoder, shared_bm25):
    """The same points on Qdrant Edge and through qdrant-client: both engines must match the replay."""
    index = any_backend_services.open_index("fusion")
    docs = [Doc(f"d{i}", [" ".join(VOCAB[(i * 7 + j) % len(VOCAB)] for j in range(6))]) for i in range(60)]
    write_docs(index, docs, hash_encoder, shared_bm25)
    yield index
    index.close()


@pytest.mark.parametrize("fusion,weights", [("rrf", None), ("rrf", [0.7, 0.3]), ("rrf", [0.2, 0.8]), ("dbsf", None)])
def test_python_fusion_equals_the_engines(world, hash_encoder, shared_bm25, fusion, weights):
    """`eval tune` replays fusions in Python; they must rank and score as Qdrant does."""
    query = "robot sensor salary outage"
    dense = hash_encoder.encode_queries([query])[0].tolist()
    sparse = shared_bm25.encode_query(query)
    d_hits, s_hits, engine = world.query_many([
        VectorQuery(PUBLIC, limit=30, dense=dense),
        VectorQuery(PUBLIC, limit=30, sparse=sparse),
        VectorQuery(PUBLIC, limit=15, dense=dense, sparse=sparse, prefetch_limit=30, fusion=fusion, weights=weights),
    ])
    ours = fuse_rrf([d_hits, s_hits], 60, weights) if fusion == "rrf" else fuse_dbsf([d_hits, s_hits])
    assert [round(h.score, 5) for h in engine] == [round(h.score, 5) for h in ours[:15]]
    # Equal scores may come in either order: each score's ids are compared as a set (the last group,
    # which the cut at 15 may split, only as a subset of ours).
    def by_score(hits):
        groups: dict[float, set[str]] = {}
        for h in hits:
            groups.setdefault(round(h.score, 5), set()).add(h.id)
        return groups

    engine_groups, top, every = by_score(engine), by_score(ours[:15]), by_score(ours)
    last = round(engine[-1].score, 5)
    assert len(engine) == 15 and sum(len(ids) for ids in engine_groups.values()) == 15
    for score, ids in engine_groups.items():
        assert ids <= every[score] if score == last else ids == top[score], score


def test_replayed_rrf_profile_gives_the_live_ranking(world, hash_encoder, shared_bm25):
    s = searcher(world, hash_encoder, shared_bm25)
    profile = SearchProfile(fusion="rrf", rrf_k=30, dense_weight=0.7, candidates=40, merge_adjacent=False)
    live = s.search("gripper motor travel", ["public"], k=10, profile=profile)
    c = s.candidates("gripper motor travel", PUBLIC, SearchProfile(fusion="weighted", candidates=40), 40)
    replayed = s.rank("gripper motor travel", Candidates(c.dense, c.sparse), profile, 10)
    assert [h.chunk_id for h in replayed] == [h.chunk_id for h in live]


def hit(pid: str, score: float) -> IndexHit:
    return IndexHit(pid, score, {"doc_id": pid})


def test_weighted_fusion_alpha_one_keeps_the_dense_order():
    dense = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.1)]
    sparse = [hit("c", 12.0), hit("b", 3.0)]
    assert [h.id for h in fuse_weighted(dense, sparse, 1.0)][:3] == ["a", "b", "c"]
    assert [h.id for h in fuse_weighted(dense, sparse, 0.0)][:2] == ["c", "b"]


def test_weighted_fusion_counts_a_missing_list_as_zero():
    dense = [hit("a", 0.9), hit("b", 0.5)]
    sparse = [hit("b", 5.0), hit("c", 1.0)]
    fused = {h.id: h.score for h in fuse_weighted(dense, sparse, 0.5)}
    assert fused == {"a": 0.5, "b": 0.5, "c": 0.0}


def test_weighted_normalisation_is_anchored_at_the_candidate_depth():
    """Asking for more hits must not reorder the top: scores below the depth clip to 0."""
    dense = [hit(f"d{i}", 1.0 - i / 100) for i in range(100)]
    sparse = [hit(f"d{99 - i}", 10.0 - i / 10) for i in range(100)]
    short = fuse_weighted(dense[:20], sparse[:20], 0.5, depth=20)
    long = fuse_weighted(dense, sparse, 0.5, depth=20)
    assert [h.id for h in long[:10]] == [h.id for h in short[:10]]


def test_a_bigger_k_extends_the_same_ranking(world, hash_encoder, shared_bm25):
    s = searcher(world, hash_encoder, shared_bm25, merge_adjacent=False)
    for mode in ("dense", "sparse", "hybrid"):
        top10 = s.search("firmware release roadmap", ["public"], k=10, mode=mode)
        top50 = s.search("firmware release roadmap", ["public"], k=50, mode=mode)
        assert [h.chunk_id for h in top50[:10]] == [h.chunk_id for h in top10], mode


def test_hybrid_with_a_query_of_only_stop_words_falls_back_to_dense(world, hash_encoder, shared_bm25):
    s: HybridSearcher = searcher(world, hash_encoder, shared_bm25)
    hits = s.search("the and of", ["public"], k=5, mode="hybrid")
    assert len(hits) == 5
    assert all("dense" in h.scores and "sparse" not in h.ranks for h in hits)
