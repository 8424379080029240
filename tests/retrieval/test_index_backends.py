"""The VectorIndex contract, run unchanged on Qdrant Edge and on qdrant-client (local mode)."""

from __future__ import annotations

import pytest

from retrieval.index import VectorQuery
from retrieval.schema import IndexFilter
from tests.retrieval.worlds import Doc, write_docs

PUBLIC = IndexFilter(acl_tokens=["public"])


@pytest.fixture
def filled(index_of, hash_encoder, shared_bm25):
    index = index_of()
    docs = [
        Doc("a", ["the robot gripper needs calibration", "gripper sensor firmware release"], {"acl": ["group:1"]}),
        Doc("b", ["payroll and salary questions", "holiday leave for staff"], {"acl": ["public"]}),
        Doc("c", ["server backup and outage report"], {"acl": ["user:7"]}),
    ]
    write_docs(index, docs, hash_encoder, shared_bm25)
    return index


def test_counts_ids_and_gets_points(filled):
    assert filled.count() == 5
    ids = list(filled.ids(IndexFilter(doc_ids=["a"])))
    assert len(ids) == 2
    got = filled.get(ids)
    assert {h.payload["doc_id"] for h in got} == {"a"}
    assert sorted(h.payload["chunk_no"] for h in got) == [0, 1]


def test_an_empty_acl_token_list_matches_nothing(filled, hash_encoder):
    assert filled.count(IndexFilter(acl_tokens=[])) == 0
    vq = VectorQuery(IndexFilter(acl_tokens=[]), limit=10, dense=hash_encoder.encode_queries(["x"])[0].tolist())
    assert filled.query(vq) == []


def test_acl_filter_applies_to_dense_sparse_and_fused_queries(filled, hash_encoder, shared_bm25):
    dense = hash_encoder.encode_queries(["gripper"])[0].tolist()
    sparse = shared_bm25.encode_query("gripper robot salary backup")
    for fusion in ("rrf", "dbsf"):
        queries = [
            VectorQuery(PUBLIC, limit=10, dense=dense),
            VectorQuery(PUBLIC, limit=10, sparse=sparse),
            VectorQuery(PUBLIC, limit=10, dense=dense, sparse=sparse, fusion=fusion),
        ]
        for hits in filled.query_many(queries):
            assert hits, "the public document must be found"
            assert {h.payload["doc_id"] for h in hits} == {"b"}


def test_sparse_query_ranks_by_bm25_terms(filled, shared_bm25):
    tokens = IndexFilter(acl_tokens=["public", "group:1", "user:7"])
    hits = filled.query(VectorQuery(tokens, limit=3, sparse=shared_bm25.encode_query("gripper calibration")))
    assert hits[0].payload["text"] == "the robot gripper needs calibration"


def test_a_query_without_a_filter_is_refused(filled, hash_encoder):
    with pytest.raises(ValueError, match="IndexFilter"):
        filled.query(VectorQuery(None, dense=hash_encoder.encode_queries(["x"])[0].tolist()))


def test_set_payload_rewrites_access_by_document(filled):
    filled.set_payload(IndexFilter(doc_ids=["c"]), {"acl": ["public"]})
    assert filled.count(PUBLIC) == 3


def test_delete_by_filter_removes_only_that_document(filled):
    filled.delete(IndexFilter(doc_ids=["a"]))
    assert filled.count() == 3
    assert filled.count(IndexFilter(doc_ids=["a"])) == 0


def test_upsert_of_the_same_points_does_not_duplicate(filled, hash_encoder, shared_bm25):
    write_docs(filled, [Doc("b", ["payroll and salary questions", "holiday leave for staff"])], hash_encoder, shared_bm25)
    assert filled.count() == 5


def test_drop_removes_the_collection(filled):
    filled.drop()
    assert filled.count() == 0
