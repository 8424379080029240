"""Pages are reported as they are read: a PDF's "page n of m" from the text layer, in order, up to
m of m and while unstructured is still reading, then its scanned pages as OCR finishes them; a
PowerPoint deck's slides the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.offline import use_local_spacy
from ingest.parse import parse
from ingest.sniff import sniff

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TEXT_PDFS = [SAMPLES / "hr" / "parental-leave-policy.pdf", SAMPLES / "finance" / "expense-policy.pdf",
             SAMPLES / "it" / "information-security-sop.pdf"]  # 3 typed pages each
SCANNED_PDF = SAMPLES / "it" / "visitor-badge-procedure.pdf"  # 2 page images, no text layer


@pytest.fixture
def heard(models_dir, monkeypatch) -> list[tuple]:
    """Every report, and a marker where unstructured's fast read of the whole PDF returned."""
    import unstructured.partition.pdf as updf

    use_local_spacy(models_dir)
    events: list[tuple] = []
    real = updf.partition_pdf

    def marked(*args, **kwargs):
        elements = real(*args, **kwargs)
        if kwargs.get("strategy") == "fast":
            events.append(("fast read returned",))
        return elements

    monkeypatch.setattr(updf, "partition_pdf", marked)
    return events


@pytest.fixture
def heard_deck(models_dir, monkeypatch) -> list[tuple]:
    """Every report, and a marker where unstructured's read of the whole deck returned."""
    import unstructured.partition.pptx as upptx

    use_local_spacy(models_dir)
    events: list[tuple] = []
    real = upptx.partition_pptx

    def marked(*args, **kwargs):
        elements = real(*args, **kwargs)
        events.append(("deck read returned",))
        return elements

    monkeypatch.setattr(upptx, "partition_pptx", marked)
    return events


def _nine_page_pdf(folder: Path) -> Path:
    writer = PdfWriter()
    for source in TEXT_PDFS:
        for page in PdfReader(str(source)).pages:
            writer.add_page(page)
    path = folder / "handbook.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_a_text_pdf_reports_every_page_in_order_while_it_is_read(heard, tmp_path):
    pdf = _nine_page_pdf(tmp_path)

    doc = parse(pdf, sniff(pdf, 10**9), progress=lambda *report: heard.append(report))

    assert doc.page_count == 9
    assert heard == [("parse", n, 9) for n in range(10)] + [("fast read returned",)], \
        "each page once, in order, reaching 9 of 9 before the read returns (not estimated after it)"


def test_a_scanned_pdf_reports_its_pages_as_ocr_reads_them(heard):
    doc = parse(SCANNED_PDF, sniff(SCANNED_PDF, 10**9), progress=lambda *report: heard.append(report))

    assert doc.ocr_pages == [1, 2]
    assert heard[-3:] == [("ocr", 0, 2), ("ocr", 1, 2), ("ocr", 2, 2)]
    assert heard[0] == ("parse", 0, 2) and ("parse", 2, 2) in heard
    assert heard.index(("parse", 2, 2)) < heard.index(("ocr", 0, 2))


def test_files_without_pages_report_nothing(heard, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe canteen opens at eight.\n", encoding="utf-8")

    parse(note, sniff(note, 10**9), progress=lambda *report: heard.append(report))

    assert heard == []


def _deck(path: Path, blank_after: int | None = None) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for n in range(1, 8):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Quarter review, part {n}"
        slide.placeholders[1].text = f"The canteen served {n * 100} meals a day in part {n}."
        if n == blank_after:
            deck.slides.add_slide(deck.slide_layouts[6])  # nothing on it: it ends with the slide after it
    deck.save(str(path))
    return path


def test_a_deck_reports_every_slide_in_order_while_it_is_read(heard_deck, tmp_path):
    path = _deck(tmp_path / "review.pptx")

    doc = parse(path, sniff(path, 10**9), progress=lambda *report: heard_deck.append(report))

    assert "part 7" in " ".join(b.text for b in doc.blocks)
    assert heard_deck == [("parse", n, 7) for n in range(8)] + [("deck read returned",)], \
        "each slide once, in order, reaching 7 of 7 before the read returns"


def test_a_deck_with_an_empty_slide_still_counts_up_to_all_of_them(heard_deck, tmp_path):
    path = _deck(tmp_path / "review.pptx", blank_after=7)

    parse(path, sniff(path, 10**9), progress=lambda *report: heard_deck.append(report))

    counts = [n for _, n, m in heard_deck[:-1]]
    assert counts == sorted(set(counts)) and heard_deck[-2] == ("parse", 8, 8)
