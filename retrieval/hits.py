"""What a search returns: a passage, where it comes from, and how it scored at each stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from retrieval.schema import IndexHit


@dataclass
class SearchHit:
    doc_id: str
    title: str
    source: str
    page: int | None
    chunk_id: str
    text: str
    score: float
    chunk_no: int = 0
    heading_path: list[str] = field(default_factory=list)
    char_start: int = 0
    char_end: int = 0
    doc_type: str | None = None
    scores: dict[str, float] = field(default_factory=dict)  # every stage: dense, sparse, fused, rerank
    ranks: dict[str, int] = field(default_factory=dict)  # 1-based rank in the dense / sparse lists
    chunk_ids: list[str] = field(default_factory=list)  # more than one when neighbours were merged
    chunk_nos: list[int] = field(default_factory=list)

    @classmethod
    def from_index(cls, hit: IndexHit) -> "SearchHit":
        p = hit.payload
        chunk_no = int(p.get("chunk_no", 0))
        return cls(
            doc_id=p["doc_id"], title=p.get("title") or "", source=p.get("source") or "", page=p.get("page"),
            chunk_id=hit.id, text=p.get("text", ""), score=hit.score, chunk_no=chunk_no,
            heading_path=list(p.get("heading_path") or []), char_start=int(p.get("char_start", 0)),
            char_end=int(p.get("char_end", 0)), doc_type=p.get("doc_type"),
            chunk_ids=[hit.id], chunk_nos=[chunk_no],
        )

    @property
    def why(self) -> str:
        parts = [f"{name} #{rank}" for name, rank in sorted(self.ranks.items())]
        return ", ".join(parts) if parts else "no match rank recorded"

    def as_dict(self) -> dict:
        return {**asdict(self), "why": self.why}
