"""Documents as content owners see them: stored files, lookups, listings and their dicts.

Deleting a document is a use case of its own (``app.library.actions.delete_document``):
it removes far more than the rows defined here.
"""

from __future__ import annotations

import errno
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from app.accounts.directory import get_group, get_user
from app.errors import NotFound
from ingest.hashing import sha256_file
from app.db.accounts import User
from app.db.library import Document, IngestJob
from retrieval.schema import PUBLIC_TOKEN, group_token, user_token


class DocumentNotFound(NotFound):
    code = "document_not_found"


@dataclass
class Registration:
    document: Document
    job: IngestJob | None
    outcome: str  # queued | unchanged | regrouped | failed


def document_acl(doc: Document) -> list[str]:
    """The ``acl`` its points carry: its groups' and owner's never-reused uids, ``public`` if it is."""
    tokens = [group_token(g.uid) for g in doc.groups]
    if doc.owner_id is not None:
        owner = doc.owner if doc.owner is not None and doc.owner.id == doc.owner_id else None
        owner = owner or object_session(doc).get(User, doc.owner_id)  # owner_id set, relationship not yet
        tokens.append(user_token(owner.uid))
    if doc.public:
        tokens.append(PUBLIC_TOKEN)
    return sorted(tokens)


def stored_file(files_dir: Path, sha: str) -> Path:
    return files_dir / sha[:2] / sha


def text_file(data_dir: Path, doc_id: str) -> Path:
    return data_dir / "text" / f"{doc_id}.txt"


def store_original(files_dir: Path, path: Path, sha: str) -> Path:
    target = stored_file(files_dir, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        try:
            shutil.copyfile(path, partial)
            partial.replace(target)  # atomic: never a half-copied original
        except OSError:
            partial.unlink(missing_ok=True)  # a full disk must not keep what it half wrote
            raise
    return target


def storage_error(exc: OSError, where: Path) -> str:
    """One line an owner can act on when the data directory cannot take a file."""
    if exc.errno == errno.ENOSPC:
        return f"the disk holding {where} is full: free some space and ingest the file again"
    return f"could not store a copy of the file in {where}: {exc.strerror or exc}"


def find_by_source(session: Session, source_uri: str) -> Document | None:
    return session.scalar(select(Document).where(Document.source_uri == source_uri))


def get_document(session: Session, doc_id: str) -> Document:
    """By full id or by a prefix that names exactly one document (an empty one names none)."""
    doc_id = doc_id.strip()
    doc = session.get(Document, doc_id) if doc_id else None
    if doc is None and doc_id:
        matches = session.scalars(
            select(Document).where(Document.id.startswith(doc_id, autoescape=True)).limit(2)
        ).all()
        if len(matches) > 1:
            raise DocumentNotFound(f"{doc_id!r} starts more than one document id: give more of it")
        doc = matches[0] if matches else None
    if doc is None:
        raise DocumentNotFound(f"no document with id {doc_id!r}")
    return doc


def new_document(source_uri: str, source: str) -> Document:
    return Document(id=uuid.uuid4().hex, source_uri=source_uri, source=source, title=Path(source).stem)


def set_access(session: Session, doc: Document, groups: list[str], owner: str | None, public: bool) -> None:
    doc.groups = [get_group(session, g) for g in groups]
    doc.owner = get_user(session, owner) if owner else None  # the relationship too: payloads read its name
    doc.owner_id = doc.owner.id if doc.owner else None
    doc.public = public


def record_failure(doc: Document, error: Exception | str) -> None:
    """A version failed. A document that readers get in a previous version stays ``ready``.

    The status says what users get (issue 14): the previous version is still
    searched, so the document is ready, and ``error`` says that its last update
    failed and why, until a version succeeds.
    """
    if doc.status == "ready":
        doc.error = f"{UPDATE_FAILED}: {error}"
    else:
        doc.status = "failed"
        doc.error = str(error)


UPDATE_FAILED = "the last update failed and readers still get the previous version"
UPDATE_CANCELLED = "the last update was cancelled and readers still get the previous version"


def record_cancel(doc: Document) -> None:
    """A version's ingestion was cancelled. A document readers get in a previous version stays ``ready``
    (with a note, so it can be queued again); one they never got is ``cancelled``."""
    if doc.status == "ready":
        doc.error = UPDATE_CANCELLED
    else:
        doc.status, doc.error = "cancelled", None


def list_documents(session: Session, status: str | None = None) -> list[Document]:
    query = select(Document).order_by(Document.created_at, Document.source)
    if status:
        query = query.where(Document.status == status)
    return list(session.scalars(query))


def document_summary(doc: Document) -> dict:
    return {
        "id": doc.id,
        "title": doc.title,
        "source": doc.source,
        "status": doc.status,
        "groups": sorted(g.name for g in doc.groups),
        "public": doc.public,
        "owner": doc.owner.name if doc.owner else None,
        "type": doc.doc_type,
        "chunks": doc.chunk_count,
        "pages": doc.page_count,
        "size": doc.size,
        "error": doc.error,
        "updated_at": doc.updated_at.isoformat() if doc.updated_at else None,
    }


def document_detail(doc: Document) -> dict:
    return {
        **document_summary(doc),
        "source_uri": doc.source_uri,
        "sha256": doc.sha256,
        "mime": doc.mime,
        "embed_model": doc.embed_model,
        "created_at": doc.created_at.isoformat() if doc.created_at else None,
        "chunk_list": [
            {"id": c.id, "chunk_no": c.chunk_no, "page": c.page, "heading_path": c.heading_path,
             "char_start": c.char_start, "char_end": c.char_end, "tokens": c.token_count}
            for c in doc.chunks
        ],
    }
