"""The server's ingestion worker: one thread that runs the jobs queued in SQL.

While ``inhouse serve`` runs it owns the index (``retrieval.lock``), so
everything that queues an ingestion job — a browser upload, ``inhouse
ingest`` through the operator channel, a job left by an earlier process —
is indexed here. The worker polls SQL (jobs are rows, so a job queued by any
process is seen) and can be woken at once with ``wake()``. One thread is
enough: the encoder is the limit on a CPU, and one runner at a time keeps each
document's write order (``app.ingest_jobs``) intact.
"""

from __future__ import annotations

import logging
import threading

from app.ingestion import IngestService
from app.services import Services

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often SQL is checked for jobs nobody woke the worker for
TAKE = 16  # jobs run per round: a stop request waits for at most one round


class JobWorker:
    def __init__(self, services: Services, poll_s: float = POLL_S) -> None:
        self.services = services
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="inhouse-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look for queued jobs now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Finish the current round of jobs, then stop (the rest stay queued for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        ingest = IngestService(self.services)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                pending = ingest.pending_jobs()
                if pending:
                    ingest.run_jobs(pending[:TAKE])
                    continue  # more may be waiting
            except Exception:  # a broken round must not end the worker; the jobs stay queued or failed
                log.exception("the ingestion worker's round failed")
            self._wake.wait(self.poll_s)
