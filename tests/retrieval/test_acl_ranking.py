"""Nothing a reader sees depends on documents they cannot read: not the hits, not their order, not a score.

The red team's reproduction (research/redteam.md, L2): eve reads three notes
of equal length, one about a quokka and two about wombats. With BM25's IDF
computed over the whole collection, one board chunk she cannot read moved
her "quokka" score by 23 %, and three board chunks mentioning quokkas flipped
her default ranking for "quokka wombat"; one sparse search per term gave the
exact number of hidden chunks holding it. The IDF is now computed over what
the reader may read (Qdrant's IDF corpus set to their ACL), so eve's results
must be identical, to float rounding in every stage's score, whatever is added
that she cannot read — in every mode and fusion, on both index backends. A
board member's scores do change: the hidden chunks are real, only invisible.

The average document length (BM25's length normalisation) is the one
collection-wide statistic left; it moves only in recorded steps
(``retrieval/sparse_stats.py``) and is held fixed here.
"""

from __future__ import annotations

import pytest

from retrieval.profile import SearchProfile
from tests.retrieval.worlds import VOCAB, Doc, searcher, write_docs

EVE = ["public", "group:everyone"]
BOB = [*EVE, "group:board"]
QUERIES = ["quokka", "wombat", "quokka wombat", "quokka quokka wombat", "budget salary", "robot safety incident",
           "board strategy quokka", "zzz nothing matches"]
SEARCHES = {  # the default profile, each fixed mode, and the engine's own fusions
    "default": None,
    "sparse": SearchProfile(mode="sparse"),
    "hybrid": SearchProfile(mode="hybrid"),
    "hybrid rrf": SearchProfile(mode="hybrid", fusion="rrf"),
    "hybrid dbsf": SearchProfile(mode="hybrid", fusion="dbsf"),
}


def readable() -> list[Doc]:
    notes = [
        Doc("a", ["quokka note about the island trip"], {"acl": ["group:everyone"]}),
        Doc("b", ["wombat note about the burrow survey"], {"acl": ["group:everyone"]}),
        Doc("c", ["wombat note about the fence repair"], {"acl": ["group:everyone"]}),
    ]
    others = [
        Doc(f"r{i}", [" ".join(VOCAB[(i * 7 + j) % len(VOCAB)] for j in range(4 + i % 5))],
            {"acl": ["public"] if i % 2 else ["group:everyone"]})
        for i in range(12)
    ]
    return notes + others


def hidden() -> list[Doc]:
    board = {"acl": ["group:board"]}
    return [
        Doc("h0", ["minutes of the closed session"], board),  # holds none of eve's terms
        Doc("h1", ["quokka acquisition target", "quokka price approved", "quokka due diligence"], board),
        Doc("h2", [" ".join(VOCAB[j] for j in range(i, i + 6)) for i in range(0, 30, 3)], board),
        Doc("h3", ["wombat budget salary robot safety incident board strategy"], board),
    ]


def seen(search, tokens: list[str]) -> dict:
    """Everything a reader is shown, per query and search: hits in order with every stage's score."""
    out = {}
    for name, profile in SEARCHES.items():
        for query in QUERIES:
            hits = search.search(query, tokens, k=10, profile=profile)
            out[name, query] = [(h.chunk_id, h.doc_id, sorted(h.ranks.items()), sorted(h.scores), h.score,
                                 *(h.scores[stage] for stage in sorted(h.scores))) for h in hits]
    return out


def same(shown: list[tuple], before: list[tuple]) -> bool:
    """Same hits, order, ranks and stages; every score equal up to float rounding (qdrant-client's local
    mode sums dense products in an order that depends on the array size, at the 16th digit)."""
    return [h[:4] for h in shown] == [h[:4] for h in before] and all(
        a[4:] == pytest.approx(b[4:], rel=1e-12, abs=1e-12) for a, b in zip(shown, before))


def test_adding_unreadable_chunks_changes_nothing_a_reader_sees(index_of, hash_encoder, shared_bm25):
    index = index_of("acl-ranking")
    write_docs(index, readable(), hash_encoder, shared_bm25)
    search = searcher(index, hash_encoder, shared_bm25)
    eve_before, bob_before = seen(search, EVE), seen(search, BOB)
    assert eve_before["sparse", "quokka"][0][1] == "a"  # the world is what the test thinks it is

    for doc in hidden():
        write_docs(index, [doc], hash_encoder, shared_bm25)
        search = searcher(index, hash_encoder, shared_bm25)  # no cached query vectors either
        eve_after = seen(search, EVE)
        for key, hits in eve_before.items():
            assert same(eve_after[key], hits), (doc.doc_id, key)

    bob_after = seen(search, BOB)
    assert bob_after["sparse", "wombat"] != bob_before["sparse", "wombat"]  # the board chunks do count for bob
    assert any(h[1].startswith("h") for h in bob_after["sparse", "quokka"])


@pytest.mark.parametrize("mode", ["sparse", "hybrid"])
def test_a_metadata_filter_narrows_the_hits_not_the_statistics(index_of, hash_encoder, shared_bm25, mode):
    """IDF is over everything the reader may read, so a filter never rescales the scores of what it keeps."""
    from retrieval.schema import IndexFilter

    index = index_of("acl-filter")
    docs = readable()
    docs[0].payload["doc_type"] = "pdf"
    write_docs(index, docs, hash_encoder, shared_bm25)
    search = searcher(index, hash_encoder, shared_bm25, mode="sparse")
    everything = {h.chunk_id: h.scores["sparse"] for h in search.search("quokka note", EVE, k=20)}
    only_pdf = search.search("quokka note", EVE, k=20, where=IndexFilter(doc_types=["pdf"]))
    assert [h.doc_id for h in only_pdf] == ["a"]
    assert only_pdf[0].scores["sparse"] == everything[only_pdf[0].chunk_id]
