"""Page-by-page progress while a PDF is read: the "page n of m" a library row shows.

unstructured's ``fast`` strategy reads a PDF in one call with no per-page
callback, but inside that call it walks the pages one at a time through
pdfminer (``open_pdfminer_pages_generator``: pdfminer lays a page out, then the
generator yields it). Wrapping that generator tells us when each page has really
been read, at no measurable cost (one function call per page) and without
splitting the file: a split would make pdfminer parse each page's shared fonts
again. The wrapper only counts; what unstructured does with the pages is
unchanged. unstructured is pinned (``pyproject.toml``), and
``tests/ingest/test_page_progress.py`` fails if a new version stops walking
pages through this generator.

The callback is per thread (the job runner parses in its own thread; tests and
the CLI in theirs), so two parses never see each other's pages.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

PageProgress = Callable[[str, int, int], None]  # (stage, pages done, pages): app.progress.Progress's shape
PagesRead = Callable[[int], None]  # pages pdfminer has read so far in this call

_local = threading.local()


def no_pages(stage: str, done: int, total: int) -> None:
    """Report nowhere."""


def _install() -> None:
    """Wrap unstructured's page generator once per process (idempotent)."""
    import unstructured.partition.pdf as pdf

    original = pdf.open_pdfminer_pages_generator
    if getattr(original, "inhouse_counts_pages", False):
        return

    def counted(*args, **kwargs) -> Iterator:
        for read, item in enumerate(original(*args, **kwargs), start=1):
            callback: PagesRead | None = getattr(_local, "callback", None)
            if callback is not None:
                callback(read)  # pdfminer has laid this page out; unstructured now turns it into elements
            yield item

    counted.inhouse_counts_pages = True  # type: ignore[attr-defined]
    pdf.open_pdfminer_pages_generator = counted


@contextmanager
def counting_pages(callback: PagesRead) -> Iterator[None]:
    """Within this block, unstructured's PDF reads on this thread call ``callback(pages read)``."""
    _install()
    previous = getattr(_local, "callback", None)
    _local.callback = callback
    try:
        yield
    finally:
        _local.callback = previous


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
