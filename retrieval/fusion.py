"""Fusing ranked lists: weighted min-max, RRF and DBSF, as plain functions.

The engine fuses RRF and DBSF itself inside the one index call; these Python
versions serve the weighted fusion (which Qdrant has no preset for), the
"why it matched" explanation, and `eval tune`, which replays fusions over
cached candidate lists without touching the index again.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from retrieval.schema import IndexHit


def _minmax(hits: Sequence[IndexHit]) -> dict[str, float]:
    if not hits:
        return {}
    scores = [h.score for h in hits]
    lo, hi = min(scores), max(scores)
    span = hi - lo
    return {h.id: (h.score - lo) / span if span > 0 else 1.0 for h in hits}


def fuse_weighted(dense: Sequence[IndexHit], sparse: Sequence[IndexHit], alpha: float) -> list[IndexHit]:
    """α·dense + (1-α)·sparse over min-max normalised scores; a missing score counts 0."""
    d, s = _minmax(dense), _minmax(sparse)
    payloads = {h.id: h.payload for h in [*sparse, *dense]}
    fused = {pid: alpha * d.get(pid, 0.0) + (1 - alpha) * s.get(pid, 0.0) for pid in payloads}
    return [IndexHit(pid, score, payloads[pid]) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])]


def fuse_rrf(lists: Sequence[Sequence[IndexHit]], k: int = 60, weights: Sequence[float] | None = None) -> list[IndexHit]:
    weights = weights or [1.0] * len(lists)
    fused: dict[str, float] = {}
    payloads: dict[str, dict] = {}
    for hits, weight in zip(lists, weights):
        for rank, hit in enumerate(hits):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight / (k + rank + 1)
            payloads.setdefault(hit.id, hit.payload)
    return [IndexHit(pid, score, payloads[pid]) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])]


def fuse_dbsf(lists: Sequence[Sequence[IndexHit]]) -> list[IndexHit]:
    """Distribution-based score fusion: normalise each list by mean ± 3σ, then sum."""
    fused: dict[str, float] = {}
    payloads: dict[str, dict] = {}
    for hits in lists:
        if not hits:
            continue
        scores = [h.score for h in hits]
        mean = statistics.fmean(scores)
        sd = statistics.pstdev(scores) if len(scores) > 1 else 0.0
        lo, hi = mean - 3 * sd, mean + 3 * sd
        for hit in hits:
            norm = (hit.score - lo) / (hi - lo) if hi > lo else 0.5
            fused[hit.id] = fused.get(hit.id, 0.0) + min(max(norm, 0.0), 1.0)
            payloads.setdefault(hit.id, hit.payload)
    return [IndexHit(pid, score, payloads[pid]) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])]
