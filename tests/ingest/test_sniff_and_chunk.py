"""File types come from content; chunks are token-sized, exact in their spans, and not repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunk import chunk_document, make_splitter
from ingest.clean import clean_document
from ingest.dedup import drop_duplicates
from ingest.document import Block, ParsedDocument
from ingest.errors import EmptyFileError, UnsupportedTypeError
from ingest.sniff import sniff
from tests.factories import long_text, write_docx, write_pptx

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    "sample, kind",
    [("hr/parental-leave-policy.pdf", "pdf"), ("hr/onboarding-checklist.html", "html"),
     ("it/mfa-enforcement-notice.eml", "eml"), ("general/org-chart.csv", "csv"),
     ("it/vpn-setup-guide.md", "md"), ("general/press-release-gdansk-expansion.txt", "txt"),
     ("hr/leave-and-remote-work-handbook.docx", "docx"), ("it/security-awareness-2025.pptx", "pptx")],
)
def test_type_comes_from_content_even_under_a_misleading_name(sample, kind, tmp_path):
    disguised = tmp_path / "upload.bin"
    disguised.write_bytes((SAMPLES / sample).read_bytes())
    assert sniff(disguised).kind == kind


def test_a_pdf_named_txt_is_still_a_pdf(tmp_path):
    fake = tmp_path / "notes.txt"
    fake.write_bytes((SAMPLES / "hr/parental-leave-policy.pdf").read_bytes())
    assert sniff(fake).kind == "pdf"


def test_office_files_made_here_are_recognised(tmp_path):
    assert sniff(write_docx(tmp_path / "a", "T", {"H": ["x"]})).kind == "docx"
    assert sniff(write_pptx(tmp_path / "b", [("T", ["x"])])).kind == "pptx"


def test_empty_and_binary_files_are_refused(tmp_path):
    (tmp_path / "e").write_bytes(b"")
    (tmp_path / "b").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))
    with pytest.raises(EmptyFileError):
        sniff(tmp_path / "e")
    with pytest.raises(UnsupportedTypeError):
        sniff(tmp_path / "b")


def _doc(sections: int = 6) -> ParsedDocument:
    blocks = []
    for s in range(sections):
        blocks.append(Block(f"Section {s}", page=s + 1, heading_path=("Manual", f"Section {s}"), is_heading=True))
        for p, para in enumerate(long_text(8, seed=s).split("\n\n")):
            blocks.append(Block(para, page=s + 1, heading_path=("Manual", f"Section {s}")))
    return ParsedDocument("md", "Manual", blocks)


def test_chunks_are_token_sized_with_exact_spans_pages_and_headings(shared_encoder):
    splitter = make_splitter(128, 16, lambda t: [0] * shared_encoder.count_tokens(t))
    clean, chunks = chunk_document(_doc(), splitter, shared_encoder.count_tokens)
    assert len(chunks) > 6
    for c in chunks:
        assert clean[c.char_start : c.char_end] == c.text
        assert c.token_count <= 128 + 2
        assert c.heading_path[0] == "Manual" and c.page is not None
        section = int(c.heading_path[1].split()[-1])
        assert c.page == section + 1
    assert [c.chunk_no for c in chunks] == list(range(len(chunks)))


def test_small_sections_are_packed_together(shared_encoder):
    blocks = [Block(f"Row {i}: Oslo office extension {4400 + i}", heading_path=(f"H{i}",), is_heading=False)
              for i in range(20)]
    splitter = make_splitter(256, 32, lambda t: [0] * shared_encoder.count_tokens(t))
    clean, chunks = chunk_document(ParsedDocument("html", None, blocks), splitter, shared_encoder.count_tokens)
    assert len(chunks) == 1 and "4419" in chunks[0].text and clean[chunks[0].char_start:chunks[0].char_end] == chunks[0].text


def test_exact_and_near_duplicate_chunks_are_dropped(shared_encoder):
    text = long_text(1, seed=3)
    blocks = [Block(text, heading_path=("A",)), Block("x", heading_path=("B",), is_heading=True),
              Block(text, heading_path=("B",)), Block("y", heading_path=("C",), is_heading=True),
              Block(text.replace("days", "day"), heading_path=("C",)), Block("z", heading_path=("D",), is_heading=True),
              Block(long_text(1, seed=99), heading_path=("D",))]
    splitter = make_splitter(32, 0, lambda t: [0] * shared_encoder.count_tokens(t))
    _, chunks = chunk_document(ParsedDocument("md", None, blocks), splitter, shared_encoder.count_tokens)
    kept = drop_duplicates(chunks, threshold=0.7)
    assert len(kept) < len(chunks)
    assert [c.chunk_no for c in kept] == list(range(len(kept)))
    assert len({c.text_sha for c in kept}) == len(kept)


def test_running_headers_footers_and_page_numbers_are_removed():
    bodies = long_text(20, seed=5).split("\n\n")
    blocks, expected = [], []
    for page in range(1, 6):
        content = [bodies[4 * page - 4], bodies[4 * page - 3],
                   f"Total due: {page * 100} NOK",  # repeats modulo digits, but mid-page: content
                   bodies[4 * page - 2], bodies[4 * page - 1]]
        expected += content
        blocks += [Block("Halvorsen Robotics — Internal", page), *(Block(t, page) for t in content),
                   Block(f"Page {page} of 5", page), Block(str(page), page)]
    cleaned = clean_document(ParsedDocument("pdf", None, blocks, page_count=5))
    assert [b.text for b in cleaned.blocks] == expected


def test_markdown_and_html_are_parsed_without_running_spacy(tmp_path, monkeypatch, models_dir):
    """Headings there come from the markup; unstructured's per-paragraph NLP check bought nothing."""
    import unstructured.nlp.tokenize as tokenize

    from ingest.offline import use_local_spacy
    from ingest.parse import parse

    def no_nlp(text):
        raise AssertionError(f"spaCy ran on {text[:40]!r}")

    use_local_spacy(models_dir)
    monkeypatch.setattr(tokenize, "_process", no_nlp)
    note = tmp_path / "note.md"
    note.write_text("# Travel\n\n## Booking\n\nBook flights through the portal. Economy class only.\n\n"
                    "- hotels up to 150 EUR a night\n- trains in second class\n")
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1>Badges</h1><p>Visitors collect badges at reception.</p></body></html>")

    md = parse(note, sniff(note))
    assert [(b.text, b.heading_path) for b in md.blocks if not b.is_heading] == [
        ("Book flights through the portal. Economy class only.", ("Travel", "Booking")),
        ("hotels up to 150 EUR a night", ("Travel", "Booking")),
        ("trains in second class", ("Travel", "Booking")),
    ]
    html = parse(page, sniff(page))
    assert [(b.text, b.heading_path) for b in html.blocks] == [
        ("Badges", ("Badges",)), ("Visitors collect badges at reception.", ("Badges",))]


def test_warming_up_parses_a_throwaway_document_and_leaves_nothing(make_settings, shared_encoder, tmp_path,
                                                                   monkeypatch):
    import tempfile

    import ingest.pipeline
    from ingest.pipeline import warm_up

    parsed = []  # a spy around the real parse-and-chunk

    def spy(path, *args, **kwargs):
        prepared = real(path, *args, **kwargs)
        parsed.append((Path(path).suffix, prepared.kind.kind, len(prepared.chunks)))
        return prepared

    real = ingest.pipeline.prepare_chunks
    monkeypatch.setattr(ingest.pipeline, "prepare_chunks", spy)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    warm_up(make_settings().preparation(), shared_encoder)  # what the server does before /healthz says ok
    assert len(parsed) == 1 and parsed[0][:2] == (".md", "md") and parsed[0][2] >= 1
    assert list(tmp_path.iterdir()) == []
