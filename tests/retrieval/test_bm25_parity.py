"""Keyword search ranks exactly like Lucene's BM25 (issue 16), through the real index.

The corpus is real text the project wrote itself: every paragraph of the
Markdown and plain-text sample documents, each with its file's title as
context, the way ingestion encodes a chunk. Our side is the product path: the
chunks written with the collection's encoder, the average length measured and
recorded by ``keep_average_length``, a sparse search as a user (the engine
supplies the IDF over what that user may read). The reference is ``bm25s``
with Lucene's IDF, k1 1.2, b 0.75 and its own tokenizer and Snowball stemmer.

Both are given the same analysis. Ours is Qdrant's (word tokenizer, Qdrant's
English stop words, Snowball): re-scored on whole documents it beat bm25s's
33-word Lucene list on SciFact and SQuAD (docs/retrieval.md). So the test
asks our encoder which of the corpus's words it drops and gives bm25s that
list, and splits on underscores as Qdrant does; a precondition checks that
both then count the same terms in every document. What is compared is then
exactly what issue 16 is about: IDF, length normalisation by the collection's
own average, saturation, and query terms counted as often as they are asked.
Lucene's BM25 omits the constant factor k1 + 1 that Qdrant's keeps, so every
score must be bm25s's times 2.2, and the top k the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

bm25s = pytest.importorskip("bm25s")
Stemmer = pytest.importorskip("Stemmer")

from ingest.document import Chunk  # noqa: E402
from retrieval.schema import ChunkPoint, IndexFilter, point_id  # noqa: E402
from retrieval.sparse_stats import Bm25Stats, document_encoder, keep_average_length  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402
from tests.retrieval.worlds import searcher  # noqa: E402

K = 5
TOKEN = r"[^\W_]+"  # letters and digits; Qdrant's word tokenizer splits on underscores too
EXTRA_QUERIES = [  # repeated terms: Lucene counts each occurrence
    "zones zones traffic", "robots robots robots endpoint", "vpn vpn certificate", "release release notes notes",
]


def sample_paragraphs() -> list[tuple[str, str]]:
    """(title, paragraph) for every paragraph of five words or more in the Markdown and text samples."""
    files = sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".md", ".txt") and "_source" not in p.parts
                   and p.name != "README.md")
    return [(p.stem.replace("-", " "), para.strip()) for p in files
            for para in re.split(r"\n\s*\n", p.read_text(encoding="utf-8")) if len(para.split()) >= 5]


def queries() -> list[str]:
    lines = (SAMPLES / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()] + EXTRA_QUERIES


def chunk_of(text: str) -> Chunk:
    return Chunk(chunk_no=0, text=text, page=None, heading_path=(), char_start=0, char_end=len(text),
                 token_count=len(text.split()), text_sha=str(hash(text)))


def write(index, docs: list[tuple[str, str]], encoder, bm25, prefix: str) -> list[str]:
    """Write each (title, text) as a one-chunk public document, as ingestion does; returns the doc ids."""
    index.ensure_collection(encoder.dim)
    writing = document_encoder(index, bm25)  # the collection's recorded average, or the default
    chunks = [chunk_of(text) for _, text in docs]
    sparse = writing.encode_documents([c.embed_text(title) for (title, _), c in zip(docs, chunks)])
    dense = encoder.encode_documents([c.text for c in chunks])
    ids = [f"{prefix}{i}" for i in range(len(docs))]
    index.upsert([
        ChunkPoint(point_id(doc_id, 0, c.text_sha), dense[i].tolist(), sparse[i], {
            "doc_id": doc_id, "doc_sha": c.text_sha, "title": title, "source": f"{doc_id}.md", "acl": ["public"],
            "groups": [], "owner": None, "doc_type": "md", "created_at": "2026-01-01T00:00:00+00:00",
            "embed_model": encoder.model_id, "chunk_no": 0, "text": c.text, "page": None, "heading_path": [],
            "char_start": 0, "char_end": len(c.text),
        })
        for i, (doc_id, (title, _), c) in enumerate(zip(ids, docs, chunks))
    ])
    index.flush()
    return ids


class LuceneBm25:
    """bm25s (Lucene IDF, k1 1.2, b 0.75) over the same documents, with Qdrant's stop words."""

    def __init__(self, corpus: dict[str, str], bm25, extra_text: list[str]) -> None:
        words = {w.lower() for t in [*corpus.values(), *extra_text] for w in re.findall(TOKEN, t)}
        self.stop = sorted(w for w in words if not bm25.term_counts(w).indices)
        self.stemmer = Stemmer.Stemmer("english")
        self.ids = list(corpus)
        tokens = self.tokenize(list(corpus.values()))
        assert [len(t) for t in tokens] == bm25.lengths(list(corpus.values())), "the two analyses differ"
        self.model = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        self.model.index(tokens, show_progress=False)

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stopwords=self.stop, stemmer=self.stemmer, token_pattern=TOKEN,
                              return_ids=False, show_progress=False)

    def scores(self, query: str) -> dict[str, float]:
        terms = [t for t in self.tokenize([query])[0] if t in self.model.vocab_dict]
        if not terms:
            return {}
        values = self.model.get_scores(terms)
        return {self.ids[i]: float(values[i]) for i in np.flatnonzero(values > 0)}


def assert_ranks_like_lucene(index, encoder, bm25, corpus: dict[str, str]) -> None:
    reference = LuceneBm25(corpus, bm25, queries())
    search = searcher(index, encoder, bm25, mode="sparse", merge_adjacent=False)
    compared = 0
    for query in queries():
        expected = reference.scores(query)
        hits = search.search(query, ["public"], k=K)
        assert bool(hits) == bool(expected), query
        for hit in hits:  # every score is Lucene's, times the constant k1 + 1
            assert hit.score == pytest.approx(2.2 * expected[hit.doc_id], rel=2e-3), (query, hit.doc_id)
        if not hits:
            continue
        # The same top k: any document Lucene ranks strictly above our k-th score must be among our hits.
        kth = hits[-1].score / 2.2
        above = {d for d, s in expected.items() if s > kth * (1 + 2e-3)}
        assert above <= {h.doc_id for h in hits}, query
        ours = [h.doc_id for h in hits]
        assert [round(expected[d], 3) for d in ours] == sorted((round(s, 3) for s in expected.values()),
                                                               reverse=True)[: len(ours)], query
        compared += 1
    assert compared >= 20


def corpus_of(index) -> dict[str, str]:
    """What each document's sparse vector was made from: title as context, then the text."""
    from retrieval.sparse_stats import indexed_text

    return {h.payload["doc_id"]: indexed_text(h.payload) for h in index.scroll(["doc_id", "title", "heading_path",
                                                                                 "text"])}


def test_sparse_search_ranks_like_lucene_bm25(index_of, hash_encoder, shared_bm25):
    index = index_of("parity")
    write(index, sample_paragraphs(), hash_encoder, shared_bm25, "p")
    stats = keep_average_length(index, shared_bm25)
    corpus = corpus_of(index)
    assert stats.avg_len == pytest.approx(np.mean(shared_bm25.lengths(list(corpus.values()))))
    assert_ranks_like_lucene(index, hash_encoder, shared_bm25, corpus)


def test_the_average_length_follows_the_collection_as_it_grows_and_shrinks(index_of, hash_encoder, shared_bm25):
    index = index_of("grows")
    paragraphs = sample_paragraphs()
    write(index, paragraphs, hash_encoder, shared_bm25, "p")
    first = keep_average_length(index, shared_bm25)

    # Long documents (four paragraphs each) raise the average well past the tolerance.
    long_docs = [(paragraphs[i][0], "\n\n".join(p for _, p in paragraphs[i : i + 4]))
                 for i in range(0, len(paragraphs), 4)]
    long_ids = write(index, long_docs, hash_encoder, shared_bm25, "long")
    grown = keep_average_length(index, shared_bm25)
    assert grown.avg_len > first.avg_len * 1.3
    assert Bm25Stats.of(index) == grown  # recorded with the collection
    assert_ranks_like_lucene(index, hash_encoder, shared_bm25, corpus_of(index))

    index.delete(IndexFilter(doc_ids=long_ids))
    shrunk = keep_average_length(index, shared_bm25)
    assert shrunk.avg_len == pytest.approx(first.avg_len)
    assert_ranks_like_lucene(index, hash_encoder, shared_bm25, corpus_of(index))


def test_an_index_written_before_averages_were_recorded_keeps_its_points(index_of, hash_encoder, shared_bm25):
    """Upgrading re-encodes the BM25 vectors in place: same point ids, same payload, same dense vectors."""
    index = index_of("legacy")
    write(index, sample_paragraphs(), hash_encoder, shared_bm25, "p")  # no average recorded: 256, as before
    assert Bm25Stats.of(index) is None
    before = {h.id: h.payload for h in index.scroll(["doc_id", "text", "acl"])}
    found_before = searcher(index, hash_encoder, shared_bm25, mode="sparse").search("vpn certificate", ["public"])
    assert found_before  # it searches before the upgrade, too

    keep_average_length(index, shared_bm25)

    assert {h.id: h.payload for h in index.scroll(["doc_id", "text", "acl"])} == before
    dense = searcher(index, hash_encoder, shared_bm25, mode="dense").search("vpn certificate", ["public"], k=3)
    assert [h.chunk_id for h in dense] == [
        h.chunk_id for h in searcher(index, hash_encoder, shared_bm25, mode="dense").search(
            "vpn certificate", ["public"], k=3)]
    assert_ranks_like_lucene(index, hash_encoder, shared_bm25, corpus_of(index))
