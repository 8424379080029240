"""What a content owner does to one document from the library: regroup, retry, cancel, delete.

Each is a use case that takes the acting ``Actor`` and first checks, in the same
transaction, that this user may act on the document (``app.library.scope``):
a document they cannot read is "not found", one they read but do not manage is
"forbidden". Regrouping goes through the registration's own access path
(``set_access`` then ``apply_access`` on every version's points), so the index
payload is rewritten before the request returns and the next question already
follows the new groups.

Cancelling takes a batch (the documents of one upload) or one document: every
document is checked first, so a batch holding one the user may not manage is
refused whole and nothing is cancelled. A queued job is cancelled at once (one
``UPDATE … WHERE status = 'queued'``, so a worker claiming it at that moment
wins or loses cleanly); a running one is asked to stop and its runner does at
its next checkpoint (``app.library.ingest_jobs``), taking back what it wrote.
"""

from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass

from sqlalchemy import select, update

from app.accounts.actor import Actor
from app.library.access import apply_access
from app.library.documents import document_summary, record_cancel, set_access
from app.errors import Conflict, Invalid, Unavailable
from app.library.actions import DeletedDocument, delete_document
from app.library.scope import acting_user, check_grant, is_admin, managed_document
from app.services import Services
from app.db.base import utcnow
from app.db.library import IngestJob
from retrieval.schema import IndexFilter

MAX_BATCH = 5000  # documents in one cancel request


def change_access(
    services: Services, actor: Actor, doc_id: str, groups: list[str], owner: str | None, public: bool,
) -> dict:
    """New groups (and owner, and for an administrator ``public``) for a document, in the index at once.

    If the index cannot take the new access, nothing changes (the transaction rolls back) and
    the user is told: the points never say something the database does not.
    """
    with services.session() as session:
        user = acting_user(session, actor)
        doc = managed_document(session, user, doc_id)
        public = public if is_admin(user) else False
        grant = check_grant(session, user, groups, owner, public)
        if not is_admin(user):
            public = doc.public  # an owner neither makes a document public nor takes that away
        set_access(session, doc, grant.groups, grant.owner, public)
        session.flush()
        try:
            apply_access(services.index, doc)
        except Exception as exc:  # busy or broken index: keep the access it has (the rollback), and say so
            raise Unavailable(f"the index could not take the new access, so it was not changed: {exc}") from exc
        return document_summary(doc)


def retry_document(services: Services, actor: Actor, doc_id: str) -> int:
    """Queue a failed document's stored original again; the job id is returned."""
    with services.session() as session:
        doc = managed_document(session, acting_user(session, actor), doc_id)
        if doc.error is None and doc.status not in ("failed", "cancelled"):
            raise Conflict("this document did not fail and was not cancelled: there is nothing to retry")
        pending = session.scalar(
            select(IngestJob).where(IngestJob.document_id == doc.id, IngestJob.status.in_(("queued", "running"))))
        if pending is not None:
            raise Conflict("this document is already queued")
        if not doc.stored_path or not Path(doc.stored_path).exists():
            raise Invalid("the original is not stored: upload the file again")
        if doc.status != "ready":
            doc.status, doc.error = "queued", None
        job = IngestJob(document_id=doc.id, status="queued", sha256=doc.sha256, size=doc.size,
                        requested_by=actor.name)
        session.add(job)
        session.flush()
        return job.id


def delete_managed(services: Services, actor: Actor, doc_id: str) -> DeletedDocument:
    """Delete a document the actor manages, everywhere (``delete_document`` does the erasing)."""
    with services.session() as session:
        doc = managed_document(session, acting_user(session, actor), doc_id)
        doc_id = doc.id
    return delete_document(services, actor, doc_id)


@dataclass(frozen=True)
class Cancelled:
    cancelled: list[str]  # documents whose queued job was cancelled now
    stopping: list[str]  # documents whose running job stops at its next checkpoint
    idle: list[str]  # documents with nothing queued or running


def cancel_documents(services: Services, actor: Actor, doc_ids: list[str]) -> Cancelled:
    """Cancel the queued or running ingestion of these documents, after checking the actor manages every one."""
    ids = list(dict.fromkeys(d for d in doc_ids if d))
    if not ids:
        raise Invalid("no document to cancel")
    if len(ids) > MAX_BATCH:
        raise Invalid(f"at most {MAX_BATCH:,} documents in one cancel")
    who = actor.name
    cancelled, stopping, idle = [], [], []
    with services.session() as session:
        user = acting_user(session, actor)
        docs = [managed_document(session, user, d) for d in ids]  # not found / forbidden before any change
        for doc in docs:
            job = session.scalar(select(IngestJob).where(
                IngestJob.document_id == doc.id, IngestJob.status.in_(("queued", "running")))
                .order_by(IngestJob.id.desc()).limit(1))
            if job is None:
                idle.append(doc.id)
                continue
            now = utcnow()
            took = session.execute(
                update(IngestJob).where(IngestJob.id == job.id, IngestJob.status == "queued")
                .values(status="cancelled", finished_at=now, cancel_requested_at=now, cancel_requested_by=who)
                .execution_options(synchronize_session=False)).rowcount
            if took:
                if job.attempts and doc.status != "ready":  # a worker that died may have written part of it
                    try:
                        services.index.delete(IndexFilter(doc_ids=[doc.id]))
                    except Exception as exc:
                        raise Unavailable(f"the index could not take back the partial document: {exc}") from exc
                record_cancel(doc)
                cancelled.append(doc.id)
                continue
            session.execute(
                update(IngestJob).where(IngestJob.id == job.id, IngestJob.status == "running",
                                        IngestJob.cancel_requested_at.is_(None))
                .values(cancel_requested_at=now, cancel_requested_by=who)
                .execution_options(synchronize_session=False))
            stopping.append(doc.id)
    return Cancelled(cancelled, stopping, idle)
