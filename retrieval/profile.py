"""How a collection is searched: the knobs that `inhouse eval tune` chooses.

Stored per collection (``index_collections.search_profile``) so the default
search follows the measurements made on that collection's own judgments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

Fusion = Literal["rrf", "dbsf", "weighted"]
MODES: tuple[str, ...] = ("dense", "sparse", "hybrid", "hybrid+rerank")


@dataclass(frozen=True)
class SearchProfile:
    mode: str = "hybrid"  # dense | sparse | hybrid (re-ranking is `rerank`)
    fusion: Fusion = "weighted"  # rrf | dbsf | weighted (min-max normalised scores)
    rrf_k: int = 60
    dense_weight: float = 0.5  # α for weighted fusion and RRF weights (dense α, sparse 1-α)
    candidates: int = 100  # per prefetch (dense and sparse)
    rerank: bool = False
    rerank_depth: int = 20  # how many fused candidates the cross-encoder re-scores
    max_per_doc: int = 0  # 0 = no cap
    merge_adjacent: bool = True
    dedupe_threshold: float = 0.9  # drop passages this similar to a better one (Jaccard of shingles)

    @classmethod
    def for_mode(cls, mode: str, base: "SearchProfile | None" = None) -> "SearchProfile":
        base = base or cls()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode == "hybrid+rerank":
            return replace(base, mode="hybrid", rerank=True)
        return replace(base, mode=mode, rerank=False)

    @property
    def label(self) -> str:
        return f"{self.mode}+rerank" if self.rerank else self.mode

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "SearchProfile":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})
