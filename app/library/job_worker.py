"""The ingestion worker loop: claims jobs from the SQL queue and runs them, until told to stop.

``inhouse serve`` runs it in a thread (unless ``web_worker`` is off) and
``inhouse worker`` runs it as a process of its own; both share the queue
through ``app.library.job_queue`` (atomic claims, heartbeats, the takeover
of a dead worker's job). The worker polls SQL (jobs are rows, so a job queued
by any process is seen, and a stale heartbeat is noticed at the next poll) and
can be woken at once with ``wake()``. One loop per process is enough: the
encoder is the limit on a CPU, and one runner at a time keeps each document's
write order (``app.library.ingest_jobs``) intact.
"""

from __future__ import annotations

import logging
import threading

from app.library.ingest_jobs import IngestResult
from app.library.ingestion import IngestService
from app.library.job_queue import claim, new_worker_id, reap
from app.services import Services

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often SQL is checked for jobs nobody woke the worker for
TAKE = 16  # jobs claimed per round: a stop request waits for at most one round; others may take the rest


class JobWorker:
    def __init__(self, services: Services, poll_s: float = POLL_S, worker_id: str | None = None) -> None:
        self.services = services
        self.poll_s = poll_s
        self.worker_id = worker_id or new_worker_id()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run_forever, name="inhouse-jobs", daemon=True)

    def start(self) -> None:
        """Run the loop in a thread (``inhouse serve``)."""
        self._thread.start()

    def wake(self) -> None:
        """Look for queued jobs now rather than at the next poll."""
        self._wake.set()

    def request_stop(self) -> None:
        """Stop after the current round (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Finish the current round of jobs, then stop (the rest stay queued for the next start)."""
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def run_round(self) -> list[IngestResult]:
        """Requeue what dead workers left, claim up to TAKE queued jobs and run them."""
        reap(self.services)
        claimed = claim(self.services, self.worker_id, limit=TAKE)
        return IngestService(self.services, self.worker_id).run_claimed(claimed)

    def run_forever(self) -> None:
        """The loop itself (``inhouse worker`` runs it in the foreground)."""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self.run_round():
                    continue  # more may be waiting
            except Exception:  # a broken round must not end the worker; the jobs stay queued or failed
                log.exception("the ingestion worker's round failed")
            self._wake.wait(self.poll_s)
