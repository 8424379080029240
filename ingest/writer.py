"""The one place chunks become index points: payload layout, point ids, upsert, stale-version delete.

Uploaded documents (``app.library.ingest_jobs``) and evaluation corpora
(``app.evaluation.collections``) both write through ``ChunkWriter``, so the
payload a search reads and the ids a re-run overwrites cannot drift apart
between them. Never change the layout or the id recipe lightly: an existing
data directory is read with them (``retrieval.schema.point_id``).

Versions of a document are told apart by ``doc_sha`` (its content hash): a
new version is upserted first, then every point of the document with another
``doc_sha`` is deleted, so a search sees the old version or the new one, never
neither; a version that fails part-way is taken back out by the same field.

Before each upsert the writer looks at the free space on the index's disk (and
on any other folder it was told about, e.g. the data directory), with a margin
sized to the batch (``retrieval.disk``): a full disk refuses the batch with
``DiskFullError`` and writes nothing, because Qdrant Edge, once its memory-mapped
files cannot grow, kills the process with SIGBUS instead of raising.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ingest.document import Chunk
from ingest.errors import DiskFullError
from retrieval.disk import RAW_TO_DISK, DiskFull, require_free, same_disk, unbacked_bytes
from retrieval.schema import ChunkPoint, IndexFilter, SparseVec, point_id

if TYPE_CHECKING:
    from retrieval.index import VectorIndex


@dataclass(frozen=True)
class DocumentFields:
    """The payload every point of one document version shares."""

    doc_id: str
    doc_sha: str
    title: str
    source: str
    acl: list[str]  # who may read it: the one field every read path filters on
    groups: list[str]  # group names, for display and metadata filters (access uses ``acl``)
    owner: str | None
    doc_type: str
    created_at: str  # ISO 8601, UTC
    embed_model: str  # the dense encoder's id: vectors of two models never mix


def chunk_payload(document: DocumentFields, chunk: Chunk) -> dict:
    return {
        **asdict(document),
        "chunk_no": chunk.chunk_no,
        "text": chunk.text,
        "page": chunk.page,
        "heading_path": list(chunk.heading_path),
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
    }


def chunk_point_id(doc_id: str, chunk: Chunk) -> str:
    """Deterministic (document, chunk number, text): a re-run after a crash overwrites, never duplicates."""
    return point_id(doc_id, chunk.chunk_no, chunk.text_sha)


class ChunkWriter:
    """Writes one document's chunks, with their vectors, into an index."""

    def __init__(self, index: "VectorIndex", also_on: Sequence[Path] = ()) -> None:
        """``also_on``: other folders a batch's writes land on (the data directory: SQL rows, clean text)."""
        self.index = index
        own = getattr(index, "disk_path", None)
        self.folders = [Path(f) for f in ([own] if own is not None else []) + list(also_on)]

    def write(
        self, document: DocumentFields, chunks: Sequence[Chunk], dense: np.ndarray | Sequence[Sequence[float]],
        sparse: Sequence[SparseVec],
    ) -> None:
        """Upsert one document's ``chunks`` (one dense and one sparse vector each, in order)."""
        self.write_many([(document, c) for c in chunks], dense, sparse)

    def write_many(
        self, chunks: Sequence[tuple[DocumentFields, Chunk]], dense: np.ndarray | Sequence[Sequence[float]],
        sparse: Sequence[SparseVec],
    ) -> None:
        """Upsert the chunks of several documents in one call (many small documents, one round trip)."""
        points = [
            ChunkPoint(chunk_point_id(doc.doc_id, c), _as_list(dense[i]), sparse[i], chunk_payload(doc, c))
            for i, (doc, c) in enumerate(chunks)
        ]
        self.require_room(points)
        self.index.upsert(points)

    def require_room(self, points: Sequence[ChunkPoint]) -> None:
        """Refuse (``DiskFullError``, nothing written) unless the batch fits on every folder, with the margin.

        On the index's disk the room its files may still take counts too: Edge fills them as it works.
        """
        batch = RAW_TO_DISK * sum(raw_bytes(p) for p in points)
        own = getattr(self.index, "disk_path", None)
        index_files = unbacked_bytes(own) if own is not None else 0
        for folder in self.folders:
            needed = batch + (index_files if own is not None and same_disk(folder, own) else 0)
            try:
                require_free(folder, needed, f"writing {len(points)} chunks")
            except DiskFull as exc:
                raise DiskFullError(str(exc)) from None

    def drop_other_versions(self, document: DocumentFields, flush: bool = True) -> None:
        """Delete the document's points of any version but this one (after its last chunk is written)."""
        self.index.delete(IndexFilter(doc_ids=[document.doc_id], exclude_doc_sha=document.doc_sha), flush=flush)

    def take_back(self, document: DocumentFields) -> None:
        """Delete what was written of this version, leaving the previous version as the one searched."""
        self.index.delete(IndexFilter(doc_ids=[document.doc_id], doc_sha=document.doc_sha))

    def flush(self) -> None:
        """Make every write so far durable (once per batch of documents: a flush costs like a chunk's embedding)."""
        self.index.flush()


def raw_bytes(point: ChunkPoint) -> int:
    """The point's own size: payload as JSON, 4 bytes a dense dimension, 8 a sparse term."""
    return len(json.dumps(point.payload).encode()) + 4 * len(point.dense) + 8 * len(point.sparse.indices)


def _as_list(vector) -> list[float]:
    return vector.tolist() if hasattr(vector, "tolist") else list(vector)
