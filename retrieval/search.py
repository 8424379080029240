"""Search as a user: encode the query, one index call with the ACL inside, shape the hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from retrieval.index import VectorIndex, VectorQuery
from retrieval.schema import IndexFilter, IndexHit

Mode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[str, ...] = ("dense", "sparse", "hybrid")


@dataclass
class SearchHit:
    doc_id: str
    title: str
    source: str
    page: int | None
    chunk_id: str
    chunk_no: int
    text: str
    score: float
    heading_path: list[str] = field(default_factory=list)
    char_start: int = 0
    char_end: int = 0
    doc_type: str | None = None

    @classmethod
    def from_index(cls, hit: IndexHit) -> "SearchHit":
        p = hit.payload
        return cls(
            doc_id=p["doc_id"], title=p.get("title") or "", source=p.get("source") or "", page=p.get("page"),
            chunk_id=hit.id, chunk_no=p.get("chunk_no", 0), text=p.get("text", ""), score=hit.score,
            heading_path=list(p.get("heading_path") or []), char_start=p.get("char_start", 0),
            char_end=p.get("char_end", 0), doc_type=p.get("doc_type"),
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class HybridSearcher:
    index: VectorIndex
    encoder: object  # DenseEncoder
    bm25: object  # Bm25Encoder
    prefetch_limit: int = 100

    def search(
        self, query: str, acl_tokens: list[str], k: int = 10, mode: Mode = "hybrid",
        where: IndexFilter | None = None,
    ) -> list[SearchHit]:
        if not query.strip():
            return []
        flt = IndexFilter(**{**(asdict(where) if where else {}), "acl_tokens": list(acl_tokens)})
        dense = self.encoder.encode_queries([query])[0].tolist() if mode in ("dense", "hybrid") else None
        sparse = self.bm25.encode_query(query) if mode in ("sparse", "hybrid") else None
        if sparse is not None and not sparse.indices:
            if mode == "sparse":
                return []
            sparse = None
        hits = self.index.query(
            VectorQuery(filter=flt, limit=k, dense=dense, sparse=sparse, prefetch_limit=max(self.prefetch_limit, k))
        )
        return [SearchHit.from_index(h) for h in hits]
