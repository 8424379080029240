"""The chunk writer is the one place chunks become points; its ids and payload are what existing indexes hold.

An index written by an earlier version must keep working, so the point id of
a chunk and the payload layout are pinned here literally, not recomputed.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ingest.document import Chunk
from ingest.writer import ChunkWriter, DocumentFields, chunk_payload, chunk_point_id
from retrieval.edge_index import EdgeIndex
from retrieval.schema import IndexFilter, SparseVec

DOC_ID = "0f3a9c1e2b4d4f6a8c0e1a2b3c4d5e6f"


def fields(doc_sha: str = "v1") -> DocumentFields:
    return DocumentFields(
        doc_id=DOC_ID, doc_sha=doc_sha, title="Leave", source="leave.md", acl=["group:1", "user:2"],
        groups=["hr"], owner="alice", doc_type="md", created_at="2026-12-03T10:00:00+00:00",
        embed_model="bge-small-en",
    )


def chunk(no: int, text: str = "Employees get 25 days of paid leave.") -> Chunk:
    return Chunk(chunk_no=no, text=text, page=1, heading_path=("Leave", "Employees"), char_start=0,
                 char_end=len(text), token_count=9, text_sha=hashlib.sha256(text.encode()).hexdigest())


def test_point_ids_and_payload_are_the_ones_existing_indexes_hold():
    c = Chunk(chunk_no=3, text="x", page=None, heading_path=(), char_start=0, char_end=1, token_count=1,
              text_sha="ab" * 32)
    assert chunk_point_id(DOC_ID, c) == "6a7b48df-1b94-5641-89c7-3989bb1daec8"
    assert chunk_payload(fields(), chunk(0)) == {
        "doc_id": DOC_ID, "doc_sha": "v1", "title": "Leave", "source": "leave.md", "acl": ["group:1", "user:2"],
        "groups": ["hr"], "owner": "alice", "doc_type": "md", "created_at": "2026-12-03T10:00:00+00:00",
        "embed_model": "bge-small-en", "chunk_no": 0, "text": "Employees get 25 days of paid leave.", "page": 1,
        "heading_path": ["Leave", "Employees"], "char_start": 0, "char_end": 36,
    }


def test_a_new_version_replaces_the_old_and_a_failed_one_is_taken_back(tmp_path):
    index = EdgeIndex(tmp_path / "shard")
    index.ensure_collection(4)
    writer = ChunkWriter(index)
    dense = np.eye(4, dtype=np.float32)
    sparse = [SparseVec([i], [1.0]) for i in range(4)]
    try:
        writer.write(fields("v1"), [chunk(0), chunk(1)], dense[:2], sparse[:2])
        writer.flush()
        new = [chunk(0, "Employees get 30 days."), chunk(1, "Contractors get none."), chunk(2, "Ask HR.")]
        writer.write(fields("v2"), new, dense[:3], sparse[:3])
        assert index.count(IndexFilter(doc_ids=[DOC_ID])) == 5, "both versions until the old one is dropped"
        writer.drop_other_versions(fields("v2"))
        assert {h.payload["doc_sha"] for h in index.get(list(index.ids()))} == {"v2"}
        assert index.count() == 3

        writer.write(fields("v3"), [chunk(0, "half of a third version")], dense[:1], sparse[:1])
        writer.take_back(fields("v3"))
        assert {h.payload["doc_sha"] for h in index.get(list(index.ids()))} == {"v2"}
    finally:
        index.close()
