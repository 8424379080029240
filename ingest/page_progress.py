"""Page-by-page progress while a file is read: the "page n of m" a library row shows.

unstructured reads a PDF or a PowerPoint deck in one call with no per-page
callback, but inside that call it walks the pages one at a time:

* a PDF through pdfminer (``open_pdfminer_pages_generator`` lays a page out,
  then yields it);
* a deck slide by slide (``_PptxPartitioner._iter_presentation_elements``
  yields each slide's elements, each carrying its slide number).

Wrapping those generators tells us when each page has really been read, at no
measurable cost (one call per page or element) and without splitting the file:
a split would make pdfminer parse each page's shared fonts again. The wrappers
only count; what unstructured does with the pages is unchanged. unstructured is
pinned (``pyproject.toml``), and ``tests/ingest/test_page_progress.py`` fails if
a new version stops walking pages through these generators.

The callbacks are per thread (the job runner parses in its own thread; tests and
the CLI in theirs), so two parses never see each other's pages.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

PageProgress = Callable[[str, int, int], None]  # (stage, pages done, pages): app.progress.Progress's shape
PagesRead = Callable[[int], None]  # pages pdfminer has read so far in this call
SlidesRead = Callable[[int, int], None]  # (slides read so far, slides in the deck)

_local = threading.local()


def no_pages(stage: str, done: int, total: int) -> None:
    """Report nowhere."""


def _install_pdf() -> None:
    """Wrap unstructured's PDF page generator once per process (idempotent)."""
    import unstructured.partition.pdf as pdf

    original = pdf.open_pdfminer_pages_generator
    if getattr(original, "inhouse_counts_pages", False):
        return

    def counted(*args, **kwargs) -> Iterator:
        for read, item in enumerate(original(*args, **kwargs), start=1):
            callback: PagesRead | None = getattr(_local, "pdf", None)
            if callback is not None:
                callback(read)  # pdfminer has laid this page out; unstructured now turns it into elements
            yield item

    counted.inhouse_counts_pages = True  # type: ignore[attr-defined]
    pdf.open_pdfminer_pages_generator = counted


def _install_pptx() -> None:
    """Wrap unstructured's slide-by-slide element generator once per process (idempotent)."""
    from unstructured.partition.pptx import _PptxPartitioner

    original = _PptxPartitioner._iter_presentation_elements
    if getattr(original, "inhouse_counts_pages", False):
        return

    def counted(self) -> Iterator:
        callback: SlidesRead | None = getattr(_local, "pptx", None)
        if callback is None:
            yield from original(self)
            return
        total = len(self._presentation.slides)  # the deck unstructured has open: no second load
        callback(0, total)
        for element in original(self):
            slide = getattr(element.metadata, "page_number", None) or 1
            callback(slide - 1, total)  # an element of slide n: the slides before it are read
            yield element
        callback(total, total)

    counted.inhouse_counts_pages = True  # type: ignore[attr-defined]
    _PptxPartitioner._iter_presentation_elements = counted


@contextmanager
def _counting(name: str, callback) -> Iterator[None]:
    previous = getattr(_local, name, None)
    setattr(_local, name, callback)
    try:
        yield
    finally:
        setattr(_local, name, previous)


@contextmanager
def counting_pdf_pages(callback: PagesRead) -> Iterator[None]:
    """Within this block, unstructured's PDF reads on this thread call ``callback(pages read)``."""
    _install_pdf()
    with _counting("pdf", callback):
        yield


@contextmanager
def counting_slides(callback: SlidesRead) -> Iterator[None]:
    """Within this block, unstructured's PPTX reads on this thread call ``callback(slides read, slides)``."""
    _install_pptx()
    with _counting("pptx", callback):
        yield


class PageCounter:
    """Turns the counts of one stage into monotonic (stage, n, m) reports that end at m of m.

    pdfminer's generator starts over on a PDF it has to repair, so a raw count can
    go past m or restart; the reader sees neither.
    """

    def __init__(self, progress: PageProgress, stage: str, total: int) -> None:
        self.progress, self.stage, self.total, self.done = progress, stage, total, 0
        self._lock = threading.Lock()  # OCR pages finish on several threads

    def start(self) -> None:
        self.progress(self.stage, 0, self.total)

    def reached(self, pages: int) -> None:
        with self._lock:
            pages = min(pages, self.total)
            if pages > self.done:
                self.done = pages
                self.progress(self.stage, pages, self.total)

    def one_more(self) -> None:
        with self._lock:
            if self.done < self.total:
                self.done += 1
                self.progress(self.stage, self.done, self.total)

    def finish(self) -> None:
        self.reached(self.total)


class SlideCounter:
    """(slides read, slides) from the PPTX hook as ("parse", n, m) reports, once the deck's size is known."""

    def __init__(self, progress: PageProgress) -> None:
        self.progress = progress
        self.counter: PageCounter | None = None

    def __call__(self, read: int, total: int) -> None:
        if self.counter is None:
            self.counter = PageCounter(self.progress, "parse", total)
            self.counter.start()
        self.counter.reached(read)
