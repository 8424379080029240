"""Turn a ranked candidate list into the passages a person (or a prompt) should see.

Near-identical passages are dropped in favour of the better-ranked one, each
document is capped at a number of passages, and neighbouring chunks of one
document that are both selected are merged into one passage (chunks overlap,
so the merge uses their character spans to avoid repeating text).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache

from retrieval.hits import SearchHit

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=8192)
def _signature(text: str, threshold: float) -> tuple[frozenset[str], tuple[str, ...]]:
    """The text's word 3-gram shingles and their prefix for ``threshold`` (see below)."""
    words = _WORD.findall(text.lower())
    shingles = frozenset(" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1)))
    ordered = sorted(shingles)
    return shingles, tuple(ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1])


def drop_near_duplicates(hits: list[SearchHit], threshold: float) -> list[SearchHit]:
    """Keep a hit unless its word-3-gram Jaccard similarity to a better-ranked kept hit reaches
    ``threshold``.

    Prefix filtering (Bayardo et al., "Scaling up all pairs similarity search"): with the
    shingles in one global order, two sets with Jaccard ≥ t always share one of their first
    |x| - ⌈t·|x|⌉ + 1 shingles, so only those are indexed and probed, and the exact
    similarity is computed for the few hits found. Linear in the hits, not quadratic.
    """
    if threshold >= 1.0:
        return hits
    kept: list[SearchHit] = []
    kept_shingles: list[frozenset[str]] = []
    postings: dict[str, list[int]] = defaultdict(list)
    for hit in hits:
        shingles, prefix = _signature(hit.text, threshold)
        near = {j for shingle in prefix for j in postings.get(shingle, ())}
        if any(len(shingles & kept_shingles[j]) / len(shingles | kept_shingles[j]) >= threshold for j in near):
            continue
        for shingle in prefix:
            postings[shingle].append(len(kept))
        kept.append(hit)
        kept_shingles.append(shingles)
    return kept


def cap_per_document(hits: list[SearchHit], max_per_doc: int) -> list[SearchHit]:
    if max_per_doc <= 0:
        return hits
    counts: dict[str, int] = {}
    out = []
    for hit in hits:
        counts[hit.doc_id] = counts.get(hit.doc_id, 0) + 1
        if counts[hit.doc_id] <= max_per_doc:
            out.append(hit)
    return out


def _merge_pair(first: SearchHit, second: SearchHit) -> SearchHit:
    """first precedes second in the document; keep the better rank's scores."""
    overlap = max(0, first.char_end - second.char_start)
    text = first.text + ("" if overlap else "\n") + second.text[overlap:]
    return replace(
        first,
        text=text,
        char_end=max(first.char_end, second.char_end),
        chunk_ids=[*first.chunk_ids, *second.chunk_ids],
        chunk_nos=[*first.chunk_nos, *second.chunk_nos],
    )


def merge_adjacent(hits: list[SearchHit]) -> list[SearchHit]:
    """Merge selected neighbours (chunk n and n+1 of one document) into the better-ranked hit."""
    out: list[SearchHit] = []
    by_doc: dict[str, list[int]] = defaultdict(list)  # positions in out, per document
    for hit in hits:
        for i in by_doc[hit.doc_id]:
            kept = out[i]
            if hit.chunk_nos[0] == kept.chunk_nos[-1] + 1:
                merged = _merge_pair(kept, hit)
                out[i] = replace(merged, score=kept.score, scores=kept.scores)
                break
            if hit.chunk_nos[-1] + 1 == kept.chunk_nos[0]:
                merged = _merge_pair(hit, kept)
                out[i] = replace(merged, score=kept.score, scores=kept.scores, page=hit.page)
                break
        else:
            by_doc[hit.doc_id].append(len(out))
            out.append(hit)
    return out
