"""The bundled corpus goes in whole: every format, scans through OCR, pages, headings and access kept."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from app.accounts.directory import acl_tokens, get_user
from app.library.documents import list_documents
from retrieval.schema import IndexFilter

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _doc_texts(services) -> dict[str, str]:
    """source path relative to samples/ -> all of its chunk text, from the index itself."""
    with services.session() as session:
        by_id = {d.id: str(Path(d.source_uri).relative_to(SAMPLES.resolve())) for d in list_documents(session)}
    texts: dict[str, list[str]] = {}
    for hit in services.index.get(list(services.index.ids())):
        texts.setdefault(by_id[hit.payload["doc_id"]], []).append(hit.payload["text"])
    return {k: _norm(" ".join(v)) for k, v in texts.items()}


def test_every_sample_document_is_ready(sample_corpus, manifest):
    services, results = sample_corpus
    assert len(results) == len(manifest["documents"]) >= 15
    failed = [(r.path, r.error) for r in results if r.status != "ready"]
    assert not failed
    assert all(r.chunks > 0 for r in results)
    with services.session() as session:
        kinds = Counter(d.doc_type for d in list_documents(session))
    assert set(kinds) == {"pdf", "docx", "pptx", "html", "md", "eml", "csv", "txt"}
    assert services.index.count() == sum(r.chunks for r in results)


def test_every_answer_is_in_the_text_that_was_indexed(sample_corpus, sample_questions):
    """Including the scanned PDFs, which have no text layer: OCR must have read them."""
    texts = _doc_texts(sample_corpus[0])
    missing = [(q["id"], q["doc"], q["answer"]) for q in sample_questions if _norm(q["answer"]) not in texts[q["doc"]]]
    assert not missing


def test_scanned_pdfs_were_read_by_ocr(sample_corpus, manifest):
    services, _ = sample_corpus
    scans = [d["path"] for d in manifest["documents"] if d["type"] == "scanned-pdf"]
    assert scans
    texts = _doc_texts(services)
    for path in scans:
        assert len(texts[path].split()) > 100, f"OCR gave almost nothing for {path}"


def test_pdf_chunks_keep_page_numbers_and_running_footers_are_gone(sample_corpus):
    services, _ = sample_corpus
    hits = services.index.get(list(services.index.ids(IndexFilter(doc_types=["pdf"]))))
    pages = {h.payload["page"] for h in hits}
    assert None not in pages and {1, 2, 3} <= pages
    assert not any("internal — page" in _norm(h.payload["text"]) for h in hits)


def test_headings_become_heading_paths(sample_corpus):
    services, _ = sample_corpus
    hits = services.index.get(list(services.index.ids(IndexFilter(doc_types=["docx", "md", "html"]))))
    with_path = [h for h in hits if h.payload["heading_path"]]
    assert len(with_path) >= len(hits) * 0.8


def test_spans_point_into_the_stored_clean_text(sample_corpus):
    services, _ = sample_corpus
    data_dir = services.settings.data_dir
    for hit in services.index.get(list(services.index.ids())):
        clean = (data_dir / "text" / f"{hit.payload['doc_id']}.txt").read_text(encoding="utf-8")
        assert clean[hit.payload["char_start"] : hit.payload["char_end"]] == hit.payload["text"]


def test_chunks_respect_the_token_budget(sample_corpus):
    services, _ = sample_corpus
    size = services.settings.chunk_size
    for hit in services.index.get(list(services.index.ids())):
        assert services.encoder.count_tokens(hit.payload["text"]) <= size + 8


def test_payload_carries_what_retrieval_and_citations_need(sample_corpus):
    services, _ = sample_corpus
    hit = services.index.get(list(services.index.ids())[:1])[0]
    assert {"doc_id", "chunk_no", "text", "title", "page", "source", "acl", "groups", "owner", "doc_type",
            "created_at", "embed_model", "heading_path", "char_start", "char_end", "doc_sha"} <= set(hit.payload)


def test_sql_chunk_rows_mirror_the_index(sample_corpus):
    services, _ = sample_corpus
    with services.session() as session:
        row_ids = {c.id for d in list_documents(session) for c in d.chunks}
    assert row_ids == set(services.index.ids())


def test_search_finds_the_source_of_most_questions_for_allowed_users(sample_corpus, sample_questions, manifest):
    services, _ = sample_corpus
    users = {u["name"]: set(u["groups"]) for u in manifest["users"]}
    found = 0
    for q in sample_questions:
        asker = next(n for n, g in users.items() if g & set(q["groups_allowed"]))
        with services.session() as session:
            tokens = acl_tokens(session, get_user(session, asker))
        hits = services.searcher.search(q["question"], tokens, k=5, mode="hybrid")
        found += any(_norm(q["answer"]) in _norm(h.text) for h in hits)
    assert found / len(sample_questions) >= 0.8


def test_restricted_answers_never_reach_users_outside_the_groups(sample_corpus, sample_questions, manifest):
    services, _ = sample_corpus
    users = {u["name"]: set(u["groups"]) for u in manifest["users"]}
    public_docs = {d["path"] for d in manifest["documents"] if d.get("public")}
    restricted = [q for q in sample_questions if "everyone" not in q["groups_allowed"] and q["doc"] not in public_docs]
    assert len(restricted) >= 6
    for q in restricted:
        outsiders = [n for n, g in users.items() if not g & set(q["groups_allowed"])]
        assert "nina" in outsiders
        for name in outsiders:
            with services.session() as session:
                tokens = acl_tokens(session, get_user(session, name))
            for mode in ("dense", "sparse", "hybrid"):
                hits = services.searcher.search(q["question"], tokens, k=50, mode=mode)
                assert not any(Path(h.source).name == Path(q["doc"]).name for h in hits), (q["id"], name, mode)
