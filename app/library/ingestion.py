"""Files in, searchable chunks out: registration, then the jobs that index them.

Registering a file records the document, its access and a copy of the
original, and queues a job unless the bytes are unchanged. Jobs are claimed
from the SQL queue (``app.library.job_queue``: atomic claims, heartbeats, the
takeover of a dead worker's job) and run by ``app.library.ingest_jobs.JobRunner``
(crash-safe write order, documents parsed ahead of the encoder).
"""

from __future__ import annotations

import os
from copy import copy
from pathlib import Path
from typing import Iterable

from sqlalchemy import select

from app.library.documents import (
    Registration,
    find_by_source,
    new_document,
    record_failure,
    set_access,
    storage_error,
    store_original,
    stored_file,
)
from app.library.access import apply_access
from app.library.ingest_jobs import IngestResult, JobRunner
from app.library.erasure import forget_original
from app.library.job_queue import Heartbeat, claim, new_worker_id, reap
from app.progress import Progress, no_progress
from app.services import Services
from app.db.library import Document, IngestJob
from ingest.errors import FileTooLargeError, IngestError, PathOutsideRootError
from ingest.hashing import sha256_file

__all__ = ["IngestResult", "IngestService", "expand_paths", "stored_original"]


def expand_paths(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, root) pairs; a root is the folder (or file) the user named."""
    out: list[tuple[Path, Path]] = []
    for given in paths:
        if given.is_dir():
            for dirpath, dirnames, filenames in os.walk(given, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        out.append((Path(dirpath) / name, given))
        else:
            out.append((given, given.parent))
    return out


class IngestService:
    def __init__(self, services: Services, worker_id: str | None = None, requested_by: str | None = None) -> None:
        self.services = services
        self.requested_by = requested_by  # the name recorded on the jobs this service queues (the version log)
        self.settings = services.settings
        self.worker_id = worker_id or new_worker_id()  # who holds the jobs this service claims

    # ---- registration -------------------------------------------------
    def register(
        self, path: Path, root: Path, groups: list[str], owner: str | None = None, public: bool = False,
        title: str | None = None, source: str | None = None,
    ) -> Registration:
        """Record the document's access (applied to its existing points at once), then queue its new version.

        A document is the file its path resolves to: the same file through a symlink or
        another spelling of the path is the same document (redteam W6). The access is
        written to the index before anything about the new version is checked, so a
        version that is refused or fails never leaves the old readers on the old points
        (redteam L1); if the index cannot take the access, nothing changes and the
        registration fails with the reason.
        """
        source_uri = str(path.resolve())
        with self.services.session() as session:
            doc = find_by_source(session, source_uri) or find_by_source(session, str(path.absolute()))
            fresh = doc is None
            if doc is None:
                doc = new_document(source_uri, source or path.name)  # source: a path in an uploaded folder or zip
                session.add(doc)
            doc.source_uri = source_uri  # a document registered before paths were resolved moves to its real path
            before = (list(doc.groups), doc.owner, doc.public, doc.title)
            set_access(session, doc, groups, owner, public)
            if title:
                doc.title = title
            session.flush()
            if not fresh:
                try:
                    apply_access(self.services.index, doc)
                except Exception as exc:  # busy or broken index: keep the access it has, and say so
                    doc.groups, doc.owner, doc.public, doc.title = before
                    doc.owner_id = doc.owner.id if doc.owner else None
                    record_failure(doc, f"the access could not be written to the index, so it was not changed: {exc}")
                    return Registration(doc, None, "failed")
            try:
                resolved = path.resolve(strict=True)
                if not resolved.is_relative_to(root.resolve()):
                    raise PathOutsideRootError(
                        f"refused: {path} links to {resolved}, outside the folder being ingested"
                    )
                size = resolved.stat().st_size
                if size > self.settings.max_file_bytes:
                    raise FileTooLargeError(
                        f"the file is {size:,} bytes; the limit is {self.settings.max_file_bytes:,} "
                        "(INHOUSE_MAX_FILE_BYTES)"
                    )
                sha = sha256_file(resolved)
            except (IngestError, OSError) as exc:
                record_failure(doc, exc if isinstance(exc, IngestError) else f"cannot read the file: {exc}")
                return Registration(doc, None, "failed")
            pending = session.scalar(
                select(IngestJob).where(IngestJob.document_id == doc.id, IngestJob.status.in_(("queued", "running")))
            )
            unchanged = (
                not fresh and pending is None and doc.sha256 == sha and doc.status == "ready" and doc.error is None
                and doc.embed_model == self.settings.embed_model_path.name
            )
            if unchanged:
                return Registration(doc, None, "unchanged")
            try:
                doc.stored_path = str(store_original(self.settings.files_dir, resolved, sha))
            except OSError as exc:
                record_failure(doc, storage_error(exc, self.settings.files_dir))
                return Registration(doc, None, "failed")
            previous, doc.sha256, doc.size = doc.sha256, sha, size
            if previous != sha:  # no row names the earlier version's original any more (issue 15, W2)
                forget_original(session, self.settings.files_dir, previous, doc.id)
            if doc.status != "ready":  # a document readers get in a previous version stays ready meanwhile
                doc.status, doc.error = "queued", None
            job = pending or IngestJob(document_id=doc.id, status="queued")
            job.sha256, job.size = sha, size  # the version it indexes (a pending job takes the newest)
            job.requested_by = self.requested_by or job.requested_by
            session.add(job)
            session.flush()
            return Registration(doc, job, "queued")

    # ---- running jobs -------------------------------------------------
    def pending_jobs(self) -> list[int]:
        with self.services.session() as session:
            return list(
                session.scalars(
                    select(IngestJob.id).where(IngestJob.status.in_(("queued", "running"))).order_by(IngestJob.id)
                )
            )

    def run_jobs(self, job_ids: list[int], progress: Progress = no_progress) -> list[IngestResult]:
        """Run these jobs, those this worker can claim; a job another live worker holds is reported as it stands."""
        reap(self.services)  # a job a dead worker left running is queued again, so it can be claimed here
        claimed = claim(self.services, self.worker_id, only=job_ids)
        ran = dict(zip(claimed, self.run_claimed(claimed, progress)))
        return [ran[j] if j in ran else self._as_it_stands(j) for j in job_ids]

    def run_claimed(self, job_ids: list[int], progress: Progress = no_progress) -> list[IngestResult]:
        """Run jobs this worker has claimed, keeping their heartbeat fresh meanwhile."""
        if not job_ids:
            return []
        with Heartbeat(self.services, self.worker_id):
            return JobRunner(self.services).run(job_ids, progress)

    def run_job(self, job_id: int, progress: Progress = no_progress) -> IngestResult:
        [result] = self.run_jobs([job_id], progress)
        return result

    def _as_it_stands(self, job_id: int) -> IngestResult:
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            status = {"done": "ready"}.get(job.status, job.status)
            return IngestResult(doc.id, doc.source_uri, status, doc.chunk_count, job.error)

    # ---- the whole flow -----------------------------------------------
    def resume(self, progress: Progress = no_progress) -> list[IngestResult]:
        """Finish the queued jobs and those a dead worker left running; never one a live worker holds."""
        reap(self.services)
        return self.run_claimed(claim(self.services, self.worker_id), progress)

    def ingest_paths(
        self, paths: Iterable[Path], groups: list[str], owner: str | None = None, public: bool = False,
        progress: Progress = no_progress,
    ) -> list[IngestResult]:
        """Register every file (unchanged ones end there), then run their jobs as one pipelined batch."""
        files = expand_paths(paths)
        registrations = []
        for n, (path, root) in enumerate(files, 1):
            registrations.append(self.register(path, root, groups, owner, public))
            progress("register", n, len(files))
        return self.run_registered([(path, reg) for (path, _), reg in zip(files, registrations)], progress)

    def run_registered(
        self, registered: list[tuple[Path, Registration]], progress: Progress = no_progress
    ) -> list[IngestResult]:
        """Results in the order given: queued registrations are run, the others reported as they are."""
        job_ids = list(dict.fromkeys(reg.job.id for _, reg in registered if reg.job is not None))
        ran = dict(zip(job_ids, self.run_jobs(job_ids, progress)))  # one job for one file reached twice
        results: list[IngestResult] = []
        for path, reg in registered:
            if reg.job is not None:
                result = copy(ran[reg.job.id])
            else:
                doc = reg.document
                result = IngestResult(doc.id, str(path), reg.outcome, doc.chunk_count, doc.error)
            result.path = str(path)
            results.append(result)
        return results

    def reindex(self, progress: Progress = no_progress) -> list[IngestResult]:
        """Rebuild the collection from the stored originals with the current embedding model."""
        from app.db.library import IndexCollection

        self.services.drop_index()  # whoever built it; the next use creates it afresh, bound to this database
        with self.services.session() as session:
            row = session.get(IndexCollection, self.settings.collection)
            if row is not None:
                session.delete(row)
            docs = [d for d in session.scalars(select(Document)) if d.stored_path]
            for doc in docs:
                doc.status = "queued"  # nothing of it is searched any more
                if not Path(doc.stored_path).exists():
                    record_failure(doc, "the stored original is missing; upload the file again")
                    continue
                session.add(IngestJob(document_id=doc.id, status="queued", sha256=doc.sha256, size=doc.size,
                                      requested_by=self.requested_by))
        return self.resume(progress)


def stored_original(services: Services, doc: Document) -> Path | None:
    return stored_file(services.settings.files_dir, doc.sha256) if doc.sha256 else None
