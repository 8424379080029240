"""Running ingestion jobs: parse ahead in a thread, embed several documents per encoder call.

On a CPU the encoder is the physical limit, so the job runner keeps it busy:
the next documents are parsed and chunked in a background thread while the
encoder (onnxruntime, which releases the GIL) works on the current batch, and
the chunks of several small documents share one encoder call (length-sorted,
so little padding). A large document is still written batch by batch, its
progress recorded after each, so a kill mid-document loses at most one batch.

Order of writes for one document, chosen so a SIGKILL at any point is
repaired by running the job again: (1) upsert the new points (ids are uuid5 of
document, chunk number and text, so a re-run overwrites), (2) delete the
document's points of any other version (by ``doc_sha``), (3) flush the index to
disk, (4) replace the chunk rows and mark the document ready in one SQL
transaction. Steps 1-3 go through ``ingest.writer.ChunkWriter``, the one place
that knows the payload layout and the point ids. Step 3 is done once for all the documents an encoder batch
completes, not once per document: a flush writes segments and costs as much as
embedding a chunk.

Cancelling (``app.library.managing.cancel_documents``) marks a queued job
``cancelled`` at once and asks a running one to stop: its runner looks at the
request at each checkpoint (before a document's parse starts, when its parse
ends, before each encoder batch) and stops that document there, taking back
the points this run wrote of its version (the same ``take_back`` a failure
uses), so nothing half-indexed remains. A document whose last batch is already
written finishes: past that point its previous version's points are gone and
stopping would leave less than either version.
"""

from __future__ import annotations

import errno
import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

from sqlalchemy import delete, select

from app.library.access import apply_access, payload_access
from app.library.documents import document_acl, record_cancel, record_failure, storage_error, text_file
from app.library.parse_progress import JobPages
from app.progress import Progress, no_progress
from app.services import Services
from app.db.library import Chunk as ChunkRow
from app.db.base import utcnow
from app.db.library import Document, IngestJob
from ingest.errors import IngestError
from ingest.pipeline import PreparedDocument
from ingest.writer import ChunkWriter, DocumentFields, chunk_point_id
from retrieval.schema import IndexFilter
from retrieval.sparse_stats import document_encoder, keep_average_length

log = logging.getLogger(__name__)

# Documents parsed ahead of the encoder. One encoder batch takes the chunks of about nine
# typical documents, so fewer than that leaves the encoder idle while the batch fills
# (measured: 4 ahead idled it ~0.5 s a batch; 16 ahead, with one flush per batch, ~0.13 s).
# A parsed document is its text and chunks, a few MB even for a thousand-page PDF, so this
# bounds memory at tens of MB.
PARSE_AHEAD = 16


class _Cancelled(Exception):
    """A job whose cancel was asked before its parse started."""


@dataclass
class IngestResult:
    id: str
    path: str
    status: str
    chunks: int
    error: str | None

    def as_dict(self) -> dict:
        return {"id": self.id, "path": self.path, "status": self.status, "chunks": self.chunks, "error": self.error}


@dataclass
class _OpenDocument:
    """A parsed document whose chunks are being embedded and written."""

    job_id: int
    doc_id: str
    prepared: PreparedDocument
    fields: DocumentFields  # the payload every point of the document shares
    texts: list[str]  # what the encoders see, one per chunk
    written: int = 0


def internal_error(exc: Exception) -> str:
    return f"internal error while ingesting: {exc.__class__.__name__}: {exc}"


class JobRunner:
    """Runs queued ingestion jobs to the end, in order, each succeeding or failing on its own."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.batch = max(self.settings.embed_batch_size * 4, 64)

    def run(self, job_ids: Sequence[int], progress: Progress = no_progress) -> list[IngestResult]:
        results: dict[int, IngestResult] = {}
        if not job_ids:
            return []
        try:
            self.services.check_collection(create=True)
            self.writer = ChunkWriter(self.services.index, also_on=[self.settings.data_dir])
        except Exception as exc:  # the index cannot be opened: every job fails with the reason
            return [self._fail(job_id, exc if isinstance(exc, IngestError) else str(exc)) for job_id in job_ids]
        open_docs: list[_OpenDocument] = []

        def finished(job_id: int, result: IngestResult) -> None:
            results[job_id] = result
            progress("ingest", len(results), len(job_ids))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inhouse-parse") as pool:
            for job_id, prepared in self._prepared_in_order(pool, job_ids):
                if isinstance(prepared, _Cancelled) or self._cancel_asked([job_id]):
                    finished(job_id, self._cancel(job_id, None))  # checkpoint: before or after its parse
                    continue
                if isinstance(prepared, Exception):
                    finished(job_id, self._fail(job_id, prepared))
                    continue
                try:
                    open_docs.append(self._open(job_id, prepared))
                except Exception as exc:
                    log.exception("ingest job %s failed", job_id)
                    finished(job_id, self._fail(job_id, internal_error(exc)))
                    continue
                while sum(len(d.texts) - d.written for d in open_docs) >= self.batch:
                    self._embed_batch(open_docs, finished)
            while open_docs:
                self._embed_batch(open_docs, finished)
        self._keep_bm25_average()
        return [results[j] for j in job_ids]

    def _keep_bm25_average(self) -> None:
        """BM25 normalises by the collection's average length: re-measure it (and re-encode) once it moved."""
        try:
            keep_average_length(self.services.index, self.services.bm25)
        except Exception:  # the documents are written and ready; the next run measures again
            log.warning("could not update the collection's BM25 average length", exc_info=True)

    # ---- parsing, ahead of the encoder ---------------------------------
    def _prepared_in_order(
        self, pool: ThreadPoolExecutor, job_ids: Sequence[int]
    ) -> Iterator[tuple[int, PreparedDocument | Exception]]:
        """(job id, PreparedDocument or the exception that stopped it), in job order."""
        from ingest.pipeline import prepare_chunks

        config = self.settings.preparation()
        waiting: deque[tuple[int, Future]] = deque()
        queue = iter(job_ids)

        def submit_next() -> None:
            job_id = next(queue, None)
            if job_id is not None:
                started = self._start(job_id)
                if started is None:  # cancel asked before it started: no parse
                    done: Future = Future()
                    done.set_exception(_Cancelled())
                    waiting.append((job_id, done))
                    return
                stored, source = started
                pages = JobPages(self.services.session, job_id)  # "parsing (page n of m)" on the job row
                waiting.append((job_id, pool.submit(prepare_chunks, stored, config, self.services.encoder, source,
                                                    pages)))

        for _ in range(PARSE_AHEAD):
            submit_next()
        while waiting:
            job_id, future = waiting.popleft()
            submit_next()
            try:
                yield job_id, future.result()
            except _Cancelled as exc:
                yield job_id, exc
            except IngestError as exc:
                yield job_id, exc
            except Exception as exc:  # an unexpected failure must not lose the batch either
                log.exception("ingest job %s failed while parsing", job_id)
                yield job_id, RuntimeError(internal_error(exc))

    def _start(self, job_id: int) -> tuple[Path, str] | None:
        """Mark the job started; None when its cancel was asked already (then it is not parsed)."""
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            if job.cancel_requested_at is not None:
                return None
            job.status, job.started_at, job.error = "running", utcnow(), None  # claimed: attempts counted then
            # "wait": parsed in order behind the documents ahead of it; its parse says "parse" when it starts
            job.stage, job.pages_done, job.pages_total = "wait", 0, 0
            if doc.status != "ready":  # a previous version, if any, is what readers get until this one is done
                doc.status = "processing"
            return Path(doc.stored_path), doc.source

    def _open(self, job_id: int, prepared: PreparedDocument) -> _OpenDocument:
        """Record what parsing learnt about the document and build its shared payload."""
        name = self.settings.embed_model_path.name
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            if prepared.title and doc.title == Path(doc.source).stem:
                doc.title = prepared.title
            doc.doc_type, doc.mime, doc.page_count = prepared.kind.kind, prepared.kind.mime, prepared.page_count
            job.chunks_total, job.chunks_done, job.stage = len(prepared.chunks), 0, "embed"
            created = doc.created_at if doc.created_at.tzinfo else doc.created_at.replace(tzinfo=timezone.utc)
            fields = DocumentFields(
                doc_id=doc.id, doc_sha=doc.sha256, title=doc.title, source=doc.source, acl=document_acl(doc),
                groups=sorted(g.name for g in doc.groups), owner=doc.owner.name if doc.owner else None,
                doc_type=prepared.kind.kind, created_at=created.astimezone(timezone.utc).isoformat(),
                embed_model=name,
            )
            texts = [c.embed_text(doc.title) for c in prepared.chunks]
            return _OpenDocument(job_id, doc.id, prepared, fields, texts)

    # ---- embedding and writing -----------------------------------------
    def _embed_batch(self, open_docs: list[_OpenDocument], finished: Callable[[int, IngestResult], None]) -> None:
        """Embed up to one batch of chunks, taken from the open documents in order, and write them."""
        asked = self._cancel_asked([d.job_id for d in open_docs])  # checkpoint: before each batch
        for doc in [d for d in open_docs if d.job_id in asked]:
            open_docs.remove(doc)
            finished(doc.job_id, self._cancel(doc.job_id, doc))
        if not open_docs:
            return
        slices: list[tuple[_OpenDocument, int, int]] = []
        room = self.batch
        for doc in open_docs:
            if room == 0:
                break
            take = min(room, len(doc.texts) - doc.written)
            slices.append((doc, doc.written, doc.written + take))
            room -= take
        texts = [t for doc, a, b in slices for t in doc.texts[a:b]]
        try:
            dense = self.services.encoder.encode_documents(texts)
            sparse = document_encoder(self.services.index, self.services.bm25).encode_documents(texts)
        except Exception as exc:  # the encoder failed: the documents in this batch fail, the rest go on
            for doc, _, _ in slices:
                self._close_failed(doc, exc, open_docs, finished)
            return
        offset, complete = 0, []
        for doc, a, b in slices:
            vectors, terms, offset = dense[offset : offset + b - a], sparse[offset : offset + b - a], offset + b - a
            try:
                self._write(doc, a, b, vectors, terms)
                if doc.written == len(doc.texts):
                    complete.append(doc)
            except Exception as exc:  # disk full, index closed…: this document fails, the rest go on
                self._close_failed(doc, exc, open_docs, finished)
        if not complete:
            return
        try:
            self.writer.flush()
        except Exception as exc:  # nothing of these documents is durable: they all fail
            for doc in complete:
                self._close_failed(doc, exc, open_docs, finished)
            return
        for doc in complete:
            try:
                result = self._finish(doc)
            except Exception as exc:
                self._close_failed(doc, exc, open_docs, finished)
                continue
            open_docs.remove(doc)
            finished(doc.job_id, result)

    def _close_failed(self, doc: _OpenDocument, exc: Exception, open_docs: list[_OpenDocument],
                      finished: Callable[[int, IngestResult], None]) -> None:
        """Fail a document whose chunks were being embedded or written, and take back its partial version.

        A large document is written batch by batch, so a failure can come after some of the new
        version's points are in the index, next to the previous version's. Removing them leaves the
        previous version as the one searched (when its stale-point delete had not run yet), never a
        mix of two versions; a retry writes the new one whole.
        """
        log.error("ingest job %s failed while embedding or writing", doc.job_id, exc_info=exc)
        open_docs.remove(doc)
        try:
            self.writer.take_back(doc.fields)
        except Exception:  # a full disk may refuse this too; the retry overwrites the same ids
            log.warning("could not remove the partial points of document %s", doc.doc_id, exc_info=True)
        finished(doc.job_id, self._fail(doc.job_id, self._write_error(exc)))

    def _write_error(self, exc: Exception) -> IngestError | str:
        """What the owner reads when the index or database could not take a document."""
        if isinstance(exc, IngestError):
            return exc
        if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc):
            return storage_error(OSError(errno.ENOSPC, "No space left on device"), self.settings.data_dir)
        return internal_error(exc)

    def _write(self, doc: _OpenDocument, start: int, end: int, dense, sparse) -> None:
        self.writer.write(doc.fields, doc.prepared.chunks[start:end], dense, sparse)
        doc.written = end
        with self.services.session() as session:
            job = session.get(IngestJob, doc.job_id)
            job.chunks_done = end
            if end == len(doc.texts):  # every chunk is in: the old version's points go, then the flush
                job.stage = "index"
        if end == len(doc.texts):
            # durable at the batch's flush, before _finish marks the document ready
            self.writer.drop_other_versions(doc.fields, flush=False)

    def _finish(self, open_doc: _OpenDocument) -> IngestResult:
        prepared = open_doc.prepared
        with self.services.session() as session:
            job = session.get(IngestJob, open_doc.job_id)
            doc = session.get(Document, job.document_id)
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == doc.id))
            session.add_all(
                ChunkRow(
                    id=chunk_point_id(doc.id, c), document_id=doc.id, chunk_no=c.chunk_no,
                    page=c.page, heading_path=" > ".join(c.heading_path) or None, char_start=c.char_start,
                    char_end=c.char_end, text_sha=c.text_sha, token_count=c.token_count,
                )
                for c in prepared.chunks
            )
            if payload_access(doc) != {k: getattr(open_doc.fields, k) for k in ("acl", "groups", "owner", "title")}:
                apply_access(self.services.index, doc)  # the access changed while this version was written
            path = text_file(self.settings.data_dir, doc.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(prepared.clean_text, encoding="utf-8")
            doc.status, doc.error, doc.chunk_count = "ready", None, len(prepared.chunks)
            doc.embed_model = self.settings.embed_model_path.name
            job.status, job.stage, job.finished_at = "done", None, utcnow()
            return IngestResult(doc.id, doc.source_uri, "ready", len(prepared.chunks), None)

    # ---- cancelling ----------------------------------------------------
    def _cancel_asked(self, job_ids: Sequence[int]) -> set[int]:
        if not job_ids:
            return set()
        with self.services.session() as session:
            return set(session.scalars(select(IngestJob.id).where(
                IngestJob.id.in_(list(job_ids)), IngestJob.cancel_requested_at.is_not(None))))

    def _cancel(self, job_id: int, open_doc: _OpenDocument | None) -> IngestResult:
        """Stop this job here: take back what was written of its version, then mark it cancelled.

        Points go first and the job row last, so a crash in between leaves a running job that a
        takeover cancels again. An earlier attempt (a worker that died) may have written part of
        this version too: for a document readers do not get in any version, all its points go.
        """
        if open_doc is not None and open_doc.written:
            self.writer.take_back(open_doc.fields)
            self.writer.flush()
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            if job.attempts > 1 and doc.status != "ready":
                self.services.index.delete(IndexFilter(doc_ids=[doc.id]))
                self.writer.flush()
            record_cancel(doc)
            job.status, job.stage, job.finished_at = "cancelled", None, utcnow()
            return IngestResult(doc.id, doc.source_uri, "cancelled", doc.chunk_count, None)

    def _fail(self, job_id: int, error: Exception | str) -> IngestResult:
        with self.services.session() as session:
            job = session.get(IngestJob, job_id)
            doc = session.get(Document, job.document_id)
            record_failure(doc, error)
            job.status, job.error, job.finished_at = "failed", str(error), utcnow()
            return IngestResult(doc.id, doc.source_uri, "failed", doc.chunk_count, str(error))
