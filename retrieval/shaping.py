"""Turn a ranked candidate list into the passages a person (or a prompt) should see.

Near-identical passages are dropped in favour of the better-ranked one, each
document is capped at a number of passages, and neighbouring chunks of one
document that are both selected are merged into one passage (chunks overlap,
so the merge uses their character spans to avoid repeating text).
"""

from __future__ import annotations

import re
from dataclasses import replace

from retrieval.hits import SearchHit

_WORD = re.compile(r"\w+")


def _shingles(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def drop_near_duplicates(hits: list[SearchHit], threshold: float) -> list[SearchHit]:
    if threshold >= 1.0:
        return hits
    kept: list[tuple[SearchHit, set[str]]] = []
    for hit in hits:
        sh = _shingles(hit.text)
        if any(_jaccard(sh, other) >= threshold for _, other in kept):
            continue
        kept.append((hit, sh))
    return [h for h, _ in kept]


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
    for hit in hits:
        for i, kept in enumerate(out):
            if kept.doc_id != hit.doc_id:
                continue
            if hit.chunk_nos[0] == kept.chunk_nos[-1] + 1:
                merged = _merge_pair(kept, hit)
                out[i] = replace(merged, score=kept.score, scores=kept.scores)
                break
            if hit.chunk_nos[-1] + 1 == kept.chunk_nos[0]:
                merged = _merge_pair(hit, kept)
                out[i] = replace(merged, score=kept.score, scores=kept.scores, page=hit.page)
                break
        else:
            out.append(hit)
    return out
