"""The vector index behind one small interface, with two backends.

``EdgeIndex`` runs the Qdrant engine in-process (qdrant-edge-py): the embedded
default. ``ServerIndex`` speaks to a Qdrant server through qdrant-client; given
a path instead of a URL it uses qdrant-client's local mode, which is only a
test double for the server (it is brute force: ~800 ms per filtered query at
20k points). Both are driven by the same test suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Protocol, Sequence

from retrieval.schema import ChunkPoint, IndexFilter, IndexHit, SparseVec

FusionName = Literal["rrf", "dbsf"]


class IndexError_(RuntimeError):
    """The index could not be opened or used; the message says what to do."""


@dataclass
class VectorQuery:
    """One retrieval request: dense, sparse or both (then fused in the engine).

    The filter is applied inside every prefetch and the final stage, so a
    point the filter excludes can never reach the candidate list.
    """

    filter: IndexFilter
    limit: int = 10
    dense: list[float] | None = None
    sparse: SparseVec | None = None
    prefetch_limit: int = 100
    fusion: FusionName = "rrf"
    rrf_k: int = 60
    weights: list[float] | None = None  # per prefetch (dense, sparse) for weighted RRF
    # The points the sparse list's IDF is computed over (Qdrant's IDF corpus). A user's search
    # passes their ACL here, so no term weight depends on a document they cannot read
    # (issue 15); None is the whole collection, for maintenance only.
    idf_corpus: IndexFilter | None = None


class VectorIndex(Protocol):
    disk_path: Path | None  # the local folder the index writes into (None: a server's own disk)

    def ensure_collection(self, dim: int) -> None: ...

    def exists(self) -> bool: ...

    def upsert(self, points: Sequence[ChunkPoint]) -> None: ...

    def delete(self, where: IndexFilter, flush: bool = True) -> None:
        """``flush=False`` leaves durability to a later ``flush()`` (one per batch of documents)."""
        ...

    def flush(self) -> None:
        """Make every update so far durable on disk (upserts alone may sit in a write-ahead log)."""
        ...

    def compact(self) -> None:
        """Rewrite what still holds deleted points' bytes on disk (segments, logs), after a delete."""
        ...

    def set_payload(self, where: IndexFilter, payload: dict) -> None: ...

    def count(self, where: IndexFilter | None = None) -> int: ...

    def ids(self, where: IndexFilter | None = None) -> Iterator[str]: ...

    def scroll(self, fields: Sequence[str], where: IndexFilter | None = None) -> Iterator[IndexHit]:
        """Every point (``where`` narrows it) with only the named payload fields, in pages."""
        ...

    def set_sparse(self, vectors: Sequence[tuple[str, SparseVec]]) -> None:
        """Replace the BM25 vector of existing points; dense vectors and payload stay as they are."""
        ...

    def metadata(self) -> dict:
        """What the collection records about itself (``{}`` when nothing yet), e.g. its BM25 statistics."""
        ...

    def set_metadata(self, values: dict) -> None:
        """Record ``values`` with the collection, merged into what is there; gone when it is dropped."""
        ...

    def get(self, ids: Sequence[str]) -> list[IndexHit]: ...

    def query(self, q: VectorQuery) -> list[IndexHit]: ...

    def query_many(self, queries: Sequence[VectorQuery]) -> list[list[IndexHit]]: ...

    def drop(self) -> None: ...

    def close(self) -> None: ...


def require_filter(q: VectorQuery) -> None:
    if q.filter is None:
        raise ValueError("every query needs an IndexFilter (use acl_tokens for user reads)")
    if q.dense is None and q.sparse is None:
        raise ValueError("a query needs a dense vector, a sparse vector or both")
