"""Files in, searchable chunks out: registration, jobs, crash-safe indexing.

Order of writes for one job, chosen so a SIGKILL at any point is repaired by
running the job again: (1) upsert the new points (ids are uuid5 of document,
chunk number and text, so a re-run overwrites), (2) delete the document's
points of any other version (by ``doc_sha``), (3) replace the chunk rows and
mark the document ready in one SQL transaction. Unfinished jobs are resumed on
the next start.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import delete, select

from app.documents import (
    Registration,
    document_acl,
    find_by_source,
    new_document,
    record_failure,
    set_access,
    sha256_of,
    store_original,
    stored_file,
    text_file,
)
from app.services import Services
from app.tables import Chunk as ChunkRow
from app.tables import Document, IngestJob, utcnow
from ingest.errors import FileTooLargeError, IngestError, PathOutsideRootError
from retrieval.schema import ChunkPoint, IndexFilter, point_id

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _quiet(stage: str, done: int, total: int) -> None:
    pass


@dataclass
class IngestResult:
    id: str
    path: str
    status: str
    chunks: int
    error: str | None

    def as_dict(self) -> dict:
        return {"id": self.id, "path": self.path, "status": self.status, "chunks": self.chunks, "error": self.error}


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
                sha = sha256_of(resolved)
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
            doc.stored_path = str(store_original(self.settings.files_dir, resolved, sha))
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

    def run_job(self, job_id: int, progress: Progress = _quiet) -> IngestResult:
        from ingest.pipeline import prepare_chunks

        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            job.status, job.started_at, job.attempts, job.error = "running", utcnow(), job.attempts + 1, None
            doc.status = "processing"
            stored, source = Path(doc.stored_path), doc.source
        try:
            self.services.check_collection(create=True)
            progress("parse", 0, 1)
            prepared = prepare_chunks(stored, self.settings, self.services.encoder, name=source)
            self._write_points(job_id, prepared, progress)
        except IngestError as exc:
            return self._fail(job_id, exc)
        except Exception as exc:  # an unexpected failure must not lose the batch either
            log.exception("ingest job %s failed", job_id)
            return self._fail(job_id, f"internal error while ingesting: {exc.__class__.__name__}: {exc}")
        return self._finish(job_id, prepared)

    def _write_points(self, job_id: int, prepared, progress: Progress) -> None:
        s, services = self.settings, self.services
        with services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            if prepared.title and doc.title == Path(doc.source).stem:
                doc.title = prepared.title
            doc.doc_type, doc.mime, doc.page_count = prepared.kind.kind, prepared.kind.mime, prepared.page_count
            job.chunks_total, job.stage = len(prepared.chunks), "embed"
            base = {
                "doc_id": doc.id,
                "doc_sha": doc.sha256,
                "title": doc.title,
                "source": doc.source,
                "acl": document_acl(doc),
                "groups": sorted(g.name for g in doc.groups),
                "owner": doc.owner.name if doc.owner else None,
                "doc_type": prepared.kind.kind,
                "created_at": doc.created_at.astimezone(timezone.utc).isoformat()
                if doc.created_at.tzinfo else doc.created_at.replace(tzinfo=timezone.utc).isoformat(),
                "embed_model": s.embed_model_path.name,
            }
            doc_id, title = doc.id, doc.title
        total = len(prepared.chunks)
        batch_size = max(s.embed_batch_size * 4, 64)
        for start in range(0, total, batch_size):
            batch = prepared.chunks[start : start + batch_size]
            texts = [c.embed_text(title) for c in batch]
            dense = services.encoder.encode_documents(texts)
            sparse = services.bm25.encode_documents(texts)
            points = [
                ChunkPoint(
                    id=point_id(doc_id, c.chunk_no, c.text_sha),
                    dense=dense[i].tolist(),
                    sparse=sparse[i],
                    payload={
                        **base, "chunk_no": c.chunk_no, "text": c.text, "page": c.page,
                        "heading_path": list(c.heading_path), "char_start": c.char_start, "char_end": c.char_end,
                    },
                )
                for i, c in enumerate(batch)
            ]
            services.index.upsert(points)
            with services.session() as session:
                session.get(IngestJob, job_id).chunks_done = start + len(batch)
            progress("embed", start + len(batch), total)
        services.index.delete(IndexFilter(doc_ids=[doc_id], exclude_doc_sha=base["doc_sha"]))

    def _finish(self, job_id: int, prepared) -> IngestResult:
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == doc.id))
            for c in prepared.chunks:
                session.add(
                    ChunkRow(
                        id=point_id(doc.id, c.chunk_no, c.text_sha), document_id=doc.id, chunk_no=c.chunk_no,
                        page=c.page, heading_path=" > ".join(c.heading_path) or None, char_start=c.char_start,
                        char_end=c.char_end, text_sha=c.text_sha, token_count=c.token_count,
                    )
                )
            path = text_file(self.settings.data_dir, doc.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(prepared.clean_text, encoding="utf-8")
            doc.status, doc.error, doc.chunk_count = "ready", None, len(prepared.chunks)
            doc.embed_model = self.settings.embed_model_path.name
            job.status, job.stage, job.finished_at = "done", None, utcnow()
            return IngestResult(doc.id, doc.source_uri, "ready", len(prepared.chunks), None)

    def _fail(self, job_id: int, error: Exception | str) -> IngestResult:
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            record_failure(doc, error)
            job.status, job.error, job.finished_at = "failed", str(error), utcnow()
            return IngestResult(doc.id, doc.source_uri, "failed", doc.chunk_count, str(error))

    # ---- the whole flow -----------------------------------------------
    def resume(self, progress: Progress = _quiet) -> list[IngestResult]:
        """Finish jobs that a crash (or a kill) left queued or running."""
        return [self.run_job(job_id, progress) for job_id in self.pending_jobs()]

    def ingest_paths(
        self, paths: Iterable[Path], groups: list[str], owner: str | None = None, public: bool = False,
        progress: Progress = _quiet, on_file: Callable[[Path], None] | None = None,
    ) -> list[IngestResult]:
        results: list[IngestResult] = []
        for path, root in expand_paths(paths):
            if on_file:
                on_file(path)
            reg = self.register(path, root, groups, owner, public)
            if reg.job is None:
                doc = reg.document
                status = "failed" if reg.outcome == "failed" else reg.outcome
                results.append(IngestResult(doc.id, str(path), status, doc.chunk_count, doc.error))
                continue
            result = self.run_job(reg.job.id, progress)
            result.path = str(path)
            results.append(result)
        return results

    def reindex(self, progress: Progress = _quiet) -> list[IngestResult]:
        """Rebuild the collection from the stored originals with the current embedding model."""
        from app.tables import IndexCollection

        self.services.index.drop()
        self.services.__dict__.pop("index", None)
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
