"""Who may read a document: as its index points must carry it, and as the database says it now.

Access lives in two places. The database is the truth an owner edits; each
index point's payload carries a copy (``acl``, ``groups``, ``owner``, ``title``)
so the ACL filter runs *inside* the query. Two rules keep the copy from ever
widening access (research/redteam.md L1, W5):

* An access change is written to the document's existing points at once, when
  the document is registered, before and whatever happens to its new version:
  a new version that is empty, corrupt, too large, refused by a busy index or
  killed half-way never leaves the old readers on the old points.
* The last check before a passage reaches a user (``readable_in_database``)
  compares its document with the database's access now, so a payload that is
  stale for any other reason (a crash between the two writes, an index
  restored from an older backup) hides the passage instead of showing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.library.documents import document_acl
from app.db.library import Document
from retrieval.schema import IndexFilter

if TYPE_CHECKING:
    from app.services import Services
    from retrieval.index import VectorIndex

Hit = TypeVar("Hit")


def payload_access(doc: Document) -> dict:
    """The payload fields that say who may read a document and whose it is (every version's points)."""
    return {
        "acl": document_acl(doc),
        "groups": sorted(g.name for g in doc.groups),
        "owner": doc.owner.name if doc.owner else None,
        "title": doc.title,
    }


def apply_access(index: "VectorIndex", doc: Document) -> None:
    """Rewrite the access fields on every point of the document, whichever version they belong to."""
    if index.exists():
        index.set_payload(IndexFilter(doc_ids=[doc.id]), payload_access(doc))


def database_acl(session: Session, doc_ids: Iterable[str]) -> dict[str, set[str]]:
    """Each document's ACL tokens as the database says now; a deleted document is absent."""
    wanted = set(doc_ids)
    if not wanted:
        return {}
    docs = session.scalars(
        select(Document).where(Document.id.in_(wanted)).options(selectinload(Document.groups))
    )
    return {d.id: set(document_acl(d)) for d in docs}


def readable_in_database(services: "Services", hits: Sequence[Hit], acl_tokens: list[str]) -> list[Hit]:
    """Only the hits whose document the database lets these tokens read now (fails closed)."""
    if not hits:
        return []
    with services.session() as session:
        acl = database_acl(session, (h.doc_id for h in hits))
    allowed = set(acl_tokens)
    return [h for h in hits if acl.get(h.doc_id, set()) & allowed]
