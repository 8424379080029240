"""qdrant-client backend: a Qdrant server (or cluster) by URL.

Given a local path instead of a URL it runs qdrant-client's local mode, which
implements the same API in pure Python: that is how the server code path is
tested without a server binary. It is not an embedded default (too slow).
Local mode holds ``retrieval.lock.IndexLock`` on its folder while open, as
Qdrant Edge does on a shard: one opener at a time, and a second one gets
``IndexBusyError`` (qdrant-client's own lock would say it less clearly).
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import Iterator, Sequence

from qdrant_client import QdrantClient
from qdrant_client import models as m

from retrieval.filters import build_filter, client_kit
from retrieval.index import VectorQuery, require_filter
from retrieval.lock import IndexLock
from retrieval.schema import DENSE, PAYLOAD_INDEXES, SPARSE, ChunkPoint, IndexFilter, IndexHit, SparseVec

_SCHEMA = {
    "keyword": m.PayloadSchemaType.KEYWORD,
    "integer": m.PayloadSchemaType.INTEGER,
    "datetime": m.PayloadSchemaType.DATETIME,
    "text": m.PayloadSchemaType.TEXT,
}


class ServerIndex:
    def __init__(
        self, collection: str, url: str | None = None, path: Path | None = None, api_key: str | None = None,
        wait_s: float = 0.0,
    ) -> None:
        self.disk_path = None if url else path  # a server minds its own disk; local mode writes here
        self._lock: IndexLock | None = None
        if url:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=30)
        elif path is not None:
            self._lock = IndexLock(path, wait_s)
            try:
                path.mkdir(parents=True, exist_ok=True)
                self.client = QdrantClient(path=str(path))
            except BaseException:
                self._lock.release()
                raise
        else:
            raise ValueError("ServerIndex needs a url or a local path")
        self.collection = collection
        self._kit = client_kit()

    def exists(self) -> bool:
        return self.client.collection_exists(self.collection)

    def ensure_collection(self, dim: int) -> None:
        if self.exists():
            return
        self.client.create_collection(
            self.collection,
            vectors_config={DENSE: m.VectorParams(size=dim, distance=m.Distance.COSINE)},
            sparse_vectors_config={SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)},
        )
        with warnings.catch_warnings():  # local mode says indexes are no-ops there; true, and fine
            warnings.simplefilter("ignore", UserWarning)
            for name, kind in PAYLOAD_INDEXES.items():
                self.client.create_payload_index(self.collection, name, field_schema=_SCHEMA[kind])

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        self.client.upsert(
            self.collection,
            points=[
                m.PointStruct(
                    id=p.id,
                    vector={DENSE: p.dense, SPARSE: m.SparseVector(indices=p.sparse.indices, values=p.sparse.values)},
                    payload=p.payload,
                )
                for p in points
            ],
            wait=True,
        )

    def delete(self, where: IndexFilter, flush: bool = True) -> None:  # the server persists each update
        if not self.exists():
            return
        self.client.delete(
            self.collection, points_selector=m.FilterSelector(filter=build_filter(where, self._kit)), wait=True
        )

    def set_payload(self, where: IndexFilter, payload: dict) -> None:
        self.client.set_payload(
            self.collection, payload=payload, points=m.FilterSelector(filter=build_filter(where, self._kit)), wait=True
        )

    def count(self, where: IndexFilter | None = None) -> int:
        if not self.exists():
            return 0
        return self.client.count(self.collection, count_filter=build_filter(where, self._kit), exact=True).count

    def _records(self, where: IndexFilter | None, with_payload) -> Iterator:
        """Every point the filter matches, a page of 1,000 at a time."""
        if not self.exists():
            return
        offset = None
        flt = build_filter(where, self._kit)
        while True:
            records, offset = self.client.scroll(
                self.collection, scroll_filter=flt, limit=1000, offset=offset, with_payload=with_payload
            )
            yield from records
            if offset is None:
                return

    def ids(self, where: IndexFilter | None = None) -> Iterator[str]:
        for rec in self._records(where, False):
            yield str(rec.id)

    def scroll(self, fields: Sequence[str], where: IndexFilter | None = None) -> Iterator[IndexHit]:
        for rec in self._records(where, list(fields)):
            yield IndexHit(str(rec.id), 0.0, dict(rec.payload or {}))

    def set_sparse(self, vectors: Sequence[tuple[str, SparseVec]]) -> None:
        if not vectors:
            return
        self.client.update_vectors(
            self.collection,
            points=[
                m.PointVectors(id=pid, vector={SPARSE: m.SparseVector(indices=v.indices, values=v.values)})
                for pid, v in vectors
            ],
            wait=True,
        )

    def metadata(self) -> dict:
        if not self.exists():
            return {}
        return dict(self.client.get_collection(self.collection).config.metadata or {})

    def set_metadata(self, values: dict) -> None:
        self.client.update_collection(self.collection, metadata=values)  # Qdrant merges it into what is stored

    def get(self, ids: Sequence[str]) -> list[IndexHit]:
        if not ids or not self.exists():
            return []
        return [IndexHit(str(r.id), 0.0, dict(r.payload or {})) for r in self.client.retrieve(self.collection, list(ids))]

    def _request(self, vq: VectorQuery) -> m.QueryRequest:
        require_filter(vq)
        flt = build_filter(vq.filter, self._kit)
        sparse = (
            m.SparseVector(indices=vq.sparse.indices, values=vq.sparse.values) if vq.sparse is not None else None
        )
        idf = (
            m.SearchParams(idf=m.IdfCorpusParams(corpus=build_filter(vq.idf_corpus, self._kit)))
            if vq.idf_corpus is not None
            else None
        )
        if vq.dense is not None and sparse is not None:
            if vq.fusion == "dbsf":
                fusion = m.FusionQuery(fusion=m.Fusion.DBSF)
            else:
                fusion = m.RrfQuery(rrf=m.Rrf(k=vq.rrf_k, weights=vq.weights))
            return m.QueryRequest(
                prefetch=[
                    m.Prefetch(query=vq.dense, using=DENSE, limit=vq.prefetch_limit, filter=flt),
                    m.Prefetch(query=sparse, using=SPARSE, limit=vq.prefetch_limit, filter=flt, params=idf),
                ],
                query=fusion,
                filter=flt,
                limit=vq.limit,
                with_payload=True,
            )
        if vq.dense is not None:
            return m.QueryRequest(query=vq.dense, using=DENSE, filter=flt, limit=vq.limit, with_payload=True)
        return m.QueryRequest(query=sparse, using=SPARSE, filter=flt, limit=vq.limit, with_payload=True, params=idf)

    def query(self, vq: VectorQuery) -> list[IndexHit]:
        return self.query_many([vq])[0]

    def query_many(self, queries: Sequence[VectorQuery]) -> list[list[IndexHit]]:
        if not self.exists():
            return [[] for _ in queries]
        responses = self.client.query_batch_points(self.collection, requests=[self._request(v) for v in queries])
        return [[IndexHit(str(p.id), float(p.score), dict(p.payload or {})) for p in r.points] for r in responses]

    def drop(self) -> None:
        if self.exists():
            self.client.delete_collection(self.collection)

    def flush(self) -> None:
        """A Qdrant server (and local mode) persists each acknowledged update itself."""

    def compact(self) -> None:
        """Local mode: rewrite its SQLite file so deleted points' bytes leave its free pages.

        A Qdrant server vacuums segments by its own optimizer settings
        (``deleted_threshold``) and keeps its write-ahead log; that is the server
        operator's to configure (docs/retrieval.md).
        """
        if self.disk_path is None:
            return
        storage = Path(self.disk_path) / "collection" / self.collection / "storage.sqlite"
        if storage.exists():
            con = sqlite3.connect(storage)
            try:
                con.execute("VACUUM")
            finally:
                con.close()

    def close(self) -> None:
        self.client.close()
        if self._lock is not None:
            self._lock.release()
