"""Drop chunks that repeat, exactly or nearly, within one document.

Near duplicates are found with MinHash LSH over word 3-gram shingles
(datasketch), so the cost stays linear in the number of chunks. Only
within a document: two documents with the same paragraph may have different
readers, and each must keep its own copy to stay findable by its readers.
"""

from __future__ import annotations

import re

from datasketch import MinHash, MinHashLSH

from ingest.document import Chunk

_WORD = re.compile(r"\w+")


def _shingles(text: str, n: int = 3) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def drop_duplicates(chunks: list[Chunk], threshold: float = 0.9, num_perm: int = 64) -> list[Chunk]:
    kept: list[Chunk] = []
    seen_exact: set[str] = set()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm) if threshold < 1.0 else None
    for chunk in chunks:
        if chunk.text_sha in seen_exact:
            continue
        seen_exact.add(chunk.text_sha)
        if lsh is not None:
            mh = MinHash(num_perm=num_perm)
            mh.update_batch(list(_shingles(chunk.text)))
            if lsh.query(mh):
                continue
            lsh.insert(str(chunk.chunk_no), mh)
        kept.append(chunk)
    for number, chunk in enumerate(kept):  # numbering stays dense: ids are derived from it
        chunk.chunk_no = number
    return kept
