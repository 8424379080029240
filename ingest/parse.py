"""Parse a file into blocks with pages and heading paths, using unstructured.

The ``fast`` strategy reads text layers; pages that have none (scans) are read
again with ``ocr_only`` through Debian's tesseract. CSV rows become
"column: value" lines so every chunk carries its column names.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from ingest import offline  # noqa: F401  (sets the offline environment before unstructured loads)
from ingest.document import Block, ParsedDocument
from ingest.errors import CorruptDocumentError, EncryptedDocumentError, IngestError, NoTextError
from ingest.html_text import skip_narrative_check
from ingest.page_progress import (
    PageCounter, PageProgress, SlideCounter, counting_pdf_pages, counting_slides, no_pages,
)
from ingest.sniff import FileKind

log = logging.getLogger(__name__)

_SKIP_CATEGORIES = {"PageBreak", "PageNumber", "Image", "Header", "Footer"}


def read_text(path: Path) -> str:
    """Decode a text file whatever its encoding (UTF-8, UTF-16, cp1252, latin-1…)."""
    raw = path.read_bytes()
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(enc)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise CorruptDocumentError("the text is in no encoding we can recognise")
    return str(best)


def parse(
    path: Path, kind: FileKind, ocr_languages: str = "eng", progress: PageProgress = no_pages
) -> ParsedDocument:
    """``progress`` hears pages as they are read (``ingest.page_progress``): a PDF's ("parse", n, m)
    from its text layer, then ("ocr", j, k) for the k pages without one; a deck's slides as
    ("parse", n, m). Other types have no pages and report nothing."""
    try:
        if kind.kind == "pdf":
            return _parse_pdf(path, ocr_languages, progress)
        if kind.kind == "csv":
            return _parse_csv(read_text(path))
        elements = _partition(path, kind, progress)
    except IngestError:
        raise
    except Exception as exc:  # parsers raise anything; the owner needs one clear line
        raise CorruptDocumentError(f"could not parse the {kind.kind.upper()} file: {exc}") from exc
    doc = _to_document(kind.kind, elements)
    if kind.kind == "eml":
        _prepend_mail_headers(path, doc)
    if not any(b.text.strip() for b in doc.blocks):
        raise NoTextError(f"no text could be extracted from this {kind.kind.upper()} file")
    return doc


NO_LANGUAGE_DETECTION = [""]  # unstructured's marker; we never read the language metadata it would add


def _partition(path: Path, kind: FileKind, progress: PageProgress) -> list:
    skip_narrative_check()
    options = {"languages": NO_LANGUAGE_DETECTION}
    if kind.kind == "docx":
        from unstructured.partition.docx import partition_docx

        return partition_docx(filename=str(path), **options)
    if kind.kind == "pptx":
        from unstructured.partition.pptx import partition_pptx

        with counting_slides(SlideCounter(progress)):
            return partition_pptx(filename=str(path), **options)
    if kind.kind == "html":
        from unstructured.partition.html import partition_html

        return partition_html(text=read_text(path), **options)
    if kind.kind == "eml":
        from unstructured.partition.email import partition_email

        return partition_email(filename=str(path), process_attachments=False, **options)
    if kind.kind == "md":
        from unstructured.partition.md import partition_md

        return partition_md(text=read_text(path), **options)
    from unstructured.partition.text import partition_text

    return partition_text(text=read_text(path), **options)


def _pdf_page_count(path: Path) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                if reader.decrypt("") == 0:  # the empty user password does not open it
                    raise EncryptedDocumentError("the PDF is password-protected; upload an unprotected copy")
            except NotImplementedError as exc:
                raise EncryptedDocumentError(f"the PDF is encrypted with an unsupported scheme: {exc}") from exc
        return len(reader.pages)
    except (PdfReadError, ValueError, OSError, KeyError) as exc:
        raise CorruptDocumentError(f"the PDF is damaged: {exc}") from exc


# Debian's tesseract 5 starts one OpenMP thread per core (or four) for every page; on a
# two-core machine that made a 200-dpi page take 7.0 s instead of 1.25 s with one thread.
# One thread per tesseract also leaves the other core to the encoder. An OMP_THREAD_LIMIT
# set by the operator wins.
TESSERACT_THREADS = "1"


def _limit_tesseract_threads() -> None:
    """Give tesseract's subprocesses OMP_THREAD_LIMIT without setting it for our own process,
    where it would also cap torch's OpenMP pool."""
    import os

    import unstructured_pytesseract.pytesseract as pt

    if getattr(pt.subprocess_args, "inhouse_limited", False) or "OMP_THREAD_LIMIT" in os.environ:
        return
    original = pt.subprocess_args

    def subprocess_args(include_stdout: bool = True) -> dict:
        args = original(include_stdout)
        args["env"] = {**(args.get("env") or os.environ), "OMP_THREAD_LIMIT": TESSERACT_THREADS}
        return args

    subprocess_args.inhouse_limited = True  # type: ignore[attr-defined]
    pt.subprocess_args = subprocess_args


def _ocr_pages(path: Path, missing: list[int], ocr_languages: str, counter: PageCounter) -> list:
    """OCR only the pages without a text layer, several at a time.

    One scanned signature page in a 100-page contract costs one page of OCR, not a hundred.
    Each page goes to unstructured as a one-page PDF, and the pages run in parallel threads
    (the work is in tesseract subprocesses, one OpenMP thread each): on two cores the two
    pages of a scan take the time of one. Elements keep the document's page numbers.
    """
    import os
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from pypdf import PdfReader, PdfWriter
    from unstructured.partition.pdf import partition_pdf

    _limit_tesseract_threads()
    languages = ocr_languages.split("+")
    reader = PdfReader(str(path))
    if reader.is_encrypted:
        reader.decrypt("")  # only PDFs that open with the empty password get this far
    with tempfile.TemporaryDirectory(prefix="inhouse-ocr-") as folder:
        singles = []
        for page in missing:
            writer = PdfWriter()
            writer.add_page(reader.pages[page - 1])
            single = Path(folder) / f"page-{page}.pdf"
            with single.open("wb") as fh:
                writer.write(fh)
            singles.append(single)

        def ocr(single: Path) -> list:
            found = partition_pdf(filename=str(single), strategy="ocr_only", languages=languages)
            counter.one_more()  # pages finish out of order; the count of pages done only grows
            return found

        counter.start()

        with ThreadPoolExecutor(max_workers=max(1, min(len(singles), os.cpu_count() or 1))) as pool:
            per_page = list(pool.map(ocr, singles))
    elements = []
    for page, found in zip(missing, per_page):
        for element in found:
            element.metadata.page_number = page
            elements.append(element)
    return elements


def _parse_pdf(path: Path, ocr_languages: str, progress: PageProgress) -> ParsedDocument:
    from unstructured.partition.pdf import partition_pdf

    pages = _pdf_page_count(path)
    reading = PageCounter(progress, "parse", pages)
    reading.start()
    with counting_pdf_pages(reading.reached):
        elements = partition_pdf(filename=str(path), strategy="fast")
    reading.finish()  # a PDF unstructured finds too complex is not walked: its pages go to OCR below
    text_pages = {e.metadata.page_number for e in elements if e.text.strip()}
    missing = [p for p in range(1, pages + 1) if p not in text_pages]
    ocr_pages: list[int] = []
    if missing:
        log.info("%s: %d page(s) without a text layer, running OCR", path.name, len(missing))
        ocr_elements = _ocr_pages(path, missing, ocr_languages, PageCounter(progress, "ocr", len(missing)))
        ocr_pages = sorted({e.metadata.page_number for e in ocr_elements if e.text.strip()})
        elements = sorted(
            [*elements, *ocr_elements], key=lambda e: (e.metadata.page_number or 0)
        )  # stable: keeps reading order within a page
    doc = _to_document("pdf", elements)
    doc.page_count = pages
    doc.ocr_pages = ocr_pages
    if not any(b.text.strip() for b in doc.blocks):
        raise NoTextError("no text could be extracted from this PDF, not even by OCR")
    return doc


_TERMINAL = tuple(".!?:;)»\"'”")


def _join_wrapped_lines(elements: list) -> list[tuple[str, str, int | None, int]]:
    """PDF text layers wrap lines into separate elements, and unstructured may call a
    wrapped fragment ("enough.") a Title. A fragment that starts in lower case after
    an element that ends mid-sentence is a continuation: glue it back."""
    out: list[tuple[str, str, int | None, int]] = []
    for el in elements:
        category = getattr(el, "category", type(el).__name__)
        text = (el.text or "").strip()
        if not text or category in _SKIP_CATEGORIES:
            continue
        page = getattr(el.metadata, "page_number", None)
        depth = getattr(el.metadata, "category_depth", None) or 0
        if (out and text[0].islower() and not out[-1][1].endswith(_TERMINAL)
                and "Title" != out[-1][0] and "ListItem" not in (category, out[-1][0])):
            prev_cat, prev_text, prev_page, prev_depth = out[-1]
            out[-1] = (prev_cat, f"{prev_text} {text}", prev_page, prev_depth)
            continue
        if category == "Title" and (text[0].islower() or (text.endswith(".") and len(text.split()) > 8)):
            category = "NarrativeText"  # a sentence, not a heading
        out.append((category, text, page, depth))
    return out


def _to_document(kind: str, elements: list) -> ParsedDocument:
    blocks: list[Block] = []
    stack: list[str] = []
    title: str | None = None
    for category, text, page, depth in _join_wrapped_lines(elements):
        if category == "Title":
            stack = [*stack[:depth], text[:200]]
            title = title or text[:200]
            blocks.append(Block(text, page, tuple(stack), is_heading=True))
            continue
        blocks.append(Block(text, page, tuple(stack)))
    return ParsedDocument(kind=kind, title=title, blocks=blocks)


def _parse_csv(text: str) -> ParsedDocument:
    sample = text[:5000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise NoTextError("the CSV file has no rows")
    header, body = rows[0], rows[1:]
    blocks = [Block(" | ".join(header), None, (), is_heading=False)] if not body else []
    for row in body:
        cells = [f"{h.strip()}: {v.strip()}" for h, v in zip(header, row) if v.strip()]
        if cells:
            blocks.append(Block("; ".join(cells) + ".", None, ()))
    return ParsedDocument(kind="csv", title=None, blocks=blocks)


def _prepend_mail_headers(path: Path, doc: ParsedDocument) -> None:
    from email import policy
    from email.parser import BytesParser

    with path.open("rb") as fh:
        msg = BytesParser(policy=policy.default).parse(fh, headersonly=True)
    fields = [f"{name}: {msg[name]}" for name in ("From", "To", "Cc", "Date", "Subject") if msg[name]]
    if fields:
        doc.blocks.insert(0, Block("\n".join(fields), None, ()))
    if msg["Subject"]:
        doc.title = str(msg["Subject"])
