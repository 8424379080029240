"""A file's preparation as its job row says it: parsing page n of m, OCR page j of k, chunking.

``ingest.pipeline.prepare_chunks`` reports (stage, done, total) from the parse
thread; ``JobPages`` writes that onto the job row the library's progress rows
poll (``app.library.listing.progress_of``), so a reload or another tab reads the
same page numbers. Writes are spaced (a 1,000-page PDF's text layer is read in
seconds, and a commit per page would cost more than the page), but the first
report of a stage (or of a new page total) and its last page are always
written, so a row never skips "m of m" and a stage never shows a stale count.

Only a running job is written: a job another worker took over (its heartbeat
went stale) or one already final is left alone. A write that fails (a busy
database) is logged and skipped: the count is what a reader sees, never a
reason for the file to fail.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db.library import IngestJob

log = logging.getLogger(__name__)

# How often, at most, one job's page count is written. The library polls every second.
WRITE_EVERY_S = 0.5


class JobPages:
    """The ``progress`` a job runner hands to ``prepare_chunks`` for one job."""

    def __init__(self, session: Callable[[], Session], job_id: int, every_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session, self.job_id, self.clock = session, job_id, clock
        self.every_s = WRITE_EVERY_S if every_s is None else every_s
        self.written: tuple[str, int] | None = None  # (stage, total) last written
        self.written_at = float("-inf")

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        last_of_stage = done >= total
        if (stage, total) == self.written and not last_of_stage and now - self.written_at < self.every_s:
            return
        try:
            with self.session() as session:
                session.execute(
                    update(IngestJob).where(IngestJob.id == self.job_id, IngestJob.status == "running")
                    .values(stage=stage, pages_done=done, pages_total=total))
        except Exception:  # the next report tries again; the parse goes on
            log.warning("could not record the progress of ingest job %s", self.job_id, exc_info=True)
            return
        self.written, self.written_at = (stage, total), now
