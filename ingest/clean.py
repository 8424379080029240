"""Tidy parsed blocks: collapse whitespace, drop running headers, footers and page numbers.

A line is a running header/footer when, with its digits masked ("Page 3 of 9"
→ "Page # of #"), it recurs on at least half of a document's pages (and on
three or more). Such lines carry no content and would otherwise appear in
every chunk and match every query.
"""

from __future__ import annotations

import re
from collections import Counter

from unstructured.cleaners.core import clean_extra_whitespace, replace_unicode_quotes

from ingest.document import Block, ParsedDocument

_PAGE_NUMBER = re.compile(r"^\s*(page\s*)?[-–—]?\s*\d{1,4}\s*([-–—]|(of|/)\s*\d{1,4})?\s*$", re.I)
_DIGITS = re.compile(r"\d+")


def _normalise(text: str) -> str:
    text = replace_unicode_quotes(text.replace("\u00ad", "").replace("\x00", ""))
    paragraphs = [clean_extra_whitespace(p) for p in re.split(r"\n\s*\n", text)]
    return "\n".join(p for p in paragraphs if p)


def _mask(text: str) -> str:
    return _DIGITS.sub("#", text.strip().lower())


def clean_document(doc: ParsedDocument) -> ParsedDocument:
    blocks = [Block(_normalise(b.text), b.page, b.heading_path, b.is_heading) for b in doc.blocks]
    blocks = [b for b in blocks if b.text and not _PAGE_NUMBER.match(b.text)]
    pages = sorted({b.page for b in blocks if b.page is not None})
    if len(pages) >= 3:
        edges: set[int] = set()  # headers and footers live at the top and bottom of a page
        for page in pages:
            on_page = [i for i, b in enumerate(blocks) if b.page == page]
            edges.update(on_page[:2] + on_page[-2:])
        seen: Counter = Counter()
        for page in pages:
            seen.update({_mask(blocks[i].text) for i in edges if blocks[i].page == page and len(blocks[i].text) < 200})
        running = {text for text, n in seen.items() if n >= max(3, len(pages) / 2)}
        blocks = [b for i, b in enumerate(blocks) if not (i in edges and _mask(b.text) in running)]
        # headings that were running headers must not stay in heading paths either
        blocks = [
            Block(b.text, b.page, tuple(h for h in b.heading_path if _mask(h) not in running), b.is_heading)
            for b in blocks
        ]
    return ParsedDocument(doc.kind, doc.title, blocks, doc.page_count, doc.ocr_pages)
