"""Tables of what has been ingested and who may read it.

Chunk rows mirror the points in Qdrant (ids and spans, not vectors) so that a
document can be listed, audited and deleted without scanning the index.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


from app.db.accounts import Group, User
from app.db.base import Base, new_uid, utcnow


class DocumentGroup(Base):
    __tablename__ = "document_groups"

    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_document_groups_group_id", "group_id", "document_id"),)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(500))
    source_uri: Mapped[str] = mapped_column(String(2000), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    mime: Mapped[str | None] = mapped_column(String(200))
    doc_type: Mapped[str | None] = mapped_column(String(20), index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    page_count: Mapped[int | None] = mapped_column(Integer)
    embed_model: Mapped[str | None] = mapped_column(String(200))
    stored_path: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()
    groups: Mapped[list[Group]] = relationship(secondary="document_groups")
    chunks: Mapped[list["Chunk"]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Chunk.chunk_no",
    )


# The library list's sorts, each searched from a page's cursor (app.library.paging, migration 0016).
Index("ix_documents_updated_id", Document.updated_at, Document.id)
Index("ix_documents_title_id", func.lower(Document.title), Document.id)
Index("ix_documents_status_title_id", Document.status, func.lower(Document.title), Document.id)
Index("ix_documents_type_title_id", func.coalesce(Document.doc_type, literal_column("''")), func.lower(Document.title),
      Document.id)
Index("ix_documents_chunks_id", Document.chunk_count, Document.id)


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("document_id", "chunk_no"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the Qdrant point id
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    chunk_no: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    heading_path: Mapped[str | None] = mapped_column(String(2000))
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    text_sha: Mapped[str] = mapped_column(String(64))
    token_count: Mapped[int] = mapped_column(Integer, default=0)

    document: Mapped[Document] = relationship(back_populates="chunks")


class IngestJob(Base):
    __tablename__ = "ingest_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(String(40))
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker_id: Mapped[str | None] = mapped_column(String(200))  # who holds it while running (app.library.job_queue)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # refreshed while it runs
    sha256: Mapped[str | None] = mapped_column(String(64))  # the version this job indexes
    size: Mapped[int | None] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(String(200))  # who queued it, when known
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # stop at the next checkpoint
    cancel_requested_by: Mapped[str | None] = mapped_column(String(200))
    pages_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # stage parse/ocr: pages read
    pages_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class IndexCollection(Base):
    """Which embedding model built which collection, so a mismatch is refused."""

    __tablename__ = "index_collections"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    embed_model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    search_profile: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
