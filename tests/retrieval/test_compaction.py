"""After a delete and ``compact()``, no byte of a deleted point is left in the index's files (issue 15, W2).

Qdrant Edge marks a deleted point and keeps its payload in the segment and in
its write-ahead log; shards made before this rule have a log. Both kinds, and
qdrant-client's local mode, must end with the text gone and the rest searchable.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import qdrant_edge as q

from retrieval.edge_index import EdgeIndex
from retrieval.index import VectorQuery
from retrieval.schema import DENSE, SPARSE, ChunkPoint, IndexFilter, SparseVec
from retrieval.server_index import ServerIndex

MARK, KEEP = "QZXGONEMARK3141", "QZXSTAYMARK2718"


def point(doc: str, text: str, n: int) -> ChunkPoint:
    return ChunkPoint(str(uuid.uuid4()), [1.0, float(n), 0.5, 0.25], SparseVec([n + 1], [1.0]),
                      {"doc_id": doc, "text": text, "acl": ["public"]})


def holding(folder: Path, marker: str) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                  and marker.encode() in p.read_bytes())


def legacy_edge(path: Path) -> EdgeIndex:
    """A shard as inhouse created them before compaction existed: default settings, with a write-ahead log."""
    q.EdgeShard.create(str(path), q.EdgeConfig(
        vectors={DENSE: q.EdgeVectorParams(size=4, distance=q.Distance.Cosine)},
        sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
    )).close()
    return EdgeIndex(path)


def new_edge(path: Path) -> EdgeIndex:
    index = EdgeIndex(path)
    index.ensure_collection(4)
    return index


def local_server(path: Path) -> ServerIndex:
    index = ServerIndex("inhouse", path=path)
    index.ensure_collection(4)
    return index


@pytest.mark.parametrize("make", [new_edge, legacy_edge, local_server])
def test_compact_leaves_no_deleted_text_and_keeps_the_rest(tmp_path, make):
    folder = tmp_path / "index"
    index = make(folder)
    try:
        index.upsert([point("gone", f"{MARK} chunk {n}", n) for n in range(3)]
                     + [point("stay", f"{KEEP} chunk {n}", n) for n in range(3)])
        index.flush()
        if isinstance(index, EdgeIndex):
            index.set_metadata({"avg_len": 7})
        assert holding(folder, MARK)
        index.delete(IndexFilter(doc_ids=["gone"]))
        index.compact()
        assert holding(folder, MARK) == []
        assert index.count() == 3 and holding(folder, KEEP)
        hits = index.query(VectorQuery(IndexFilter(acl_tokens=["public"]), limit=5, dense=[1.0, 1.0, 0.5, 0.25]))
        assert {h.payload["doc_id"] for h in hits} == {"stay"}
        if isinstance(index, EdgeIndex):
            assert index.metadata() == {"avg_len": 7}
            assert not (folder / "wal").exists(), "a rewritten shard has no log to keep text in"
            index.upsert([point("later", "added after compaction", 9)])  # still writable, and durable
            index.close()
            index = EdgeIndex(folder)
            assert index.count() == 4
    finally:
        index.close()
