"""Re-ingesting, replacing, regrouping and deleting a document leave exactly the right chunks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.accounts.directory import acl_tokens, add_group, add_user
from app.accounts.actor import Actor
from app.library.documents import get_document
from app.library.actions import delete_document
from app.library.ingestion import IngestService
from app.db.library import Chunk, IngestJob
from retrieval.schema import IndexFilter
from tests.factories import long_text


@pytest.fixture
def setup(any_backend_services, tmp_path):
    services = any_backend_services
    with services.session() as session:
        add_group(session, "hr")
        add_group(session, "finance")
        add_user(session, "alice", groups=["hr"])
        add_user(session, "farid", groups=["finance"])
    doc = tmp_path / "handbook.md"
    doc.write_text("# Handbook\n\n" + long_text(30, seed=1))
    return services, IngestService(services), doc


def _ids(services, doc_id: str) -> set[str]:
    return set(services.index.ids(IndexFilter(doc_ids=[doc_id])))


def test_reingesting_an_unchanged_file_is_a_no_op(setup):
    services, service, doc = setup
    [first] = service.ingest_paths([doc], groups=["hr"])
    before = _ids(services, first.id)
    [again] = service.ingest_paths([doc], groups=["hr"])
    assert again.status == "unchanged" and again.id == first.id
    assert _ids(services, first.id) == before and len(before) == first.chunks > 3
    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(IngestJob)) == 1


def test_the_chunk_rows_name_exactly_the_points_in_the_index(setup):
    """(Determinism across runs is the crash-resume tests': a killed job re-run gives the same ids.)"""
    services, service, doc = setup
    [first] = service.ingest_paths([doc], groups=["hr"])
    ids = _ids(services, first.id)
    with services.session() as session:
        chunks = session.scalars(select(Chunk).where(Chunk.document_id == first.id)).all()
    from retrieval.schema import point_id

    assert ids == {point_id(first.id, c.chunk_no, c.text_sha) for c in chunks}


def test_a_changed_file_replaces_its_chunks(setup):
    services, service, doc = setup
    [first] = service.ingest_paths([doc], groups=["hr"])
    old = _ids(services, first.id)
    doc.write_text("# Handbook\n\n" + long_text(12, seed=2))
    [second] = service.ingest_paths([doc], groups=["hr"])
    assert second.status == "ready" and second.id == first.id
    new = _ids(services, first.id)
    assert len(new) == second.chunks and services.index.count() == second.chunks
    assert not (old - new) & set(services.index.ids()), "old version's points must be gone"
    with services.session() as session:
        assert {c.id for c in get_document(session, first.id).chunks} == new


def test_changing_groups_rewrites_access_without_re_embedding(setup):
    services, service, doc = setup
    [first] = service.ingest_paths([doc], groups=["hr"])
    with services.session() as session:
        from app.accounts.directory import get_user

        farid = acl_tokens(session, get_user(session, "farid"))
        alice = acl_tokens(session, get_user(session, "alice"))
    assert services.index.count(IndexFilter(acl_tokens=farid)) == 0
    [regrouped] = service.ingest_paths([doc], groups=["finance"])
    assert regrouped.status == "unchanged"
    assert services.index.count(IndexFilter(acl_tokens=farid)) == first.chunks
    assert services.index.count(IndexFilter(acl_tokens=alice)) == 0


def test_delete_removes_every_trace(setup):
    services, service, doc = setup
    [result] = service.ingest_paths([doc], groups=["hr"])
    data = services.settings.data_dir
    with services.session() as session:
        document = get_document(session, result.id)
        stored = Path(document.stored_path)
        assert stored.exists() and (data / "text" / f"{result.id}.txt").exists()
    delete_document(services, Actor.operator(), result.id)
    assert services.index.count() == 0
    assert not stored.exists()
    assert not (data / "text" / f"{result.id}.txt").exists()
    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(Chunk)) == 0
        assert session.scalar(select(func.count()).select_from(IngestJob)) == 0


def test_deleting_one_of_two_identical_files_keeps_the_shared_original(setup, tmp_path):
    services, service, doc = setup
    copy = tmp_path / "copy" / "handbook.md"
    copy.parent.mkdir()
    copy.write_bytes(doc.read_bytes())
    [a] = service.ingest_paths([doc], groups=["hr"])
    [b] = service.ingest_paths([copy], groups=["finance"])
    with services.session() as session:
        stored = Path(get_document(session, a.id).stored_path)
    delete_document(services, Actor.operator(), a.id)
    assert stored.exists()
    assert services.index.count() == b.chunks


def test_a_folder_ingested_in_one_pipeline_gives_each_document_exactly_its_chunks(make_services, tmp_path,
                                                                                   shared_encoder):
    """Small documents share encoder calls, a big one spans several, a broken one fails alone."""
    from ingest.pipeline import prepare_chunks

    services = make_services(chunk_size=64, chunk_overlap=8)
    with services.session() as session:
        add_group(session, "hr")
    folder = tmp_path / "policies"
    folder.mkdir()
    for n in range(12):
        (folder / f"note-{n:02}.md").write_text(f"# Note {n}\n\n" + long_text(3, seed=100 + n))
    (folder / "manual.md").write_text("# Manual\n\n" + long_text(120, seed=5))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF")

    results = IngestService(services).ingest_paths([folder], groups=["hr"])

    assert [Path(r.path).name for r in results] == sorted(p.name for p in folder.iterdir())
    by_name = {Path(r.path).name: r for r in results}
    assert by_name["broken.pdf"].status == "failed"
    expected_total = 0
    for name, result in by_name.items():
        if name == "broken.pdf":
            continue
        expected = prepare_chunks(folder / name, services.settings.preparation(), shared_encoder).chunks
        assert result.status == "ready" and result.chunks == len(expected)
        assert _ids(services, result.id) == _chunk_ids(services, result.id)
        assert len(_ids(services, result.id)) == len(expected)
        expected_total += len(expected)
    assert by_name["manual.md"].chunks > 64  # more than one encoder batch
    assert services.index.count() == expected_total
    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(Chunk)) == expected_total
        assert {j.status for j in session.scalars(select(IngestJob))} == {"done", "failed"}


def _chunk_ids(services, doc_id: str) -> set[str]:
    with services.session() as session:
        return set(session.scalars(select(Chunk.id).where(Chunk.document_id == doc_id)))
