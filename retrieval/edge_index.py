"""Qdrant Edge backend: the Qdrant engine in this process, one shard per collection.

Deleting a point only marks it deleted: its payload (the chunk's text) stays in
the segment until the segment is vacuumed, and in the write-ahead log until the
log rotates (issue 15, W2). So shards are created without a write-ahead log
(the job runner flushes before any document is marked ready, which is all the
durability ingestion relies on) and with a vacuum threshold of zero, and
``compact()`` after a delete rewrites every segment that held a deleted point.
A shard made before that, with a log, is rewritten into a new one without it.

Without a log the engine no longer refuses a second opener of the same
folder, so an ``EdgeIndex`` holds ``retrieval.lock.IndexLock`` on it from
construction to ``close()``: a second opener gets ``IndexBusyError``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterator, Sequence

import qdrant_edge as q

from retrieval.disk import CREATE_BYTES, RAW_TO_DISK, require_free, unbacked_bytes
from retrieval.filters import build_filter, edge_kit
from retrieval.index import IndexError_, VectorQuery, require_filter
from retrieval.lock import IndexLock, lock_path
from retrieval.schema import DENSE, PAYLOAD_INDEXES, SPARSE, ChunkPoint, IndexFilter, IndexHit, SparseVec

_SCHEMA = {
    "keyword": q.PayloadSchemaType.Keyword,
    "integer": q.PayloadSchemaType.Integer,
    "datetime": q.PayloadSchemaType.Datetime,
    "text": q.PayloadSchemaType.Text,
}


# Inside the shard's folder, so it travels, and is dropped, with the collection (Edge ignores it).
METADATA_FILE = "inhouse-metadata.json"
# Vacuum any segment with a deleted point when ``compact()`` asks: deleted text must not stay on disk.
VACUUM_ALL = q.EdgeOptimizersConfig(deleted_threshold=0.0, vacuum_min_vector_number=0)
REWRITE_PAGE = 500  # points per page when a shard is copied into a new one


class EdgeIndex:
    def __init__(self, path: Path, wait_s: float = 0.0) -> None:
        """Open (or prepare to create) the shard at ``path``; ``IndexBusyError`` if another opener holds it
        (after ``wait_s`` seconds of trying)."""
        self.path = path
        self._kit = edge_kit()
        self._shard: q.EdgeShard | None = None
        self._lock = IndexLock(path, wait_s)  # before anything reads or repairs the folder
        try:
            _finish_rewrite(path)
            if self.exists():
                # Loading fills the shard's sparse files (a new collection's, from 21 to 130 MiB): on a disk
                # without that room the engine would die with SIGBUS, so it is refused here instead.
                require_free(path, unbacked_bytes(path), "opening the index", then="try again")
                try:
                    self._shard = q.EdgeShard.load(str(path))
                except Exception as exc:  # the engine's own message is the useful part
                    raise IndexError_(f"cannot open the embedded index at {path}: {exc}") from exc
        except BaseException:
            self._lock.release()
            raise

    def exists(self) -> bool:
        return self.path.exists() and any(self.path.iterdir())

    @property
    def disk_path(self) -> Path:
        """Where the shard's files are: the writer checks this disk's free space before each batch
        (``ingest.writer``), counting what these files may still take (``retrieval.disk.unbacked_bytes``)."""
        return self.path

    def ensure_collection(self, dim: int) -> None:
        if self._shard is not None:
            return
        config = q.EdgeConfig(
            vectors={DENSE: q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine)},
            sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
            optimizers=VACUUM_ALL, wal_enabled=False,
        )
        require_free(self.path, CREATE_BYTES, "a new index collection")  # a full disk here is SIGBUS, not an error
        self.path.mkdir(parents=True, exist_ok=True)
        self._shard = q.EdgeShard.create(str(self.path), config)
        for name, kind in PAYLOAD_INDEXES.items():
            self._shard.update(q.UpdateOperation.create_field_index(name, _SCHEMA[kind]))
        self._shard.flush()

    @property
    def shard(self) -> q.EdgeShard:
        if self._shard is None:
            raise IndexError_(f"no collection at {self.path}: nothing has been ingested yet")
        return self._shard

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        batch = [
            q.Point(
                p.id,
                {DENSE: p.dense, SPARSE: q.SparseVector(p.sparse.indices, p.sparse.values)},
                p.payload,
            )
            for p in points
        ]
        # No flush here: the update is in the engine's write-ahead log, and the job runner
        # flushes once per encoder batch, before any document of it is marked ready (app/library/ingest_jobs.py).
        self.shard.update(q.UpdateOperation.upsert_points(batch))

    def delete(self, where: IndexFilter, flush: bool = True) -> None:
        if self._shard is None:
            return
        self.shard.update(q.UpdateOperation.delete_points_by_filter(build_filter(where, self._kit)))
        if flush:
            self.shard.flush()

    def flush(self) -> None:
        if self._shard is not None:
            self._shard.flush()

    def _require_room(self, nbytes: int, what: str) -> None:
        """Refuse (``DiskFull``) a rewrite the disk could not back: the engine would die of SIGBUS."""
        require_free(self.path, unbacked_bytes(self.path) + RAW_TO_DISK * nbytes, what, then="try again")

    def set_payload(self, where: IndexFilter, payload: dict) -> None:
        self._require_room(len(json.dumps(payload)) * self.count(where), "changing who may read a document")
        self.shard.update(q.UpdateOperation.set_payload_by_filter(build_filter(where, self._kit), payload))
        self.shard.flush()

    def count(self, where: IndexFilter | None = None) -> int:
        if self._shard is None:
            return 0
        return self.shard.count(q.CountRequest(exact=True, filter=build_filter(where, self._kit)))

    def _records(self, where: IndexFilter | None, with_payload) -> Iterator:
        """Every point the filter matches, a page of 1,000 at a time."""
        if self._shard is None:
            return
        offset = None
        flt = build_filter(where, self._kit)
        while True:
            records, offset = self.shard.scroll(
                q.ScrollRequest(offset=offset, limit=1000, filter=flt, with_payload=with_payload)
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
        self._require_room(sum(8 * len(v.indices) for _, v in vectors), "re-weighting BM25 terms")
        self.shard.update(q.UpdateOperation.update_vectors(
            [q.PointVectors(pid, {SPARSE: q.SparseVector(v.indices, v.values)}) for pid, v in vectors]
        ))
        self.shard.flush()

    def metadata(self) -> dict:
        file = self.path / METADATA_FILE
        return json.loads(file.read_text(encoding="utf-8")) if file.exists() else {}

    def set_metadata(self, values: dict) -> None:
        self.shard  # only a collection that exists records anything
        merged = {**self.metadata(), **values}
        tmp = self.path / f"{METADATA_FILE}.partial"
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(merged, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path / METADATA_FILE)  # a crash leaves the old record or the new, never half

    def get(self, ids: Sequence[str]) -> list[IndexHit]:
        if self._shard is None or not ids:
            return []
        return [IndexHit(str(r.id), 0.0, dict(r.payload or {})) for r in self.shard.retrieve(list(ids), True, False)]

    def _request(self, vq: VectorQuery) -> q.QueryRequest:
        require_filter(vq)
        flt = build_filter(vq.filter, self._kit)
        dense = q.Query.Nearest(vq.dense, using=DENSE) if vq.dense is not None else None
        sparse = (
            q.Query.Nearest(q.SparseVector(vq.sparse.indices, vq.sparse.values), using=SPARSE)
            if vq.sparse is not None
            else None
        )
        idf = (
            q.SearchParams(idf=q.IdfParams(corpus=build_filter(vq.idf_corpus, self._kit)))
            if vq.idf_corpus is not None
            else None
        )
        if dense is not None and sparse is not None:
            fusion = q.Fusion.Dbsf() if vq.fusion == "dbsf" else q.Fusion.Rrf(vq.rrf_k, vq.weights)
            prefetches = [
                q.Prefetch(vq.prefetch_limit, query=dense, filter=flt),
                q.Prefetch(vq.prefetch_limit, query=sparse, filter=flt, params=idf),
            ]
            return q.QueryRequest(vq.limit, query=fusion, prefetches=prefetches, filter=flt, with_payload=True)
        if dense is not None:
            return q.QueryRequest(vq.limit, query=dense, filter=flt, with_payload=True)
        return q.QueryRequest(vq.limit, query=sparse, filter=flt, with_payload=True, params=idf)

    def query(self, vq: VectorQuery) -> list[IndexHit]:
        if self._shard is None:
            return []
        return [IndexHit(str(p.id), float(p.score), dict(p.payload or {})) for p in self.shard.query(self._request(vq))]

    def query_many(self, queries: Sequence[VectorQuery]) -> list[list[IndexHit]]:
        if self._shard is None:
            return [[] for _ in queries]
        results = self.shard.query_batch(q.QueryBatchRequest([self._request(vq) for vq in queries]))
        return [[IndexHit(str(p.id), float(p.score), dict(p.payload or {})) for p in r] for r in results]

    def compact(self) -> None:
        """Leave no byte of a deleted point on disk: vacuum its segments (or rewrite a shard that has a log)."""
        if self._shard is None:
            return
        if (self.path / "wal").exists():
            self._rewrite()
            return
        self._shard.optimize()
        self._shard.flush()

    def _rewrite(self) -> None:
        """Copy the live points into a new shard (no log, vacuum at zero) and put it in this one's place."""
        dim = json.loads((self.path / "edge_config.json").read_text())["vectors"][DENSE]["size"]
        fresh = _sibling(self.path, "rewrite")
        shutil.rmtree(fresh, ignore_errors=True)
        target = EdgeIndex(fresh)
        target.ensure_collection(dim)
        offset = None
        while True:
            records, offset = self.shard.scroll(
                q.ScrollRequest(offset=offset, limit=REWRITE_PAGE, with_payload=True, with_vector=True)
            )
            if records:
                target.shard.update(q.UpdateOperation.upsert_points(
                    [q.Point(r.id, r.vector, r.payload or {}) for r in records]
                ))
            if offset is None:
                break
        target.close()  # flushes
        lock_path(fresh).unlink(missing_ok=True)  # ours alone: only this shard's holder rewrites it
        if (self.path / METADATA_FILE).exists():
            shutil.copy2(self.path / METADATA_FILE, fresh / METADATA_FILE)
        (fresh / REWRITTEN).touch()  # whole: from here a crash finishes the swap on the next open
        self._close_shard()  # the lock stays held through the swap
        _finish_rewrite(self.path)
        self._shard = q.EdgeShard.load(str(self.path))

    def drop(self) -> None:
        """Delete the collection; the lock stays held, so ``ensure_collection`` may create it afresh."""
        self._close_shard()
        shutil.rmtree(self.path, ignore_errors=True)

    def _close_shard(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None

    def close(self) -> None:
        """Close the shard and release the folder to the next opener."""
        self._close_shard()
        self._lock.release()


REWRITTEN = "inhouse-rewritten"  # in a finished copy, before it takes the old shard's place


def _sibling(path: Path, what: str) -> Path:
    return path.with_name(f"{path.name}.{what}")


def _finish_rewrite(path: Path) -> None:
    """Put a finished rewrite in place of the old shard (also after a crash mid-swap); drop a half one."""
    fresh, old = _sibling(path, "rewrite"), _sibling(path, "old")
    if not fresh.exists():
        return
    if not (fresh / REWRITTEN).exists():
        if path.exists():
            shutil.rmtree(fresh, ignore_errors=True)  # a copy that never finished; the original is whole
        return
    if path.exists():
        path.rename(old)
    (fresh / REWRITTEN).unlink()
    fresh.rename(path)
    shutil.rmtree(old, ignore_errors=True)
