"""Search as a user: one index call with the ACL inside, fusion, optional re-ranking, shaping.

The user's ACL tokens go into the IndexFilter, which the index applies inside
every prefetch and every list of the one batched call, so a passage the user
may not read never becomes a candidate: nothing is filtered afterwards.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from retrieval.fusion import fuse_dbsf, fuse_rrf, fuse_weighted
from retrieval.hits import SearchHit
from retrieval.index import VectorIndex, VectorQuery
from retrieval.profile import MODES, SearchProfile
from retrieval.schema import IndexFilter, IndexHit, SparseVec
from retrieval.shaping import cap_per_document, drop_near_duplicates, merge_adjacent

__all__ = ["HybridSearcher", "SearchHit", "SearchProfile", "MODES", "Candidates"]


@dataclass
class Candidates:
    """The raw lists of one query, before fusion: what `eval tune` replays."""

    dense: list[IndexHit] = field(default_factory=list)
    sparse: list[IndexHit] = field(default_factory=list)
    fused: list[IndexHit] | None = None  # an RRF/DBSF list fused elsewhere (searches fuse in ``fuse``)


def rrf_weights(profile: SearchProfile) -> list[float] | None:
    """Per-list RRF weights (dense, sparse); None (plain RRF) at the neutral α 0.5."""
    if profile.dense_weight == 0.5:
        return None
    return [profile.dense_weight, 1 - profile.dense_weight]


def readable_corpus(flt: IndexFilter) -> IndexFilter | None:
    """The IDF corpus of a search: every point the reader's ACL tokens open, whatever else it filters on."""
    return None if flt.acl_tokens is None else IndexFilter(acl_tokens=list(flt.acl_tokens))


def by_score(hits: list[IndexHit]) -> list[IndexHit]:
    """Best first, equal scores in point-id order: never in storage order, which other documents shape."""
    return sorted(hits, key=lambda h: (-h.score, h.id))


@dataclass
class HybridSearcher:
    index: VectorIndex
    encoder: object  # ingest.encoders.DenseEncoder
    bm25: object  # ingest.sparse.Bm25Encoder
    cross_encoder: Callable[[], object] | None = None  # loaded on first re-rank
    profile: SearchProfile = field(default_factory=SearchProfile)
    cache_size: int = 1024
    _query_cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    # ---- query encoding ------------------------------------------------
    def encode_query(self, query: str) -> tuple[list[float], SparseVec]:
        """Dense and sparse query vectors, cached: people ask the same questions again."""
        cached = self._query_cache.get(query)
        if cached is not None:
            self._query_cache.move_to_end(query)
            return cached
        vectors = (self.encoder.encode_queries([query])[0].tolist(), self.bm25.encode_query(query))
        self._query_cache[query] = vectors
        if len(self._query_cache) > self.cache_size:
            self._query_cache.popitem(last=False)
        return vectors

    # ---- candidates ----------------------------------------------------
    def candidates(self, query: str, flt: IndexFilter, profile: SearchProfile, limit: int) -> Candidates:
        """All lists this query needs, from one batched index call.

        The sparse list's IDF is computed over what the reader may read (their ACL alone, not
        the metadata filters), so no score, and no order, depends on a document they cannot
        read: collection-wide IDF let a reader count hidden chunks holding a term (issue 15).
        For the same reason RRF and DBSF are computed here (``fuse``), from the two lists with
        equal scores in point-id order, not by the engine, whose order among equal scores
        follows its storage, which other documents shape; it is the same arithmetic
        (``retrieval/fusion.py`` is tested against the engine's) on the same lists.
        """
        dense, sparse = self.encode_query(query)
        has_terms = bool(sparse.indices)
        n = max(limit, profile.candidates)
        idf_corpus = readable_corpus(flt)
        requests: list[VectorQuery] = []
        kinds: list[str] = []
        if profile.mode in ("dense", "hybrid"):
            requests.append(VectorQuery(filter=flt, limit=n, dense=dense))
            kinds.append("dense")
        if profile.mode in ("sparse", "hybrid") and has_terms:
            requests.append(VectorQuery(filter=flt, limit=n, sparse=sparse, idf_corpus=idf_corpus))
            kinds.append("sparse")
        results = self.index.query_many(requests) if requests else []
        out = Candidates()
        for kind, hits in zip(kinds, results):
            setattr(out, kind, by_score(hits))
        return out

    @staticmethod
    def fuse(c: Candidates, profile: SearchProfile) -> tuple[list[IndexHit], str]:
        """One ranked list from the candidates: RRF and DBSF computed the way the engine computes
        them, so a search and a replay (``eval tune``) rank alike."""
        if profile.mode == "dense" or not c.sparse:
            return c.dense, "dense"
        if profile.mode == "sparse" or not c.dense:
            return c.sparse, "sparse"
        if profile.fusion == "weighted":
            return fuse_weighted(c.dense, c.sparse, profile.dense_weight, depth=profile.candidates), "fused"
        if c.fused is not None:
            return c.fused, "fused"
        if profile.fusion == "dbsf":
            return fuse_dbsf([c.dense, c.sparse]), "fused"
        return fuse_rrf([c.dense, c.sparse], profile.rrf_k, rrf_weights(profile)), "fused"

    # ---- the whole search ----------------------------------------------
    def search(
        self, query: str, acl_tokens: list[str], k: int = 10, mode: str | None = None,
        where: IndexFilter | None = None, profile: SearchProfile | None = None,
    ) -> list[SearchHit]:
        if acl_tokens is None:
            raise ValueError("a user search needs the user's ACL tokens")
        if not query.strip():
            return []
        profile = profile or self.profile
        if mode is not None:
            profile = SearchProfile.for_mode(mode, profile)
        flt = IndexFilter(**{**(asdict(where) if where else {}), "acl_tokens": list(acl_tokens)})
        cands = self.candidates(query, flt, profile, self.depth(k, profile))
        return self.rank(query, cands, profile, k)

    @staticmethod
    def depth(k: int, profile: SearchProfile) -> int:
        """How many fused candidates a k-hit search ranks and shapes."""
        return max(k * 3, profile.rerank_depth if profile.rerank else 0, 20)

    def rank(self, query: str, cands: Candidates, profile: SearchProfile, k: int) -> list[SearchHit]:
        """Fuse, re-rank and shape one query's candidates: everything after the index call."""
        want = self.depth(k, profile)
        ranked, stage = self.fuse(cands, profile)
        hits = self._explain(ranked[:want], cands, stage)
        if profile.rerank and hits:
            hits = self.rerank(query, hits, profile.rerank_depth)
        hits = drop_near_duplicates(hits, profile.dedupe_threshold)
        hits = cap_per_document(hits, profile.max_per_doc)
        if profile.merge_adjacent:
            hits = merge_adjacent(hits[: k * 2])
        return hits[:k]

    @staticmethod
    def _explain(ranked: list[IndexHit], c: Candidates, stage: str) -> list[SearchHit]:
        dense = {h.id: (i + 1, h.score) for i, h in enumerate(c.dense)}
        sparse = {h.id: (i + 1, h.score) for i, h in enumerate(c.sparse)}
        out = []
        for hit in ranked:
            sh = SearchHit.from_index(hit)
            for name, table in (("dense", dense), ("sparse", sparse)):
                if hit.id in table:
                    sh.ranks[name], sh.scores[name] = table[hit.id]
            sh.scores[stage] = hit.score
            out.append(sh)
        return out

    def rerank(self, query: str, hits: list[SearchHit], depth: int) -> list[SearchHit]:
        if self.cross_encoder is None:
            raise RuntimeError("re-ranking asked for, but no cross-encoder is configured")
        scorer = self.cross_encoder()
        head, tail = hits[:depth], hits[depth:]
        scores = scorer.score([(query, f"{h.title}\n{h.text}" if h.title else h.text) for h in head])
        rescored = [
            replace(h, score=float(s), scores={**h.scores, "rerank": float(s)}) for h, s in zip(head, scores)
        ]
        rescored.sort(key=lambda h: -h.score)
        return rescored + tail
