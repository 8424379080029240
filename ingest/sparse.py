"""BM25 sparse vectors from qdrant_edge.Bm25 (Snowball stemming, stop words).

A document's vector holds BM25's saturated term frequency for each of its
terms; Qdrant multiplies in the IDF at query time (the sparse vector is
declared with ``Modifier.IDF``), so the IDF is always current without
re-encoding anything. The dot product with a query vector is then exactly
Lucene's BM25 (up to the constant factor k1 + 1, which changes no ranking):

    score(q, d) = Σ_t  qtf(t) · ln(1 + (N − n_t + 0.5) / (n_t + 0.5)) · tf / (tf + k1·(1 − b + b·|d| / avgdl))

Two things make it so, and both were missing before (issue 16):

* ``avg_len`` is the collection's own average document length (measured and
  recorded by ``retrieval/sparse_stats.py``), not a constant: with 256
  against real averages of 80–150 terms every document looked short and
  length normalisation was wrong for all of them.
* A query term counts as often as the question repeats it (Lucene adds one
  clause per occurrence); ``Bm25.embed_query`` alone gives every term 1.0.

The analysis (Qdrant's word tokenizer, lowercase, English stop words,
Snowball stemmer) is Qdrant's own, so ingestion and queries can never
tokenise differently. docs/retrieval.md compares it with bm25s's analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import qdrant_edge

from retrieval.schema import SparseVec

DEFAULT_AVG_LEN = 256.0  # only until the collection's own average is measured
# With b = 0 and a huge k, BM25's saturation tf·(k+1)/(tf+k) is the count tf itself.
_COUNTING_K = 1e6


def _bm25(language: str, k: float, b: float, avg_len: float) -> qdrant_edge.Bm25:
    try:
        return qdrant_edge.Bm25(qdrant_edge.Bm25Config(k=k, b=b, avg_len=avg_len, language=language))
    except ValueError as exc:
        raise ValueError(f"BM25 language {language!r} is not supported: {exc}") from exc


@dataclass(frozen=True)
class Bm25Encoder:
    language: str = "english"
    k: float = 1.2
    b: float = 0.75
    avg_len: float = DEFAULT_AVG_LEN
    _model: qdrant_edge.Bm25 = field(init=False, repr=False, compare=False)
    _counter: qdrant_edge.Bm25 = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.avg_len > 0:
            raise ValueError(f"the average document length must be positive, not {self.avg_len}")
        object.__setattr__(self, "_model", _bm25(self.language, self.k, self.b, self.avg_len))
        object.__setattr__(self, "_counter", _bm25(self.language, _COUNTING_K, 0.0, 1.0))

    @property
    def model_id(self) -> str:
        """Names the analysis and the weighting, not the average length (that belongs to a collection).

        ``qtf``: query terms are weighted by their count. A new id makes evaluation build new
        collections instead of reusing ones encoded the old way.
        """
        return f"bm25-{self.language}-k{self.k}-b{self.b}-qtf"

    def with_avg_len(self, avg_len: float) -> "Bm25Encoder":
        """The same analysis and parameters, normalising document lengths by ``avg_len``."""
        return self if avg_len == self.avg_len else replace(self, avg_len=avg_len)

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVec]:
        return [self._convert(self._model.embed_document(t)) for t in texts]

    def encode_query(self, text: str) -> SparseVec:
        """Each term weighted by how often the question uses it, as Lucene's BM25 does."""
        return self.term_counts(text)

    def term_counts(self, text: str) -> SparseVec:
        vec = self._counter.embed_document(text)
        return SparseVec(list(vec.indices), [float(round(v)) for v in vec.values])

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """BM25 document lengths: how many terms each text has after stop words are dropped."""
        return [int(sum(round(v) for v in self._counter.embed_document(t).values)) for t in texts]

    @staticmethod
    def _convert(vec: qdrant_edge.SparseVector) -> SparseVec:
        return SparseVec(list(vec.indices), list(vec.values))
