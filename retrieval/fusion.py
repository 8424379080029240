"""Fusing ranked lists: weighted min-max, RRF and DBSF, as plain functions.

The engine fuses RRF and DBSF itself inside the one index call; these Python
versions serve the weighted fusion (which Qdrant has no preset for), and
`eval tune`, which replays fusions over cached candidate lists without
touching the index again. RRF and DBSF here compute exactly what Qdrant
computes (checked by tests/retrieval/test_fusion.py against the engine), so a
replayed profile ranks as the live one will.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from retrieval.schema import IndexHit


def _minmax(hits: Sequence[IndexHit], depth: int | None = None) -> dict[str, float]:
    """Scale scores to 0..1 between the top score and the score at rank ``depth``.

    Anchoring the bottom at a fixed depth (the profile's candidate count)
    rather than at the end of the list keeps a search's top results the same
    whether it asks for 10 hits or 300: hits below that depth clip to 0, like
    a hit the list does not contain.
    """
    if not hits:
        return {}
    head = hits[:depth] if depth else hits
    scores = [h.score for h in head]
    lo, hi = min(scores), max(scores)
    span = hi - lo
    if span <= 0:
        return {h.id: 1.0 if h.score >= hi else 0.0 for h in hits}
    return {h.id: max((h.score - lo) / span, 0.0) for h in hits}


def fuse_weighted(
    dense: Sequence[IndexHit], sparse: Sequence[IndexHit], alpha: float, depth: int | None = None
) -> list[IndexHit]:
    """α·dense + (1-α)·sparse over min-max normalised scores; a missing score counts 0."""
    d, s = _minmax(dense, depth), _minmax(sparse, depth)
    payloads = {h.id: h.payload for h in [*sparse, *dense]}
    fused = {pid: alpha * d.get(pid, 0.0) + (1 - alpha) * s.get(pid, 0.0) for pid in payloads}
    return [IndexHit(pid, score, payloads[pid]) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])]


def fuse_rrf(lists: Sequence[Sequence[IndexHit]], k: int = 60, weights: Sequence[float] | None = None) -> list[IndexHit]:
    """Reciprocal rank fusion as Qdrant computes it: Σ 1 / (k - 1 + rank / w), rank from 1.

    With all weights 1 this is the familiar Σ 1 / (k + rank₀); a list with
    weight w spreads its ranks by 1/w.
    """
    weights = weights or [1.0] * len(lists)
    fused: dict[str, float] = {}
    payloads: dict[str, dict] = {}
    for hits, weight in zip(lists, weights):
        if weight <= 0:
            continue
        for rank, hit in enumerate(hits, 1):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (k - 1 + rank / weight)
            payloads.setdefault(hit.id, hit.payload)
    return [IndexHit(pid, score, payloads[pid]) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])]


def fuse_dbsf(lists: Sequence[Sequence[IndexHit]]) -> list[IndexHit]:
    """Distribution-based score fusion as Qdrant computes it: scale by mean ± 3σ (sample σ), sum."""
    fused: dict[str, float] = {}
    payloads: dict[str, dict] = {}
    for hits in lists:
        if not hits:
            continue
        scores = [h.score for h in hits]
        mean = statistics.fmean(scores)
        sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
        lo, hi = mean - 3 * sd, mean + 3 * sd
        for hit in hits:
            norm = (hit.score - lo) / (hi - lo) if hi > lo else 0.5
            fused[hit.id] = fused.get(hit.id, 0.0) + norm
            payloads.setdefault(hit.id, hit.payload)
    return [IndexHit(pid, score, payloads[pid]) for pid, score in sorted(fused.items(), key=lambda kv: -kv[1])]
