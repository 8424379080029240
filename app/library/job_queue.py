"""The ingestion job queue in SQL: claiming a job, keeping it, and taking over one whose worker died.

Any number of workers (the thread in ``inhouse serve``, ``inhouse worker``
processes, a CLI command running its own jobs) share the ``ingest_jobs`` rows.
A worker claims queued jobs with one ``UPDATE … WHERE status = 'queued'``
whose candidates come from a ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite has one writer at a time, so the single statement is
already atomic there): two workers never get the same job. While it runs jobs
a worker refreshes ``heartbeat_at`` on them from a small thread
(``Heartbeat``), so a long parse counts as alive.

A running job is abandoned when its heartbeat is older than ``job_stale_s``
(any host), or at once when its worker was a process on this host that no
longer exists (the worker id is host, pid and a random part). ``reap`` puts an
abandoned job back in the queue, where the next claim takes it (its attempt
count goes up), or fails it with the reason once it has been tried
``job_max_attempts`` times: a file that kills its worker must not kill every
worker in turn. Taking over is safe because of the job runner's write order
(``app.library.ingest_jobs``): point ids are deterministic and the document is only
marked ready after its points are durable, so a re-run writes the same points.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

from sqlalchemy import or_, select, update

from app.library.documents import record_failure
from app.services import Services
from app.db.base import utcnow
from app.db.library import Document, IngestJob

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """host:pid:random: the host and pid let a worker on the same host see at once that a holder died."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead_here(worker_id: str | None) -> bool:
    """True when the worker was a process on this host that no longer exists."""
    if not worker_id:
        return True  # a running job nobody holds (left by a version before claims)
    host, _, rest = worker_id.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process: its own heartbeat says whether the job is alive
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


@dataclass(frozen=True)
class Abandoned:
    """A running job whose worker stopped: put back in the queue, or failed over the attempt limit."""

    job_id: int
    worker_id: str | None
    failed: bool


def reap(services: Services) -> list[Abandoned]:
    """Find running jobs whose worker is gone; requeue them (or fail them after too many attempts)."""
    settings = services.settings
    cutoff = utcnow() - timedelta(seconds=settings.job_stale_s)
    with services.session() as session:
        running = session.execute(
            select(IngestJob.id, IngestJob.worker_id, IngestJob.heartbeat_at, IngestJob.attempts)
            .where(IngestJob.status == "running")
        ).all()
    out: list[Abandoned] = []
    for job_id, worker_id, beat, attempts in running:
        beat = _aware(beat)
        stale = beat is None or beat < cutoff
        if not stale and not _dead_here(worker_id):
            continue
        # the same holder still, and (unless it is known dead) still silent: a worker that beat
        # again in the meantime keeps its job
        held = IngestJob.worker_id.is_(None) if worker_id is None else IngestJob.worker_id == worker_id
        conditions = [IngestJob.id == job_id, IngestJob.status == "running", held]
        if not _dead_here(worker_id):
            conditions.append(or_(IngestJob.heartbeat_at.is_(None), IngestJob.heartbeat_at < cutoff))
        give_up = attempts >= settings.job_max_attempts
        with services.session() as session:
            if give_up:
                reason = (f"gave up after {attempts} attempts: each time, the worker running this job stopped "
                          "without finishing it (killed, or out of memory on this file)")
                values = dict(status="failed", error=reason, finished_at=utcnow(), worker_id=None)
            else:
                values = dict(status="queued", worker_id=None, heartbeat_at=None)
            changed = session.execute(
                update(IngestJob).where(*conditions).values(**values).returning(IngestJob.document_id)
            ).scalar_one_or_none()
            if changed is None:
                continue  # another worker got there first, or the holder is alive after all
            if give_up:
                record_failure(session.get(Document, changed), reason)
        log.warning("ingest job %s: its worker %s stopped; %s", job_id, worker_id,
                    "failed after too many attempts" if give_up else "queued again")
        out.append(Abandoned(job_id, worker_id, give_up))
    return out


def claim(services: Services, worker_id: str, limit: int | None = None,
          only: Sequence[int] | None = None) -> list[int]:
    """Take queued jobs for this worker (oldest first), atomically: one UPDATE, its candidates skip-locked.

    ``only`` limits the claim to these jobs (a CLI command running the jobs it registered).
    """
    if only is not None and not only:
        return []
    candidates = select(IngestJob.id).where(IngestJob.status == "queued").order_by(IngestJob.id)
    if only is not None:
        candidates = candidates.where(IngestJob.id.in_(list(only)))
    if limit is not None:
        candidates = candidates.limit(limit)
    candidates = candidates.with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing
    now = utcnow()
    with services.session() as session:
        claimed = session.scalars(
            update(IngestJob)
            .where(IngestJob.id.in_(candidates.scalar_subquery()), IngestJob.status == "queued")
            .values(status="running", worker_id=worker_id, heartbeat_at=now, attempts=IngestJob.attempts + 1,
                    error=None)
            .returning(IngestJob.id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(claimed)


def beat(services: Services, worker_id: str) -> int:
    """Refresh the heartbeat of every job this worker runs; how many it still holds."""
    with services.session() as session:
        return session.execute(
            update(IngestJob)
            .where(IngestJob.worker_id == worker_id, IngestJob.status == "running")
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount


class Heartbeat:
    """A thread that calls ``beat`` every ``job_heartbeat_s`` while the worker runs its jobs."""

    def __init__(self, services: Services, worker_id: str) -> None:
        self.services, self.worker_id = services, worker_id
        self.every_s = services.settings.job_heartbeat_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="inhouse-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                beat(self.services, self.worker_id)
            except Exception:  # a database hiccup: the next beat tries again, well inside the timeout
                log.warning("could not refresh the heartbeat of worker %s", self.worker_id, exc_info=True)
