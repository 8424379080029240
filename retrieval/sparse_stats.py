"""The collection's average BM25 document length: measured, recorded with the collection, kept right.

BM25 normalises a document's term frequencies by its length relative to the
collection's average (``avgdl``). That factor is baked into each stored sparse
vector (Qdrant supplies only the IDF at query time), so the average must be
known when a chunk is written, and when the collection grows or shrinks
enough to move it, the stored vectors must follow. This module does both:

* the average the vectors are encoded with is recorded in the collection's own
  metadata (``VectorIndex.metadata``: a file inside an Edge shard, collection
  metadata on a Qdrant server), so it travels and is dropped with the index;
* ``keep_average_length`` re-measures it (from the chunks' own text, so an
  index written before this existed needs nothing else) once the number of
  chunks has changed by more than ``RECOUNT``, and if the measured average is
  more than ``TOLERANCE`` away from the recorded one, rewrites every point's
  BM25 vector in place (same ids, same payload, same dense vector) and
  records the new average. Searches go on meanwhile; for the few seconds of
  the rewrite, some chunks are normalised by the old average and some by the
  new (a 10 % change of avgdl moves a BM25 weight by at most a few percent).

Why thresholds, not a continuous update: re-encoding costs one BM25 pass over
the collection, and the average over thousands of chunks barely moves from one
document to the next. A measured consequence is that the average is the one
collection-wide statistic a reader's scores still depend on (the IDF is per
reader, ``retrieval/search.py``): it changes in coarse, recorded steps, never
per document or per term (docs/retrieval.md says what that can reveal).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

from ingest.sparse import DEFAULT_AVG_LEN, Bm25Encoder
from retrieval.index import VectorIndex
from retrieval.schema import IndexHit

log = logging.getLogger(__name__)

KEY = "bm25"  # the metadata entry this module owns
TOLERANCE = 0.10  # re-encode once the real average is this far from the recorded one
RECOUNT = 0.05  # re-measure once the chunk count has changed by this much since the last measurement
BATCH = 512
_FIELDS = ("title", "heading_path", "text")


@dataclass(frozen=True)
class Bm25Stats:
    """What the collection's sparse vectors were encoded with, and the collection they describe."""

    avg_len: float  # the average document length every stored BM25 vector is normalised by
    chunks: int  # how many chunks the collection held when the average was last measured
    model_id: str  # the analysis and weighting (``Bm25Encoder.model_id``)

    def as_dict(self) -> dict:
        return {"avg_len": self.avg_len, "chunks": self.chunks, "model_id": self.model_id}

    @classmethod
    def of(cls, index: VectorIndex) -> "Bm25Stats | None":
        """The record, or None for a collection written before averages were recorded (or empty)."""
        data = index.metadata().get(KEY) if index.exists() else None
        if not data:
            return None
        return cls(float(data["avg_len"]), int(data["chunks"]), str(data["model_id"]))


def indexed_text(payload: dict) -> str:
    """The text a chunk's vectors were made from (``ingest.document.Chunk.embed_text``), from its payload."""
    context = " > ".join(h for h in (payload.get("title"), *(payload.get("heading_path") or [])) if h)
    text = payload.get("text") or ""
    return f"{context}\n\n{text}" if context else text


def document_encoder(index: VectorIndex, bm25: Bm25Encoder) -> Bm25Encoder:
    """The encoder for chunks written into ``index``: normalised by the collection's recorded average."""
    stats = Bm25Stats.of(index)
    return bm25.with_avg_len(stats.avg_len if stats else DEFAULT_AVG_LEN)


def _pages(index: VectorIndex) -> Iterator[list[IndexHit]]:
    page: list[IndexHit] = []
    for hit in index.scroll(_FIELDS):
        page.append(hit)
        if len(page) == BATCH:
            yield page
            page = []
    if page:
        yield page


def measure(index: VectorIndex, bm25: Bm25Encoder) -> tuple[int, float]:
    """(chunks, their average BM25 length), read from the chunks' own text."""
    total = chunks = 0
    for page in _pages(index):
        total += sum(bm25.lengths([indexed_text(h.payload) for h in page]))
        chunks += len(page)
    return chunks, (total / chunks if chunks else 0.0)


def reencode(index: VectorIndex, bm25: Bm25Encoder) -> int:
    """Rewrite every point's BM25 vector with ``bm25`` (its average length); returns how many."""
    done = 0
    for page in _pages(index):
        vectors = bm25.encode_documents([indexed_text(h.payload) for h in page])
        index.set_sparse([(h.id, v) for h, v in zip(page, vectors)])
        done += len(page)
    return done


def keep_average_length(index: VectorIndex, bm25: Bm25Encoder, force: bool = False) -> Bm25Stats | None:
    """Make the recorded average, and the stored vectors, follow the collection; returns the record.

    Cheap when little changed (one count); otherwise one pass over the chunks' text, plus one
    re-encoding pass when the average moved by more than ``TOLERANCE``.
    """
    if not index.exists():
        return None
    stats = Bm25Stats.of(index)
    count = index.count()
    if count == 0:
        return stats
    same_model = stats is not None and stats.model_id == bm25.model_id
    if same_model and not force and abs(count - stats.chunks) <= RECOUNT * stats.chunks:
        return stats
    chunks, avg = measure(index, bm25)
    if chunks == 0 or avg <= 0:
        return stats
    encoded = stats.avg_len if stats else DEFAULT_AVG_LEN
    if same_model and abs(avg / encoded - 1) <= TOLERANCE:
        kept = Bm25Stats(encoded, chunks, bm25.model_id)
        index.set_metadata({KEY: kept.as_dict()})
        return kept
    rewritten = reencode(index, bm25.with_avg_len(avg))
    fresh = Bm25Stats(avg, chunks, bm25.model_id)
    index.set_metadata({KEY: fresh.as_dict()})
    log.info("BM25 average length %.1f -> %.1f: %d chunks re-encoded", encoded, avg, rewritten)
    return fresh

