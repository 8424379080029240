"""BM25 sparse vectors from qdrant_edge.Bm25 (Snowball stemming, stop words).

Documents get BM25's saturated term frequencies; Qdrant multiplies in the IDF
at query time (the sparse vector is declared with Modifier.IDF), so the IDF is
always current without re-encoding anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import qdrant_edge

from retrieval.schema import SparseVec


@dataclass
class Bm25Encoder:
    language: str = "english"
    k: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0
    _model: qdrant_edge.Bm25 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self._model = qdrant_edge.Bm25(
                qdrant_edge.Bm25Config(k=self.k, b=self.b, avg_len=self.avg_len, language=self.language)
            )
        except ValueError as exc:
            raise ValueError(f"BM25 language {self.language!r} is not supported: {exc}") from exc

    @property
    def model_id(self) -> str:
        return f"bm25-{self.language}-k{self.k}-b{self.b}"

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVec]:
        return [self._convert(self._model.embed_document(t)) for t in texts]

    def encode_query(self, text: str) -> SparseVec:
        return self._convert(self._model.embed_query(text))

    @staticmethod
    def _convert(vec: qdrant_edge.SparseVector) -> SparseVec:
        return SparseVec(list(vec.indices), list(vec.values))
