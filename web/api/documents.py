"""``GET /api/v1/documents`` and ``GET /api/v1/documents/{id}``: only documents the owner may read now.

A document the token's owner may not read is 404, exactly like one that does
not exist, so the API confirms nothing about it (not even that the id is real).
"""

from __future__ import annotations

from fastapi import APIRouter

from app.answering.views import doc_readable
from app.accounts.directory import acl_tokens
from app.library.documents import DocumentNotFound, document_summary, list_documents
from app.shapes import DocumentShape, DocumentsShape
from app.db.accounts import User
from app.db.library import Document
from web.api.deps import DocumentsReader
from web.api.errors import API_ERRORS
from web.deps import ServicesDep

router = APIRouter(prefix="/api/v1", tags=["documents"], responses=API_ERRORS)


@router.get("/documents", response_model=DocumentsShape, summary="The documents you may read")
def documents(services: ServicesDep, user: DocumentsReader) -> DocumentsShape:
    with services.session() as session:
        tokens = set(acl_tokens(session, session.get(User, user.id)))
        return DocumentsShape.of([d for d in list_documents(session) if doc_readable(d, tokens)])


@router.get("/documents/{doc_id}", response_model=DocumentShape, summary="One document you may read")
def document(doc_id: str, services: ServicesDep, user: DocumentsReader) -> DocumentShape:
    with services.session() as session:
        tokens = set(acl_tokens(session, session.get(User, user.id)))
        doc = session.get(Document, doc_id)  # the full id only: a prefix search would probe for ids
        if not doc_readable(doc, tokens):
            raise DocumentNotFound(f"no document with id {doc_id!r}")
        return DocumentShape.model_validate(document_summary(doc))
