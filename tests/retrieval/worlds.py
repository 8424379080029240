"""Small, fast worlds for retrieval tests: points written straight into an index.

Where the encoder is not what a test is about, ``HashEncoder`` gives every
text a deterministic small random unit vector, so a collection of hundreds of
points builds in milliseconds; BM25 stays real (it is cheap).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from retrieval.schema import ChunkPoint, point_id
from retrieval.search import HybridSearcher

VOCAB = (
    "budget invoice payroll salary leave holiday laptop password server backup robot gripper sensor "
    "motor calibration safety incident audit contract supplier warranty travel expense meeting board "
    "strategy hiring onboarding training firmware release roadmap customer support ticket outage"
).split()


class HashEncoder:
    """A stand-in dense encoder: deterministic pseudo-random unit vectors of a few dimensions."""

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.model_id = f"hash-{dim}"

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).normal(size=self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents([f"q:{t}" for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class ScriptedCrossEncoder:
    """Scores a pair by a rule the test chooses; counts what it was asked."""

    model_id = "scripted"

    def __init__(self, rule=None) -> None:
        self.rule = rule or (lambda q, p: float(len(set(q.lower().split()) & set(p.lower().split()))))
        self.pairs_scored = 0

    def score(self, pairs):
        self.pairs_scored += len(pairs)
        return np.array([self.rule(q, p) for q, p in pairs], dtype=np.float32)


@dataclass
class Doc:
    doc_id: str
    texts: list[str]
    payload: dict = field(default_factory=dict)  # acl, doc_type, source, owner, created_at, title, …


def points_for(docs: Sequence[Doc], encoder, bm25) -> list[ChunkPoint]:
    points = []
    for doc in docs:
        title = doc.payload.get("title", "")
        dense = encoder.encode_documents(doc.texts)
        sparse = bm25.encode_documents(doc.texts)
        for no, text in enumerate(doc.texts):
            payload = {
                "doc_id": doc.doc_id, "doc_sha": "sha-" + doc.doc_id, "title": title, "source": f"{doc.doc_id}.txt",
                "acl": ["public"], "groups": [], "owner": None, "doc_type": "txt",
                "created_at": "2026-01-01T00:00:00+00:00", "embed_model": encoder.model_id, "chunk_no": no,
                "text": text, "page": None, "heading_path": [], "char_start": no * 1000,
                "char_end": no * 1000 + len(text), **doc.payload,
            }
            points.append(ChunkPoint(point_id(doc.doc_id, no, text), dense[no].tolist(), sparse[no], payload))
    return points


def write_docs(index, docs: Sequence[Doc], encoder, bm25) -> None:
    index.ensure_collection(encoder.dim)
    index.upsert(points_for(docs, encoder, bm25))


def searcher(index, encoder, bm25, cross_encoder=None, **profile) -> HybridSearcher:
    from retrieval.profile import SearchProfile

    ce = cross_encoder or ScriptedCrossEncoder()
    return HybridSearcher(index, encoder, bm25, cross_encoder=lambda: ce, profile=SearchProfile(**profile))
