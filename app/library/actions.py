"""Document use cases: each write is one function that takes the acting `Actor` and does all of its work.

Ingesting (which is also how a document is regrouped), resuming, re-indexing
and deleting are here. The CLI calls these today and the web and API will call the same functions, so
a rule written here holds for every front end; it is also the one place each
write's audit record will go.

Deleting a document removes every trace of it, because forgetting a document
on request is a promise of this product: its index points, the stored original
(unless another document has the same bytes), its clean text, its chunk and
job rows, every stored answer that showed one of its passages (with those
answers' passages), and readers' feedback on it or on those answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from app.accounts.actor import Actor
from app.answering.service import delete_answers_for_document
from app.library.documents import document_summary, get_document, text_file
from app.evaluation.org_data import forget_document as forget_document_in_eval
from app.answering.feedback import delete_feedback_for_document
from app.library.ingestion import IngestResult, IngestService
from app.library.erasure import forget_original, scrub_database, sweep_originals
from app.progress import Progress, no_progress
from app.services import Services
from retrieval.schema import IndexFilter


@dataclass(frozen=True)
class DeletedDocument:
    summary: dict  # the document as it was (``document_summary``)
    answers: int  # stored answers removed with it
    judgments: int  # feedback judgments removed with it


def delete_document(services: Services, actor: Actor, doc_id: str) -> DeletedDocument:
    """Delete a document everywhere. Index first, files next, rows last, so a crash part-way
    leaves the document row to retry the delete from; then what still holds the deleted
    bytes on disk is rewritten (index segments, SQLite's log) (issue 15, W2)."""
    with services.session() as session:
        doc = get_document(session, doc_id)
        summary = document_summary(doc)
        services.index.delete(IndexFilter(doc_ids=[doc.id]))
        forget_original(session, services.settings.files_dir, doc.sha256, doc.id)
        text_file(services.settings.data_dir, doc.id).unlink(missing_ok=True)
        answer_ids = delete_answers_for_document(session, doc.id)
        judgments = delete_feedback_for_document(session, services.settings.collection, doc.id, answer_ids)
        session.delete(doc)  # its chunk rows, job rows and group links go with it (cascades)
    forget_document_in_eval(services, summary["id"])  # eval collections and caches built before W1's fix
    with services.session() as session:
        sweep_originals(session, services.settings.files_dir)  # earlier versions' originals
    services.index.compact()  # deleted points are only marked deleted until their segments are rewritten
    scrub_database(services.engine)
    return DeletedDocument(summary, len(answer_ids), judgments)


def ingest_paths(
    services: Services, actor: Actor, paths: Iterable[Path], groups: list[str], owner: str | None = None,
    public: bool = False, progress: Progress = no_progress,
) -> list[IngestResult]:
    """Register files (or folders) with this access and index them; unchanged files only get the access.

    Registering an unchanged file with other groups is how a document is regrouped: its
    points' ``acl`` is rewritten at once, whatever happens to a new version.
    """
    ingest = IngestService(services, requested_by=actor.name)
    return ingest.ingest_paths(paths, groups, owner, public, progress=progress)


def resume_jobs(services: Services, actor: Actor, progress: Progress = no_progress) -> list[IngestResult]:
    """Finish the ingestion jobs an earlier run left queued or running."""
    return IngestService(services).resume(progress)


def reindex(services: Services, actor: Actor, progress: Progress = no_progress) -> list[IngestResult]:
    """Rebuild the index from the stored originals with the current embedding model."""
    return IngestService(services).reindex(progress)
