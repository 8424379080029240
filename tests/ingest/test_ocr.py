"""Scanned pages are read by OCR with their own page numbers; pages with a text layer are not OCR'd."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.offline import use_local_spacy
from ingest.parse import parse
from ingest.sniff import sniff

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TEXT_PDF = SAMPLES / "hr" / "parental-leave-policy.pdf"  # 3 pages with a text layer
SCANNED_PDF = SAMPLES / "it" / "visitor-badge-procedure.pdf"  # 2 page images, no text layer


@pytest.fixture
def ocr_calls(models_dir, monkeypatch) -> list[int]:
    """How many pages each OCR call to unstructured was given (a spy around the real function)."""
    import unstructured.partition.pdf as updf

    use_local_spacy(models_dir)
    real, calls = updf.partition_pdf, []

    def spy(*args, **kwargs):
        if kwargs.get("strategy") == "ocr_only":
            calls.append(len(PdfReader(kwargs["filename"]).pages))
        return real(*args, **kwargs)

    monkeypatch.setattr(updf, "partition_pdf", spy)
    return calls


def _page_text(doc, page: int) -> str:
    return " ".join(b.text for b in doc.blocks if b.page == page)


def test_a_scanned_pdf_is_read_page_by_page(ocr_calls):
    doc = parse(SCANNED_PDF, sniff(SCANNED_PDF, 10**9))
    assert doc.page_count == 2 and doc.ocr_pages == [1, 2]
    assert "Red badge" in _page_text(doc, 1)
    assert "assembly point" in _page_text(doc, 2) and "assembly point" not in _page_text(doc, 1)
    assert ocr_calls == [1, 1]  # one page per call, so the pages can run side by side


def test_only_the_scanned_page_of_a_mixed_pdf_is_ocrd(ocr_calls, tmp_path):
    writer = PdfWriter()
    for page in PdfReader(str(TEXT_PDF)).pages:
        writer.add_page(page)
    writer.add_page(PdfReader(str(SCANNED_PDF)).pages[1])  # a scanned annex after 3 typed pages
    mixed = tmp_path / "policy-with-scanned-annex.pdf"
    with mixed.open("wb") as fh:
        writer.write(fh)

    doc = parse(mixed, sniff(mixed, 10**9))

    assert doc.page_count == 4 and doc.ocr_pages == [4]
    assert ocr_calls == [1], "the three typed pages must not be OCR'd"
    assert "Parental Leave Policy" in _page_text(doc, 1)
    assert "assembly point" in _page_text(doc, 4)
