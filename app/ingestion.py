"""Files in, searchable chunks out: registration, then the jobs that index them.

Registering a file records the document, its access and a copy of the
original, and queues a job unless the bytes are unchanged. Jobs are run by
``app.ingest_jobs.JobRunner`` (crash-safe write order, documents parsed ahead
of the encoder); unfinished jobs are resumed on the next start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from sqlalchemy import select

from app.documents import (
    Registration,
    document_acl,
    find_by_source,
    new_document,
    record_failure,
    set_access,
    storage_error,
    store_original,
    stored_file,
)
from app.ingest_jobs import IngestResult, JobRunner
from app.progress import Progress, no_progress
from app.services import Services
from app.tables import Document, IngestJob
from ingest.errors import FileTooLargeError, IngestError, PathOutsideRootError
from ingest.hashing import sha256_file
from retrieval.schema import IndexFilter

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
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    # ---- registration -------------------------------------------------
    def register(
        self, path: Path, root: Path, groups: list[str], owner: str | None = None, public: bool = False,
        title: str | None = None,
    ) -> Registration:
        source_uri = str(path.absolute())
        with self.services.session() as session:
            doc = find_by_source(session, source_uri)
            fresh = doc is None
            if doc is None:
                doc = new_document(source_uri, path.name)
                session.add(doc)
            set_access(session, doc, groups, owner, public)
            if title:
                doc.title = title
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
            unchanged = (
                not fresh and doc.sha256 == sha and doc.status == "ready"
                and doc.embed_model == self.settings.embed_model_path.name
            )
            if unchanged:
                acl = document_acl(doc)
                self.services.check_collection(create=True)
                self.services.index.set_payload(
                    IndexFilter(doc_ids=[doc.id]), {"acl": acl, "groups": sorted(g.name for g in doc.groups)}
                )
                return Registration(doc, None, "unchanged")
            try:
                doc.stored_path = str(store_original(self.settings.files_dir, resolved, sha))
            except OSError as exc:
                message = storage_error(exc, self.settings.files_dir)
                if doc.status == "ready":  # the previous version stays searchable
                    doc.error = f"{message} (the previous version is still the one searched)"
                else:
                    record_failure(doc, message)
                return Registration(doc, None, "failed")
            doc.sha256, doc.size, doc.status, doc.error = sha, size, "queued", None
            job = IngestJob(document_id=doc.id, status="queued")
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
        return JobRunner(self.services).run(job_ids, progress)

    def run_job(self, job_id: int, progress: Progress = no_progress) -> IngestResult:
        [result] = self.run_jobs([job_id], progress)
        return result

    # ---- the whole flow -----------------------------------------------
    def resume(self, progress: Progress = no_progress) -> list[IngestResult]:
        """Finish jobs that a crash (or a kill) left queued or running."""
        return self.run_jobs(self.pending_jobs(), progress)

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
        ran = iter(self.run_jobs([reg.job.id for _, reg in registered if reg.job is not None], progress))
        results: list[IngestResult] = []
        for path, reg in registered:
            if reg.job is not None:
                result = next(ran)
            else:
                doc = reg.document
                result = IngestResult(doc.id, str(path), reg.outcome, doc.chunk_count, doc.error)
            result.path = str(path)
            results.append(result)
        return results

    def reindex(self, progress: Progress = no_progress) -> list[IngestResult]:
        """Rebuild the collection from the stored originals with the current embedding model."""
        from app.tables import IndexCollection

        self.services.drop_index()  # whoever built it; the next use creates it afresh, bound to this database
        with self.services.session() as session:
            row = session.get(IndexCollection, self.settings.collection)
            if row is not None:
                session.delete(row)
            docs = [d for d in session.scalars(select(Document)) if d.stored_path]
            for doc in docs:
                if not Path(doc.stored_path).exists():
                    record_failure(doc, "the stored original is missing; upload the file again")
                    continue
                doc.status = "queued"
                session.add(IngestJob(document_id=doc.id, status="queued"))
        return self.resume(progress)


def stored_original(services: Services, doc: Document) -> Path | None:
    return stored_file(services.settings.files_dir, doc.sha256) if doc.sha256 else None
