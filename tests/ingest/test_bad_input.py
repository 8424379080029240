"""Bad files get a clear error on their document, and the rest of the batch goes on."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from app.accounts.directory import add_group
from app.library.documents import get_document
from app.library.ingestion import IngestService
from retrieval.schema import IndexFilter
from tests.factories import write_encrypted_pdf, write_zip_bomb_docx

SAMPLE_PDF = Path(__file__).resolve().parents[2] / "samples" / "hr" / "parental-leave-policy.pdf"


@pytest.fixture
def ingest(services):
    with services.session() as session:
        add_group(session, "hr")
    service = IngestService(services)

    def run(*paths: Path):
        return {Path(r.path).name: r for r in service.ingest_paths(list(paths), groups=["hr"])}

    return run


def _good(folder: Path) -> Path:
    path = folder / "good.md"
    path.write_text("# Canteen\n\nThe canteen opens at 07:30 and serves breakfast until 09:00.\n")
    return path


def test_corrupt_pdf_is_reported_and_the_batch_continues(tmp_path, ingest, services):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + os.urandom(4000))
    results = ingest(corrupt, _good(tmp_path))
    assert results["corrupt.pdf"].status == "failed"
    assert "damaged" in results["corrupt.pdf"].error or "could not parse" in results["corrupt.pdf"].error
    assert results["good.md"].status == "ready" and results["good.md"].chunks == 1
    with services.session() as session:
        assert get_document(session, results["corrupt.pdf"].id).error == results["corrupt.pdf"].error


def test_truncated_pdf_is_reported(tmp_path, ingest):
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(SAMPLE_PDF.read_bytes()[:600])
    result = ingest(truncated)["truncated.pdf"]
    assert result.status == "failed" and result.error.startswith("the PDF is damaged")


def test_password_protected_pdf_says_so(tmp_path, ingest):
    locked = write_encrypted_pdf(SAMPLE_PDF, tmp_path / "locked.pdf")
    result = ingest(locked)["locked.pdf"]
    assert result.status == "failed"
    assert "password" in result.error


def test_empty_file(tmp_path, ingest):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.md"
    blank.write_text("   \n\n  ")
    results = ingest(empty, blank)
    assert results["empty.txt"].status == "failed" and "empty" in results["empty.txt"].error
    assert results["blank.md"].status == "failed" and "whitespace" in results["blank.md"].error


def test_unsupported_type_is_named(tmp_path, ingest):
    png = tmp_path / "diagram.txt"  # an image with a text extension: content decides
    png.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452") + os.urandom(200))
    result = ingest(png)["diagram.txt"]
    assert result.status == "failed"
    assert "unsupported file type image/png" in result.error


def test_file_over_the_size_limit_is_refused_without_being_read(tmp_path, make_services, monkeypatch):
    import app.library.documents
    import app.library.ingestion

    services = make_services(max_file_bytes=1000)
    with services.session() as session:
        add_group(session, "hr")
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    small = _good(tmp_path)
    hashed = []  # a spy around the real hashing: reading a file starts there
    for module in (app.library.documents, app.library.ingestion):
        monkeypatch.setattr(module, "sha256_file", lambda path, real=module.sha256_file: hashed.append(
            Path(path).name) or real(path))
    result, ok = IngestService(services).ingest_paths([big, small], groups=["hr"])
    assert ok.status == "ready" and "good.md" in hashed, "the spy sees the files that are read"
    assert "big.txt" not in hashed
    assert result.status == "failed"
    assert "5,000 bytes; the limit is 1,000" in result.error
    stored = [p for p in services.settings.files_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1 and stored[0].read_bytes() == small.read_bytes(), "an oversized file is not stored"


def test_non_utf8_text_is_decoded_not_garbled(tmp_path, ingest, services):
    latin = tmp_path / "menu.txt"
    latin.write_bytes("Le café crème coûte 35 kroner à la cantine, même le samedi.".encode("cp1252"))
    result = ingest(latin)["menu.txt"]
    assert result.status == "ready"
    [hit] = services.index.get([c for c in services.index.ids()])
    assert "café crème coûte" in hit.payload["text"]


def test_docx_zip_bomb_is_refused(tmp_path, make_services):
    services = make_services(max_unpacked_bytes=8 * 1024 * 1024)
    with services.session() as session:
        add_group(session, "hr")
    bomb = write_zip_bomb_docx(tmp_path / "bomb.docx", 16 * 1024 * 1024)
    assert bomb.stat().st_size < 200_000
    [result] = IngestService(services).ingest_paths([bomb], groups=["hr"])
    assert result.status == "failed"
    assert "zip bomb" in result.error


def test_pptx_zip_bomb_is_refused_and_the_same_deck_without_it_is_read(tmp_path, make_services):
    import zipfile

    from tests.factories import write_pptx

    services = make_services(max_unpacked_bytes=8 * 1024 * 1024)
    with services.session() as session:
        add_group(session, "hr")
    deck = write_pptx(tmp_path / "deck.pptx", [("Onboarding", ["Badges are issued at reception."])])
    bomb = tmp_path / "bomb.pptx"
    bomb.write_bytes(deck.read_bytes())
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("ppt/media/image1.bin", "w") as member:  # a picture that inflates to 16 MiB of zeros
            for _ in range(16):
                member.write(b"\0" * (1 << 20))
    assert bomb.stat().st_size < 200_000
    bombed, plain = IngestService(services).ingest_paths([bomb, deck], groups=["hr"])
    assert bombed.status == "failed" and "zip bomb" in bombed.error
    assert plain.status == "ready" and plain.chunks == 1


def test_symlink_out_of_the_folder_is_refused(tmp_path, ingest, services):
    secret = tmp_path / "outside" / "secret.md"
    secret.parent.mkdir()
    secret.write_text("# Secret\n\nThe vault code is 7319.\n")
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "innocent.md").symlink_to(secret)
    _good(folder)
    results = ingest(folder)
    assert results["innocent.md"].status == "failed"
    assert "outside the folder" in results["innocent.md"].error
    assert results["good.md"].status == "ready"
    texts = [h.payload["text"] for h in services.index.get(list(services.index.ids()))]
    assert not any("7319" in t for t in texts)


def test_a_failure_does_not_lose_the_previous_version(tmp_path, ingest, services):
    doc = tmp_path / "policy.md"
    doc.write_text("# Policy\n\nReceipts are due within 30 days of travel.\n")
    first = ingest(doc)["policy.md"]
    assert first.status == "ready"
    doc.write_bytes(b"")  # the owner uploads a broken replacement
    second = ingest(doc)["policy.md"]
    assert second.status == "failed"
    assert services.index.count() == 1, "the last good version stays searchable"


@pytest.fixture
def tiny_files_dir(services):
    """The folder for stored originals on a real 1 MiB file system (tmpfs), so the disk really fills up."""
    import subprocess

    folder = services.settings.files_dir
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_fails_that_file_clearly_and_loses_nothing(tmp_path, ingest, services, tiny_files_dir):
    first = ingest(_good(tmp_path))["good.md"]
    assert first.status == "ready"
    big = tmp_path / "scan-archive.txt"
    big.write_text("Archived minutes of the works council. " * 60_000)  # 2.3 MB on a 1 MiB disk
    small = tmp_path / "parking.md"
    small.write_text("# Parking\n\nVisitors park on level 2 of the garage.\n")

    results = ingest(big, small)

    assert results["scan-archive.txt"].status == "failed"
    assert "is full" in results["scan-archive.txt"].error
    assert results["parking.md"].status == "ready"
    assert not list(tiny_files_dir.rglob("*.partial"))  # nothing half-written is left behind
    with services.session() as session:
        assert get_document(session, first.id).status == "ready"
        assert get_document(session, results["scan-archive.txt"].id).error == results["scan-archive.txt"].error
    assert services.index.count(IndexFilter(doc_ids=[first.id, results["parking.md"].id])) == 2


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_a_replacement_that_fails_half_way_leaves_the_previous_version_searched_not_a_mix(
    tmp_path, make_services, monkeypatch, backend
):
    services = make_services(index_backend=backend, chunk_size=32, chunk_overlap=0, embed_batch_size=16)
    with services.session() as session:
        add_group(session, "hr")
    service = IngestService(services)

    def ingest(path: Path):
        [result] = service.ingest_paths([path], groups=["hr"])
        return result

    handbook = tmp_path / "handbook.md"
    handbook.write_text("# Handbook\n\nThe office opens at 08:00 on weekdays.\n")
    first = ingest(handbook)
    old_ids = set(services.index.ids(IndexFilter(doc_ids=[first.id])))
    assert first.status == "ready" and len(old_ids) == 1

    # The new version is long enough to be written in several batches; the second write fails.
    handbook.write_text("# Handbook\n\n" + "\n\n".join(
        f"Rule {i}: desks on floor {i} are booked through the facilities desk at least one day ahead."
        for i in range(120)
    ))
    real_upsert, writes = services.index.upsert, []

    def upsert_then_fail(points):
        writes.append(len(points))
        if len(writes) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real_upsert(points)

    monkeypatch.setattr(services.index, "upsert", upsert_then_fail)
    failed = ingest(handbook)
    assert failed.status == "failed" and "Input/output error" in failed.error
    assert len(writes) == 2 and writes[0] > 1  # some of the new version had reached the index
    assert set(services.index.ids(IndexFilter(doc_ids=[first.id]))) == old_ids

    monkeypatch.undo()
    retried = ingest(handbook)
    assert retried.status == "ready" and retried.chunks > 100
    new_ids = set(services.index.ids(IndexFilter(doc_ids=[first.id])))
    assert len(new_ids) == retried.chunks and not new_ids & old_ids
