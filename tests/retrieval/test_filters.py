"""Metadata filters run inside the index query, on both backends, together with the ACL."""

from __future__ import annotations

from datetime import datetime

import pytest

from retrieval.schema import IndexFilter
from tests.retrieval.worlds import Doc, searcher, write_docs

DOCS = [
    Doc("pdf-alice-jan", ["gripper safety manual"], {"doc_type": "pdf", "owner": "alice", "source": "manual.pdf",
                                                     "created_at": "2026-01-10T09:00:00+00:00", "title": "Gripper safety manual"}),
    Doc("docx-bob-mar", ["gripper supplier contract"], {"doc_type": "docx", "owner": "bob", "source": "contract.docx",
                                                        "created_at": "2026-03-05T09:00:00+00:00", "title": "Supplier contract"}),
    Doc("md-alice-jun", ["gripper firmware release notes"], {"doc_type": "md", "owner": "alice", "source": "notes.md",
                                                             "created_at": "2026-06-20T09:00:00+00:00", "title": "Firmware release notes"}),
    Doc("pdf-secret", ["gripper secret roadmap"], {"doc_type": "pdf", "owner": "carol", "source": "roadmap.pdf",
                                                   "created_at": "2026-02-01T09:00:00+00:00", "title": "Secret roadmap",
                                                   "acl": ["group:9"]}),
]


@pytest.fixture
def s(index_of, hash_encoder, shared_bm25):
    index = index_of("filters")
    write_docs(index, DOCS, hash_encoder, shared_bm25)
    return searcher(index, hash_encoder, shared_bm25)


def found(s, where: IndexFilter, mode: str = "hybrid") -> set[str]:
    return {h.doc_id for h in s.search("gripper", ["public"], k=10, mode=mode, where=where)}


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_document_type(s, mode):
    assert found(s, IndexFilter(doc_types=["pdf"]), mode) == {"pdf-alice-jan"}
    assert found(s, IndexFilter(doc_types=["pdf", "md"]), mode) == {"pdf-alice-jan", "md-alice-jun"}


def test_source(s):
    assert found(s, IndexFilter(sources=["contract.docx"])) == {"docx-bob-mar"}


def test_owner(s):
    assert found(s, IndexFilter(owners=["alice"])) == {"pdf-alice-jan", "md-alice-jun"}


def test_date_range(s):
    where = IndexFilter(created_from=datetime.fromisoformat("2026-02-01T00:00:00+00:00"),
                        created_to=datetime.fromisoformat("2026-06-30T00:00:00+00:00"))
    assert found(s, where) == {"docx-bob-mar", "md-alice-jun"}
    assert found(s, IndexFilter(created_to=datetime.fromisoformat("2026-01-31T00:00:00+00:00"))) == {"pdf-alice-jan"}


def test_title_words(s):
    assert found(s, IndexFilter(title="firmware")) == {"md-alice-jun"}


def test_a_filter_never_widens_access(s):
    """The caller's acl_tokens in a filter are replaced by the reader's own."""
    assert found(s, IndexFilter(acl_tokens=["group:9"], owners=["carol"])) == set()
    hits = s.search("gripper", ["public", "group:9"], k=10, where=IndexFilter(owners=["carol"]))
    assert {h.doc_id for h in hits} == {"pdf-secret"}


def test_filters_combine_with_and(s):
    assert found(s, IndexFilter(doc_types=["pdf"], owners=["bob"])) == set()
